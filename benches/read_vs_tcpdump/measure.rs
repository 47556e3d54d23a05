//! Wall time and peak RSS of a child process.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// This process's resident set, in KiB (children inherit it as their floor).
pub fn own_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Wall time and peak RSS (KiB) of one run, output discarded. The child is
/// reaped with wait4(2) (for its rusage), not `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn measure(argv: &[&str]) -> (Duration, u64) {
    let start = Instant::now();
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (is it installed?)", argv[0]));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child by pid; pointers are valid locals.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert!(rc > 0 && libc::WIFEXITED(status), "{} failed", argv[0]);
    (elapsed, usage.ru_maxrss as u64)
}

/// Drops `path` from the page cache and reads it back in one sequential
/// pass: the cache then holds it as a fresh read leaves it (readahead's
/// large folios), not as it was written or partly evicted and read back.
pub fn recache(path: &str) {
    let file = File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: advises on our own open descriptor; no memory is passed.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise({path})");
    drop(file);
    let (_, _) = measure(&["cat", path]);
}
