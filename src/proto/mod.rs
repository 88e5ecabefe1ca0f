//! The sans-IO WebSocket protocol core (RFC 6455 §5–§8).
//!
//! Everything here is a pure function or a state machine over bytes: no sockets, no runtime, no
//! clocks. The [`Conn`](crate::Conn) drives it over real IO; unit tests and fuzzers drive it byte
//! by byte.
//!
//! - [`frame`]: the frame header codec (all three length forms, masking key, header rules).
//! - [`mask`]: XOR masking, a word at a time.
//! - [`utf8`]: incremental, fail-fast UTF-8 validation across chunks and fragments.
//! - [`close`]: close codes and close frame payloads.
//! - [`Decoder`]: frames to messages (reassembly, interleaved control frames, limits).
//! - [`Encoder`] and [`WriteBuffer`]: messages to frames, batched for vectored writes.
//! - [`deflate`]: the permessage-deflate codec (RFC 7692).

pub mod close;
mod decoder;
pub mod deflate;
mod encoder;
mod error;
pub mod frame;
mod limits;
pub mod mask;
mod message;
mod prepared;
pub mod utf8;
mod write_buffer;

pub use close::{CloseCode, CloseFrame};
pub use decoder::Decoder;
pub use deflate::{DeflateConfig, DeflateParams};
pub use encoder::Encoder;
pub use error::ProtocolError;
pub use limits::Limits;
pub use message::{Message, Utf8Bytes};
pub use prepared::PreparedMessage;
pub use write_buffer::WriteBuffer;

/// Which end of the connection this endpoint is: it decides the masking rules (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Sends masked frames (a fresh key per frame), receives unmasked ones.
    Client,
}
