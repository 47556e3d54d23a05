//! How freed memory goes back to the system, for the commands that run for
//! hours (`live`, `audit live`, `probe`).
//!
//! glibc serves an allocation of 128 KiB or more with a mapping of its own,
//! returned to the system when freed, but raises that threshold (up to
//! 32 MiB) each time such a mapping is freed. After the first interval the
//! flow tables and reports of every later one then come from the heap,
//! whose freed pages stay with the process. Fixing the threshold keeps the
//! daemon's peak RSS down under a flood of pairs: 51.8-52.0 MiB instead of
//! 58.3-59.2 MiB (`cargo test --release --test faults_lab flood`).

/// The threshold glibc starts with.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Keeps large allocations in mappings of their own, freed back to the
/// system (glibc only; elsewhere the allocator's own policy stays).
pub fn return_large_frees_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator, under its lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
