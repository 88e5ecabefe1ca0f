//! The sans-IO WebSocket protocol core (RFC 6455 §5–§8).
//!
//! Everything here is a pure function or a state machine over bytes: no sockets, no runtime, no
//! clocks. The [`Conn`](crate::Conn) drives it over real IO; unit tests and fuzzers drive it byte
//! by byte.
//!
//! A private module: the value types users need (`Message`, `Utf8Bytes`, `CloseCode`,
//! `CloseFrame`, `Limits`, `DeflateConfig`, `DeflateParams`, `PreparedMessage`,
//! `ProtocolError`, `Role`) are re-exported at the crate root; the codec itself is not API.
//! The fuzz targets and the codec micro-benchmarks reach it through the hidden
//! `crate::fuzzing` module (feature `fuzzing`), so the items they use are `pub` here and
//! the modules holding them allow `unreachable_pub` when that feature is off.
//!
//! - [`frame`]: the frame header codec (all three length forms, masking key, header rules).
//! - [`mask`]: XOR masking, a word at a time.
//! - [`utf8`]: incremental, fail-fast UTF-8 validation across chunks and fragments.
//! - [`close`]: close codes and close frame payloads.
//! - [`Decoder`]: frames to messages (reassembly, interleaved control frames, limits).
//! - [`Encoder`] and [`WriteBuffer`]: messages to frames, batched for vectored writes.
//! - [`deflate`]: the permessage-deflate codec (RFC 7692).

// Modules whose items the `fuzzing` module re-exports are `pub` inside: unreachable from the
// crate root without that feature.
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub(crate) mod close;
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
mod decoder;
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub(crate) mod deflate;
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
mod encoder;
mod error;
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub(crate) mod frame;
mod limits;
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub(crate) mod mask;
mod message;
mod prepared;
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub(crate) mod utf8;
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
mod write_buffer;

// The value types, re-exported at the crate root.
pub use close::{CloseCode, CloseFrame};
pub use deflate::{DeflateConfig, DeflateParams};
pub use error::ProtocolError;
pub use limits::Limits;
pub use message::{Message, Utf8Bytes};
pub use prepared::PreparedMessage;

// The codec: for the connection, and for the `fuzzing` module.
#[cfg_attr(not(feature = "fuzzing"), allow(unreachable_pub))]
pub use self::{decoder::Decoder, encoder::Encoder, write_buffer::WriteBuffer};

/// Which end of the connection this endpoint is: it decides the masking rules (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Sends masked frames (a fresh key per frame), receives unmasked ones.
    Client,
}
