//! Internal, not API: the codec under the public surface, for the fuzz targets (`fuzz/`) and
//! the codec micro-benchmarks (`bench/benches/`). Compiled only with the `fuzzing` feature,
//! hidden from the docs, and not covered by semver: anything here may change or go in any
//! release. (rustls's hidden `internal` module serves its fuzzers the same way.)
//!
//! It re-exports exactly what those use: the frame header codec, masking, UTF-8 validation,
//! the close payload parser, the decoder and encoder with their write buffer, and the
//! permessage-deflate codec (built from negotiated parameters with [`deflater`] and
//! [`inflater`]).

use crate::proto::{DeflateConfig, DeflateParams, Role};

pub use crate::proto::close::parse_close_payload;
pub use crate::proto::deflate::{Deflater, Inflater};
pub use crate::proto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, decode_header, encode_header};
pub use crate::proto::mask::apply_mask;
pub use crate::proto::utf8::{Utf8Validator, validate};
pub use crate::proto::{Decoder, Encoder, WriteBuffer};

/// The compressor `params` give the endpoint with `role`, as a connection builds it.
pub fn deflater(params: &DeflateParams, role: Role, config: &DeflateConfig) -> Deflater {
    params.deflater(role, config)
}

/// The decompressor `params` give the endpoint with `role`, as a connection builds it.
pub fn inflater(params: &DeflateParams, role: Role) -> Inflater {
    params.inflater(role)
}
