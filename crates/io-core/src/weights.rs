//! Weight bytes held as one buffer or a list of buffers, never forcibly joined.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;

/// The weight bytes of a model: a sequence of buffers read as one byte string.
///
/// Since TF.js 4.6 `weightData` may be a list of buffers (a browser cannot allocate one buffer over
/// 2 GB); modelio keeps that shape. Slicing across buffer boundaries works; lengths are `usize`, so
/// models over 4 GiB work on 64-bit targets. Buffers are reference counted ([`Bytes`]), so cloning is
/// cheap.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WeightData {
    chunks: Vec<Bytes>,
    /// Where each chunk ends (cumulative lengths), so a position is found by binary search.
    ends: Vec<usize>,
    len: usize,
}

impl std::fmt::Debug for WeightData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WeightData({} bytes in {} buffers)", self.len, self.chunks.len())
    }
}

impl WeightData {
    /// One buffer.
    pub fn single(b: impl Into<Bytes>) -> Self {
        Self::from_chunks(vec![b.into()])
    }

    /// Several buffers, read in order as one byte string. Empty buffers are dropped.
    pub fn from_chunks(chunks: Vec<Bytes>) -> Self {
        let mut out = WeightData::default();
        for c in chunks {
            out.push(c);
        }
        out
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffers, in order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// Appends a buffer.
    pub fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.ends.push(self.len);
            self.chunks.push(b);
        }
    }

    /// Appends all buffers of `other`.
    pub fn append(&mut self, other: WeightData) {
        for c in other.chunks {
            self.push(c);
        }
    }

    /// The bytes in `range`: borrowed when they lie in one buffer, copied when they span several.
    ///
    /// # Panics
    /// If `range` is out of bounds; check against [`WeightData::len`] first.
    pub fn slice(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        assert!(range.start <= range.end && range.end <= self.len, "slice {range:?} out of {} bytes", self.len);
        if range.is_empty() {
            return Cow::Borrowed(&[]);
        }
        let (mut i, mut off) = self.locate(range.start);
        let first = &self.chunks[i];
        if off + range.len() <= first.len() {
            return Cow::Borrowed(&first[off..off + range.len()]);
        }
        let mut out = Vec::with_capacity(range.len());
        while out.len() < range.len() {
            let c = &self.chunks[i];
            let take = (c.len() - off).min(range.len() - out.len());
            out.extend_from_slice(&c[off..off + take]);
            i += 1;
            off = 0;
        }
        Cow::Owned(out)
    }

    /// A cheap sub-view (no copy) of `range` as a new `WeightData`.
    pub fn sub(&self, range: Range<usize>) -> WeightData {
        assert!(range.start <= range.end && range.end <= self.len, "sub {range:?} out of {} bytes", self.len);
        let mut out = WeightData::default();
        if range.is_empty() {
            return out;
        }
        let (mut i, mut off) = self.locate(range.start);
        let mut left = range.len();
        while left > 0 {
            let c = &self.chunks[i];
            let take = (c.len() - off).min(left);
            out.push(c.slice(off..off + take));
            left -= take;
            i += 1;
            off = 0;
        }
        out
    }

    /// Visits the bytes of `range` piece by piece, without copying.
    pub fn for_each_piece(&self, range: Range<usize>, mut f: impl FnMut(&[u8])) {
        let sub = self.sub(range);
        for c in &sub.chunks {
            f(c);
        }
    }

    /// All bytes joined into one buffer (copies unless there is at most one buffer).
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks[0].clone(),
            _ => {
                let mut v = Vec::with_capacity(self.len);
                for c in &self.chunks {
                    v.extend_from_slice(c);
                }
                Bytes::from(v)
            }
        }
    }

    /// All bytes copied into a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        self.to_bytes().to_vec()
    }

    /// (buffer index, offset in it) of byte `pos` (`pos < len`).
    /// Logarithmic in the number of buffers: a model of many small files (an upload of 60,000
    /// parts) is checked and sliced in linear time overall.
    fn locate(&self, pos: usize) -> (usize, usize) {
        assert!(pos < self.len, "position {pos} checked against length {}", self.len);
        let i = self.ends.partition_point(|&end| end <= pos);
        (i, pos - (self.ends[i] - self.chunks[i].len()))
    }
}

impl From<Vec<u8>> for WeightData {
    fn from(v: Vec<u8>) -> Self {
        WeightData::single(v)
    }
}

impl From<Bytes> for WeightData {
    fn from(b: Bytes) -> Self {
        WeightData::single(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_across_buffers() {
        let w = WeightData::from_chunks(vec![Bytes::from_static(b"abc"), Bytes::new(), Bytes::from_static(b"defg")]);
        assert_eq!(w.len(), 7);
        assert_eq!(w.chunks().len(), 2);
        assert!(matches!(w.slice(0..3), Cow::Borrowed(b"abc")));
        assert_eq!(&*w.slice(2..5), b"cde");
        assert_eq!(&*w.slice(3..7), b"defg");
        assert_eq!(w.sub(1..6).to_vec(), b"bcdef");
        assert_eq!(w.to_vec(), b"abcdefg");
    }

    /// Over 4 GiB of weight data (one shared 1 MiB buffer, repeated) is addressed and sliced correctly.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn more_than_4_gib() {
        let mib: Bytes = (0..1u32 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
        let n = 4097; // 4 GiB + 1 MiB
        let w = WeightData::from_chunks(vec![mib.clone(); n]);
        assert_eq!(w.len(), n << 20);
        let at = (4096usize << 20) - 2; // straddles the buffer boundary past 2^32
        assert_eq!(&*w.slice(at..at + 4), &[mib[(1 << 20) - 2], mib[(1 << 20) - 1], mib[0], mib[1]]);
        let spec = crate::WeightSpec::new("big", vec![n << 18], crate::DType::Float32);
        let ranges = crate::codec::layout(&[spec], &w, &[]).unwrap();
        assert_eq!(ranges[0], 0..n << 20);
    }

    #[test]
    #[should_panic(expected = "out of 3 bytes")]
    fn slice_out_of_bounds_panics() {
        WeightData::single(b"abc".to_vec()).slice(1..4);
    }
}
