//! permessage-deflate (RFC 7692 §7): the codec for whole message payloads.
//!
//! A compressed message is the raw DEFLATE stream of its payload, sync-flushed, with the
//! trailing `00 00 ff ff` removed; the receiver appends it back before inflating. With context
//! takeover the LZ77 window carries over from message to message; without it each message starts
//! afresh. The settings and the agreed parameters are here; the codec, on flate2's zlib-rs
//! backend, is in `codec.rs` (feature `deflate`; without it `disabled.rs` stands in, with
//! types that cannot be built, so nothing is ever compressed or inflated).

#[cfg(feature = "deflate")]
mod codec;
#[cfg(not(feature = "deflate"))]
mod disabled;

#[cfg(feature = "deflate")]
pub use codec::{Deflater, Inflater};
#[cfg(not(feature = "deflate"))]
pub(crate) use disabled::{Deflater, Inflater};

/// Window sizes zlib can deflate with (it cannot produce an 8-bit window).
pub(crate) const MIN_DEFLATE_WINDOW_BITS: u8 = 9;
/// The window sizes RFC 7692 allows (§7.1.2).
const MIN_WINDOW_BITS: u8 = 8;
pub(crate) const MAX_WINDOW_BITS: u8 = 15;
/// zlib's best compression level.
const MAX_LEVEL: u32 = 9;

/// How the server would like permessage-deflate, for [`WebSocketUpgradeLayer::deflate`](crate::WebSocketUpgradeLayer::deflate).
///
/// Memory per connection (zlib's figures): compressing keeps `2^(w+2) + 128 KiB` (w = the
/// server window bits; 256 KiB at 15, 130 KiB at 9), decompressing `2^w + ~7 KiB` (w = the
/// client window bits; 39 KiB at 15). Both are allocated on the first compressed message. The
/// RFC offers two ways to trade compression for memory, both here: smaller windows, and no
/// context takeover (each message compressed on its own, worse ratio on small similar messages).
///
/// Plain settings: read the fields, set them with the builder methods of the same name (or
/// assign them). A value out of its range (a level over 9, window bits outside 9–15 or 8–15)
/// is clamped into it where it is used, as the builders clamp it; new fields may be added in
/// minor releases, so build one from [`DeflateConfig::new`] or [`DeflateConfig::default`].
///
/// ```
/// use tower_websocket::DeflateConfig;
///
/// let config = DeflateConfig::new().level(6).server_max_window_bits(10);
/// assert_eq!((config.level, config.server_max_window_bits), (6, 10));
/// assert_eq!(config.threshold, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Compression level, 0 (store) to 9 (best); default 1 (fastest, as gorilla).
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed (default 1024, as Node's
    /// `ws`).
    pub threshold: usize,
    /// The largest window the server compresses with, 9–15 (default 15). Smaller saves memory.
    /// If the client asks for less, its value is used; a client that allows only 8 bits is
    /// declined, since zlib cannot compress with an 8-bit window.
    pub server_max_window_bits: u8,
    /// Whether the server keeps its compression context between messages (default true).
    /// `false` compresses each message alone; the server then needs no state between messages.
    pub server_context_takeover: bool,
    /// The largest window the server lets the client compress with, 8–15 (default 15), when the
    /// client offers to be limited (`client_max_window_bits`). Bounds the server's inflate memory.
    pub client_max_window_bits: u8,
    /// Whether the client may keep its compression context between messages (default true).
    /// `false` answers `client_no_context_takeover`, so the server can reset its decompressor
    /// after every message.
    pub client_context_takeover: bool,
}

impl Default for DeflateConfig {
    /// Level 1, messages from 1 KiB compressed, 15-bit windows and context takeover both ways.
    fn default() -> Self {
        Self {
            level: 1,
            threshold: 1024,
            server_max_window_bits: MAX_WINDOW_BITS,
            server_context_takeover: true,
            client_max_window_bits: MAX_WINDOW_BITS,
            client_context_takeover: true,
        }
    }
}

impl DeflateConfig {
    /// The defaults; see [`Default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`level`](field@Self::level), at most 9.
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(MAX_LEVEL);
        self
    }

    /// Sets [`threshold`](field@Self::threshold).
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Sets [`server_max_window_bits`](field@Self::server_max_window_bits), clamped to 9–15.
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits.clamp(MIN_DEFLATE_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }

    /// Sets [`server_context_takeover`](field@Self::server_context_takeover).
    pub fn server_context_takeover(mut self, keep: bool) -> Self {
        self.server_context_takeover = keep;
        self
    }

    /// Sets [`client_max_window_bits`](field@Self::client_max_window_bits), clamped to 8–15.
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }

    /// Sets [`client_context_takeover`](field@Self::client_context_takeover).
    pub fn client_context_takeover(mut self, keep: bool) -> Self {
        self.client_context_takeover = keep;
        self
    }

    /// The level in force: [`level`](field@Self::level), at most 9.
    #[cfg(feature = "deflate")]
    fn level_in_range(&self) -> u32 {
        self.level.min(MAX_LEVEL)
    }

    /// The server window in force: [`server_max_window_bits`](field@Self::server_max_window_bits)
    /// clamped to 9–15.
    pub(crate) fn server_window_bits(&self) -> u8 {
        (self.server_max_window_bits).clamp(MIN_DEFLATE_WINDOW_BITS, MAX_WINDOW_BITS)
    }

    /// The client window in force: [`client_max_window_bits`](field@Self::client_max_window_bits)
    /// clamped to 8–15.
    pub(crate) fn client_window_bits(&self) -> u8 {
        (self.client_max_window_bits).clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
    }
}

/// The parameters agreed in a handshake (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most this window (9–15).
    pub server_max_window_bits: u8,
    /// The client compresses with at most this window (8–15).
    pub client_max_window_bits: u8,
}
