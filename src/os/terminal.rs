//! The terminal's width, for the live view.

/// Columns of the terminal on `fd`, or 100 when it is not one.
pub fn width(fd: i32) -> usize {
    // SAFETY: TIOCGWINSZ writes one winsize into `ws`.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        100
    }
}
