//! Without the `deflate` feature: a compressor and a decompressor that cannot exist.
//!
//! The decoder and encoder keep their `Option<Box<Inflater>>` / `Option<Box<Deflater>>`, which
//! are then always `None`: a frame with RSV1 set is a protocol error (1002), as for any
//! connection that did not negotiate compression, and nothing is ever compressed. The methods
//! mirror the codec's so the callers compile unchanged; none can be called.

use bytes::Bytes;

use crate::proto::ProtocolError;

/// Compresses outgoing message payloads: not compiled in, so never built.
#[derive(Debug)]
pub(crate) enum Deflater {}

impl Deflater {
    pub(crate) fn wants(&self, _len: usize) -> bool {
        match *self {}
    }

    pub(crate) fn forget_context(&mut self) {
        match *self {}
    }

    pub(crate) fn compress(&mut self, _input: &[u8]) -> Option<Bytes> {
        match *self {}
    }
}

/// Decompresses incoming message payloads: not compiled in, so never built.
#[derive(Debug)]
pub(crate) enum Inflater {}

impl Inflater {
    pub(crate) fn decompress(
        &mut self,
        _input: &[u8],
        _max: usize,
    ) -> Result<Bytes, ProtocolError> {
        match *self {}
    }
}
