//! Outgoing bytes, queued so that many frames leave in one (vectored) write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Payloads up to this size are copied next to their header; larger ones are queued as their
/// own `Bytes` and written with a vectored write instead of being copied.
pub(crate) const COPY_THRESHOLD: usize = 4096;

/// Frames waiting to be written, in order.
///
/// Small frames are packed into one contiguous tail; large payloads are kept as shared
/// [`Bytes`] segments. [`io_slices`](Self::io_slices) lists everything for one
/// `write_vectored`, and [`advance`](Self::advance) drops what the IO accepted.
#[derive(Debug, Default)]
pub struct WriteBuffer {
    segments: VecDeque<Bytes>,
    segments_len: usize,
    tail: BytesMut,
}

impl WriteBuffer {
    /// An empty buffer; it allocates on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.segments_len + self.tail.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a frame: its encoded header and its (already masked, if needed) payload.
    pub fn push(&mut self, header: &[u8], payload: Bytes) {
        if payload.len() <= COPY_THRESHOLD {
            self.tail.reserve(header.len() + payload.len());
            self.tail.put_slice(header);
            self.tail.put_slice(&payload);
        } else {
            self.tail.extend_from_slice(header);
            let header_segment = self.tail.split().freeze();
            self.push_segment(header_segment);
            self.push_segment(payload);
        }
    }

    /// Queues a frame whose payload must be copied anyway (to be masked): returns the payload
    /// slot in the buffer, to be filled in place.
    pub fn push_copied(&mut self, header: &[u8], payload: &[u8]) -> &mut [u8] {
        self.tail.reserve(header.len() + payload.len());
        self.tail.put_slice(header);
        let start = self.tail.len();
        self.tail.put_slice(payload);
        &mut self.tail[start..]
    }

    fn push_segment(&mut self, segment: Bytes) {
        if !segment.is_empty() {
            self.segments_len += segment.len();
            self.segments.push_back(segment);
        }
    }

    /// Drops the allocation of an empty buffer larger than `max` bytes, so that a burst does
    /// not stay allocated.
    pub fn shrink_to(&mut self, max: usize) {
        if self.is_empty() && self.tail.capacity() > max {
            self.tail = BytesMut::new();
        }
    }

    /// Fills `dst` with the queued bytes in order; returns how many slices were used.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let chunks = self
            .segments
            .iter()
            .map(|s| &s[..])
            .chain(Some(&self.tail[..]).filter(|t| !t.is_empty()));
        let mut used = 0;
        for (slot, chunk) in dst.iter_mut().zip(chunks) {
            *slot = IoSlice::new(chunk);
            used += 1;
        }
        used
    }

    /// The first contiguous chunk, for IO without vectored writes.
    pub fn first_chunk(&self) -> &[u8] {
        match self.segments.front() {
            Some(segment) => segment,
            None => &self.tail,
        }
    }

    /// Whether everything queued is one contiguous chunk (one plain write suffices).
    pub fn is_contiguous(&self) -> bool {
        self.segments.is_empty()
    }

    /// Drops the first `n` bytes, which the IO has written.
    pub fn advance(&mut self, mut n: usize) {
        if n >= self.len() {
            // Everything was written: keep the tail's allocation from its start.
            self.segments.clear();
            self.segments_len = 0;
            self.tail.clear();
            return;
        }
        while n > 0 {
            let Some(front) = self.segments.front_mut() else {
                let take = n.min(self.tail.len());
                self.tail.advance(take);
                break;
            };
            let take = n.min(front.len());
            front.advance(take);
            self.segments_len -= take;
            n -= take;
            if front.is_empty() {
                self.segments.pop_front();
            }
        }
        if self.tail.is_empty() {
            // Reuse the allocation from its start.
            self.tail.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(buf: &mut WriteBuffer, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = buf.io_slices(&mut slices);
            let mut budget = step;
            for s in &slices[..n] {
                let take = budget.min(s.len());
                out.extend_from_slice(&s[..take]);
                budget -= take;
            }
            let written = step.min(buf.len());
            buf.advance(written);
        }
        out
    }

    #[test]
    fn keeps_order_across_small_and_large_payloads() {
        let big = Bytes::from(vec![9u8; COPY_THRESHOLD + 1]);
        for step in [1, 7, 100, 1 << 20] {
            let mut buf = WriteBuffer::new();
            buf.push(b"h1", Bytes::from_static(b"small"));
            buf.push(b"h2", big.clone());
            buf.push(b"h3", Bytes::from_static(b"tail"));
            buf.push_copied(b"h4", b"xyz")[0] = b'X';
            let mut expected = b"h1smallh2".to_vec();
            expected.extend_from_slice(&big);
            expected.extend_from_slice(b"h3tailh4Xyz");
            assert_eq!(buf.len(), expected.len());
            assert_eq!(drain(&mut buf, step), expected, "step {step}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn large_payloads_are_not_copied() {
        let big = Bytes::from(vec![1u8; COPY_THRESHOLD * 2]);
        let mut buf = WriteBuffer::new();
        buf.push(b"hh", big.clone());
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(buf.io_slices(&mut slices), 2);
        assert_eq!(slices[1].as_ptr(), big.as_ptr());
    }
}
