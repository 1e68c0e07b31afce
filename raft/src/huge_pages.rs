//! Transparent huge pages, turned off for the process.
//!
//! With the kernel's THP mode at `madvise` (Debian's default), mimalloc asks
//! for huge pages on its arenas. A first touch of such memory then faults in
//! and zeroes a whole 2 MiB page at once. The Raft log's sled database
//! allocates a fresh 512 KiB I/O buffer for every flush, and under group
//! commit it flushes hundreds of times a second per node, so memory is
//! released and faulted in again all the time: under `perf`, zeroing huge
//! pages (`clear_page_erms`, in the page-fault path of allocations) took
//! 10–16% of all CPU samples of a 3-replica group at 64 clients; with huge
//! pages off it takes 0.9% (`docs/benchmarks.md`).
//!
//! The cost is TLB reach for very large in-memory data sets, which is small
//! next to that.

/// Turns transparent huge pages off for this process and its children
/// (`prctl(PR_SET_THP_DISABLE)`); call first thing in `main`. Returns
/// whether the kernel agreed (always `false` off Linux).
pub fn disable_transparent_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and
        // touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_reports_huge_pages_disabled_afterwards() {
        assert!(super::disable_transparent_huge_pages());
        // SAFETY: as above; PR_GET_THP_DISABLE reads the flag.
        let flag = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(flag, 1);
    }
}
