//! The allocator every fuzz target runs on: the system one, counting. Built
//! without a sanitizer, libFuzzer's `-malloc_limit_mb` sees no allocation
//! (its malloc hooks come with the sanitizer runtimes), so the limit is kept
//! here: one allocation above [`MAX_ONE`] aborts the run (libFuzzer saves
//! the input as a crash), and [`peak_since`] lets a target bound what one
//! input made it hold.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The largest single allocation a target may ask for (as `-malloc_limit_mb=256`).
pub const MAX_ONE: usize = 256 << 20;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

pub struct Counting;

impl Counting {
    fn add(size: usize) {
        if size > MAX_ONE {
            // No formatting: nothing here may allocate.
            let _ = std::io::stderr().write_all(b"fuzz: one allocation over 256 MiB\n");
            std::process::abort();
        }
        let now = CURRENT.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(now, Relaxed);
    }
}

// SAFETY: every call goes to `System` unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::add(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::add(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::add(new_size);
        CURRENT.fetch_sub(layout.size(), Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Starts a measurement: the bytes held now.
pub fn mark() -> usize {
    let now = CURRENT.load(Relaxed);
    PEAK.store(now, Relaxed);
    now
}

/// The most held above `mark` since [`mark`] returned it (this thread's
/// work and any other thread's alike).
pub fn peak_since(mark: usize) -> usize {
    PEAK.load(Relaxed).saturating_sub(mark)
}
