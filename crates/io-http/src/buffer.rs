//! The buffer a weight file is received into: sized from `Content-Length`, frozen into [`Bytes`]
//! without a copy.
//!
//! On Linux, buffers of 2 MiB and more are 2 MiB-aligned and marked `MADV_HUGEPAGE`, so the kernel
//! backs them with transparent huge pages: a 256 MiB model then takes ~128 page faults instead of
//! ~65,000, which is most of the cost of receiving it into fresh memory.

use bytes::Bytes;

/// Growable receive buffer.
pub(crate) struct ShardBuf {
    inner: Inner,
}

enum Inner {
    Vec(Vec<u8>),
    #[cfg(target_os = "linux")]
    Huge(huge::HugeBuf),
}

impl ShardBuf {
    /// A buffer expecting `capacity` bytes (more may arrive; it then grows as a `Vec`).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        #[cfg(target_os = "linux")]
        if capacity >= huge::HUGE_PAGE {
            if let Some(h) = huge::HugeBuf::new(capacity) {
                return ShardBuf { inner: Inner::Huge(h) };
            }
        }
        ShardBuf { inner: Inner::Vec(Vec::with_capacity(capacity)) }
    }

    /// Appends `data`.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::Vec(v) => v.extend_from_slice(data),
            #[cfg(target_os = "linux")]
            Inner::Huge(h) => {
                if !h.extend(data) {
                    let mut v = Vec::with_capacity((h.as_ref().len() + data.len()) * 2);
                    v.extend_from_slice(h.as_ref());
                    v.extend_from_slice(data);
                    self.inner = Inner::Vec(v);
                }
            }
        }
    }

    /// Bytes received so far.
    pub(crate) fn len(&self) -> usize {
        match &self.inner {
            Inner::Vec(v) => v.len(),
            #[cfg(target_os = "linux")]
            Inner::Huge(h) => h.as_ref().len(),
        }
    }

    /// The bytes, without a copy.
    pub(crate) fn freeze(self) -> Bytes {
        match self.inner {
            Inner::Vec(v) => Bytes::from(v),
            #[cfg(target_os = "linux")]
            Inner::Huge(h) => Bytes::from_owner(h),
        }
    }
}

#[cfg(target_os = "linux")]
mod huge {
    use std::alloc::{alloc, dealloc, Layout};
    use std::ptr::NonNull;

    /// Size (and alignment) of a transparent huge page on x86-64 and most aarch64 kernels.
    pub(super) const HUGE_PAGE: usize = 2 << 20;

    /// A fixed-capacity, huge-page-aligned byte buffer that owns its allocation.
    pub(super) struct HugeBuf {
        ptr: NonNull<u8>,
        layout: Layout,
        len: usize,
    }

    // SAFETY: the buffer owns its allocation exclusively; shared access is read-only (`AsRef`).
    unsafe impl Send for HugeBuf {}
    // SAFETY: as above: `&HugeBuf` only gives out `&[u8]`.
    unsafe impl Sync for HugeBuf {}

    impl HugeBuf {
        /// `None` when the allocation fails (the caller falls back to a `Vec`).
        pub(super) fn new(capacity: usize) -> Option<Self> {
            let size = capacity.checked_next_multiple_of(HUGE_PAGE)?;
            let layout = Layout::from_size_align(size, HUGE_PAGE).ok()?;
            // SAFETY: `layout` has a non-zero size (capacity >= HUGE_PAGE).
            let ptr = NonNull::new(unsafe { alloc(layout) })?;
            // SAFETY: the range is the allocation just made; madvise only changes paging advice, and a
            // failure (e.g. THP disabled) is harmless, so its result is ignored.
            unsafe { libc::madvise(ptr.as_ptr().cast(), size, libc::MADV_HUGEPAGE) };
            Some(HugeBuf { ptr, layout, len: 0 })
        }

        /// Appends `data` if it fits; `false` (and nothing appended) otherwise.
        pub(super) fn extend(&mut self, data: &[u8]) -> bool {
            if data.len() > self.layout.size() - self.len {
                return false;
            }
            // SAFETY: the destination range lies inside the allocation (checked above) and cannot
            // overlap `data`, which the caller borrows from elsewhere.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), data.len()) };
            self.len += data.len();
            true
        }
    }

    impl AsRef<[u8]> for HugeBuf {
        fn as_ref(&self) -> &[u8] {
            // SAFETY: the first `len` bytes were written by `extend`.
            unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
        }
    }

    impl Drop for HugeBuf {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout, freed once.
            unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::ShardBuf;

        #[test]
        fn fills_freezes_and_overflows_into_a_vec() {
            let mut b = ShardBuf::with_capacity(3 << 20);
            let chunk: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
            for _ in 0..3 {
                b.extend(&chunk);
            }
            assert_eq!(b.len(), 3 << 20);
            b.extend(&chunk); // fills the capacity rounded up to 4 MiB
            b.extend(&chunk[..10]); // now it overflows into a Vec
            let bytes = b.freeze();
            assert_eq!(bytes.len(), (4 << 20) + 10);
            assert!(bytes.chunks(1 << 20).take(4).all(|c| c == chunk.as_slice()));
            assert_eq!(&bytes[4 << 20..], &chunk[..10]);
        }
    }
}
