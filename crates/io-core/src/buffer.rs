//! Memory for the weight bytes of one load, faulted in ahead of the reads that fill it.
//!
//! Loading a large model into a fresh process is mostly the kernel handing out fresh pages: a
//! 256 MiB model is some 65,000 page faults, which on a small machine take longer than receiving
//! the bytes. A load that knows how many weight bytes are coming makes one [`ShardMemory`] for
//! them: one zeroed allocation (fresh pages from the kernel, not written yet), carved front to back
//! into one buffer per shard, while on Linux a helper thread asks the kernel to populate it
//! (`MADV_POPULATE_WRITE`, Linux 5.14+: no fault per page, no write from user space) ahead of the
//! shard reads. The faults then happen on the other core, overlapped with the network or file I/O,
//! instead of one at a time inside the copy of each shard. The helper stays at most
//! [`PREFAULT_AHEAD`] bytes ahead of the buffers handed out, so a manifest that announces more than
//! arrives commits no more memory than that; and the allocation itself is fallible (a manifest
//! that announces more than the machine has gets no shared memory, not an abort).
//!
//! Unsafe code is limited to the zeroed allocation (fallible, unlike `vec![0; n]`, and unlike
//! `try_reserve` + `resize` it writes no byte, so the pages stay untouched) and the `madvise` call,
//! which reads or writes no memory. Elsewhere (older kernels, other systems, wasm32) the same API
//! simply hands out zeroed buffers.
//!
//! Huge pages (`MADV_HUGEPAGE`) were measured and left out: where a hypervisor takes free 2 MiB
//! blocks back from the guest (free page reporting), a fresh process paid 2-3x more for them than
//! for small pages (BENCHMARKS.md, http section).

use std::io::{self, Read};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};

/// Memory for the shards of one load: [`take`](Self::take) carves buffers from it in order.
///
/// ```
/// let memory = io_core::buffer::ShardMemory::new(10);
/// let mut a = memory.take(6).unwrap();
/// a.copy_from_slice(b"abcdef");
/// let mut b = memory.take(8).unwrap(); // more than is left: a buffer of its own
/// b.copy_from_slice(b"ghijklmn");
/// assert_eq!(&a.freeze()[..], b"abcdef");
/// assert_eq!(&b.freeze()[..], b"ghijklmn");
/// ```
pub struct ShardMemory {
    rest: Mutex<BytesMut>,
    #[cfg(target_os = "linux")]
    prefault: Option<linux::Prefault>,
}

/// How far the helper thread populates ahead of the bytes handed out by [`ShardMemory::take`].
pub const PREFAULT_AHEAD: usize = 64 << 20;

impl ShardMemory {
    /// Memory for `total` bytes, populated ahead on a helper thread when it is large (Linux). When
    /// `total` bytes cannot be allocated, every [`take`](Self::take) gets a buffer of its own.
    pub fn new(total: usize) -> Self {
        let Some(rest) = try_zeroed(total) else {
            return ShardMemory::none();
        };
        #[cfg(test)]
        if total > 0 {
            SHARED_ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        #[cfg(target_os = "linux")]
        let (rest, prefault) = linux::Prefault::start(rest);
        ShardMemory {
            rest: Mutex::new(rest),
            #[cfg(target_os = "linux")]
            prefault,
        }
    }

    /// No shared memory: every [`take`](Self::take) is a buffer of its own.
    pub fn none() -> Self {
        ShardMemory {
            rest: Mutex::new(BytesMut::new()),
            #[cfg(target_os = "linux")]
            prefault: None,
        }
    }

    /// A zeroed buffer of `len` bytes: the next `len` bytes of this memory, or a buffer of its own
    /// when fewer are left. `None` when `len` bytes cannot be allocated.
    pub fn take(&self, len: usize) -> Option<BytesMut> {
        let mut rest = self.rest.lock().unwrap_or_else(|p| p.into_inner());
        if len > rest.len() {
            return try_zeroed(len);
        }
        let piece = rest.split_to(len);
        #[cfg(target_os = "linux")]
        if let Some(p) = &self.prefault {
            p.handed_out(len);
        }
        Some(piece)
    }

    /// Reads `reader` to its end into the next `expected` bytes of this memory (a file of that
    /// size); a shorter or longer input is read completely all the same.
    pub fn read_to_end(&self, reader: &mut impl Read, expected: usize) -> io::Result<Bytes> {
        let mut buf = self.take(expected).ok_or_else(|| {
            io::Error::new(io::ErrorKind::OutOfMemory, format!("cannot allocate {expected} bytes to read into"))
        })?;
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(filled);
        if filled == expected {
            let mut more = Vec::new();
            reader.read_to_end(&mut more)?;
            buf.extend_from_slice(&more);
        }
        Ok(buf.freeze())
    }
}

#[cfg(test)]
thread_local! {
    static SHARED_ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many non-empty [`ShardMemory`]s this thread has allocated (for tests).
#[cfg(test)]
pub(crate) fn shared_allocations() -> usize {
    SHARED_ALLOCATIONS.with(|n| n.get())
}

/// `len` zero bytes from the allocator's zeroed allocation (fresh pages, not written), or `None`.
fn try_zeroed(len: usize) -> Option<BytesMut> {
    if len == 0 {
        return Some(BytesMut::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: the layout has a non-zero size; a null result is handled.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `len` bytes (align 1),
    // all of them initialized (zero); the Vec takes ownership.
    let vec = unsafe { Vec::from_raw_parts(ptr, len, len) };
    // Vec -> Bytes -> BytesMut keeps the allocation (no copy: the Bytes is unique).
    Some(BytesMut::from(Bytes::from(vec)))
}

impl std::fmt::Debug for ShardMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let left = self.rest.lock().map_or(0, |r| r.len());
        f.debug_struct("ShardMemory").field("left", &left).finish()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread::Thread;
    use std::time::Duration;

    use bytes::BytesMut;

    /// Below this many bytes the helper thread is not worth starting.
    const PREFAULT_MIN: usize = 4 << 20;

    /// Populate this much per call, so that the helper notices soon when it should wait or stop.
    const STEP: usize = 2 << 20;

    /// A helper thread populating a range front to back, at most [`PREFAULT_AHEAD`](super::PREFAULT_AHEAD)
    /// bytes ahead of what was handed out; dropping it tells the thread to stop.
    pub(super) struct Prefault {
        shared: Arc<Shared>,
        thread: Option<Thread>,
    }

    struct Shared {
        stop: AtomicBool,
        handed_out: AtomicUsize,
    }

    impl Prefault {
        /// Starts populating `memory` when it is large enough to be worth a thread.
        pub(super) fn start(mut memory: BytesMut) -> (BytesMut, Option<Prefault>) {
            let len = memory.len();
            if len < PREFAULT_MIN {
                return (memory, None);
            }
            // An empty view of the same allocation keeps it alive while the helper works on it.
            let keep = memory.split_off(len);
            let prefault = Prefault::spawn(memory.as_ptr() as usize, len, keep);
            (memory, Some(prefault))
        }

        /// Populates `len` bytes from address `start`, which `keep` keeps allocated.
        fn spawn(start: usize, len: usize, keep: BytesMut) -> Self {
            let shared = Arc::new(Shared { stop: AtomicBool::new(false), handed_out: AtomicUsize::new(0) });
            let mine = shared.clone();
            let spawned = std::thread::Builder::new().name("io-prefault".into()).spawn(move || {
                let _keep = keep;
                let page = page_size();
                // Whole pages only (madvise wants page-aligned ranges); the partial pages at either
                // end are faulted in by their writers.
                let mut at = start.next_multiple_of(page);
                let end = (start + len) & !(page - 1);
                while at < end && !mine.stop.load(Ordering::Relaxed) {
                    let ahead = mine.handed_out.load(Ordering::Relaxed) + super::PREFAULT_AHEAD;
                    let allowed = (start + ahead) & !(page - 1);
                    if at >= allowed {
                        std::thread::park_timeout(Duration::from_millis(50));
                        continue;
                    }
                    let n = STEP.min(end - at).min(allowed - at);
                    // SAFETY: MADV_POPULATE_WRITE only faults in the pages of a range of our own live
                    // allocation (kept by `_keep`); it reads and writes none of their bytes.
                    if unsafe { libc::madvise(at as *mut libc::c_void, n, libc::MADV_POPULATE_WRITE) } != 0 {
                        // Linux < 5.14 (EINVAL) or no memory: the writers fault the pages in themselves.
                        return;
                    }
                    at += n;
                }
            });
            // Without the thread the memory is faulted in by its writers, as usual.
            let thread = spawned.ok().map(|h| h.thread().clone());
            Prefault { shared, thread }
        }

        /// `len` more bytes were handed out: the helper may go further.
        pub(super) fn handed_out(&self, len: usize) {
            self.shared.handed_out.fetch_add(len, Ordering::Relaxed);
            if let Some(t) = &self.thread {
                t.unpark();
            }
        }
    }

    impl Drop for Prefault {
        fn drop(&mut self) {
            self.shared.stop.store(true, Ordering::Relaxed);
            if let Some(t) = &self.thread {
                t.unpark();
            }
        }
    }

    fn page_size() -> usize {
        // SAFETY: sysconf only reads a system constant.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).ok().filter(|n| n.is_power_of_two()).unwrap_or(4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn takes_are_zeroed_disjoint_and_in_order() {
        let memory = ShardMemory::new(16 * MIB + 5);
        let data = pattern(16 * MIB + 5);
        let pieces: Vec<Bytes> = data
            .chunks(4 * MIB)
            .map(|chunk| {
                let mut b = memory.take(chunk.len()).unwrap();
                assert!(b.iter().all(|&x| x == 0), "a fresh buffer is zeroed");
                b.copy_from_slice(chunk);
                b.freeze()
            })
            .collect();
        // Carved front to back from one allocation.
        for w in pieces.windows(2) {
            assert_eq!(w[0].as_ptr() as usize + w[0].len(), w[1].as_ptr() as usize);
        }
        assert_eq!(pieces.concat(), data);
        // Used up: the next buffer is its own, and still zeroed.
        let extra = memory.take(MIB).unwrap();
        assert_eq!(extra.len(), MIB);
        assert!(extra.iter().all(|&x| x == 0));
    }

    #[test]
    fn memory_outlives_the_pool_while_its_buffers_live() {
        let memory = ShardMemory::new(8 * MIB);
        let mut a = memory.take(8 * MIB).unwrap();
        drop(memory);
        a.copy_from_slice(&pattern(8 * MIB));
        assert_eq!(a.freeze(), pattern(8 * MIB));
    }

    #[test]
    fn read_to_end_reads_exact_short_and_long_inputs() {
        let memory = ShardMemory::new(32 * MIB);
        for (len, expected) in [(4 * MIB, 4 * MIB), (3 * MIB, 4 * MIB), (5 * MIB + 1, 4 * MIB), (10, 4 * MIB), (10, 0)]
        {
            let data = pattern(len);
            // A reader that returns odd-sized pieces, like a socket or pipe.
            let mut reader = std::io::Read::chain(&data[..len / 3], &data[len / 3..]);
            let b = memory.read_to_end(&mut reader, expected).unwrap();
            assert_eq!(b, data, "len {len} expected {expected}");
        }
    }

    #[test]
    fn read_errors_are_returned() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        let err = ShardMemory::new(4 * MIB).read_to_end(&mut Failing, 4 * MIB).unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
    }

    #[test]
    fn memory_that_cannot_be_had_is_none_not_an_abort() {
        let memory = ShardMemory::new(usize::MAX / 2);
        assert!(memory.take(usize::MAX / 2).is_none());
        assert_eq!(memory.take(3).unwrap().len(), 3);
        let err = memory.read_to_end(&mut &b"x"[..], usize::MAX / 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
    }

    #[test]
    fn concurrent_takes_get_disjoint_buffers() {
        let memory = ShardMemory::new(64 * MIB);
        let pieces: Vec<Bytes> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..16u8)
                .map(|i| {
                    let memory = &memory;
                    s.spawn(move || {
                        let mut b = memory.take(4 * MIB).unwrap();
                        b.fill(i);
                        b.freeze()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, p) in pieces.iter().enumerate() {
            assert!(p.iter().all(|&x| x == i as u8), "piece {i} was overwritten");
        }
    }
}
