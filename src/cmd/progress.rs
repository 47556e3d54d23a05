//! The progress line `tuntrace read` shows on a terminal while it reads a
//! large file: `<file>: NN% (N packets)`, erased when the file is done. The
//! reader tells it how far it has got every few MiB ([`Progress`]), which
//! only adds to two counters; indicatif's ticker thread draws the line
//! twice a second, so nothing is drawn from the reading threads.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::sources::file::Progress;

const REDRAW_EVERY: Duration = Duration::from_millis(500);

pub struct FileProgress {
    bar: ProgressBar,
    /// Frames delivered so far, over both threads of a split read.
    frames: Arc<AtomicU64>,
}

impl FileProgress {
    /// A line for the file `name` of `size` bytes, on stderr (hidden when
    /// stderr is not a terminal).
    pub fn new(name: String, size: u64) -> Self {
        let frames = Arc::new(AtomicU64::new(0));
        let shown = Arc::clone(&frames);
        let packets = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", shown.load(Relaxed));
        };
        let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{prefix}: {percent}% ({packets} packets)")
        {
            bar.set_style(style.with_key("packets", packets));
        }
        bar.set_prefix(name);
        bar.enable_steady_tick(REDRAW_EVERY);
        FileProgress { bar, frames }
    }

    /// Erases the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for FileProgress {
    fn advance(&self, bytes: u64, frames: u64) {
        self.frames.fetch_add(frames, Relaxed);
        // With the ticker running, this only moves the position.
        self.bar.inc(bytes);
    }
}
