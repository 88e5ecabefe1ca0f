//! The permessage-deflate codec on flate2's zlib-rs backend (feature `deflate`).

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{DeflateConfig, DeflateParams, MAX_WINDOW_BITS, MIN_DEFLATE_WINDOW_BITS};
use crate::proto::{ProtocolError, Role};

/// What a sync flush ends with; stripped on send, appended on receive (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

impl DeflateParams {
    /// The compressor for the endpoint with `role`.
    pub(crate) fn deflater(&self, role: Role, config: &DeflateConfig) -> Deflater {
        let (bits, reset) = match role {
            Role::Server => (self.server_max_window_bits, self.server_no_context_takeover),
            Role::Client => (self.client_max_window_bits, self.client_no_context_takeover),
        };
        // zlib cannot compress within an 8-bit window, and a 9-bit one would break the
        // agreement; every message then goes out uncompressed, which RFC 7692 §6 allows.
        let threshold = if bits < MIN_DEFLATE_WINDOW_BITS {
            usize::MAX
        } else {
            config.threshold
        };
        Deflater {
            compress: None,
            level: config.level_in_range(),
            window_bits: bits.clamp(MIN_DEFLATE_WINDOW_BITS, MAX_WINDOW_BITS),
            reset: reset || !config.server_context_takeover && role == Role::Server,
            threshold,
        }
    }

    /// The decompressor for the endpoint with `role`.
    pub(crate) fn inflater(&self, role: Role) -> Inflater {
        let (bits, reset) = match role {
            Role::Server => (self.client_max_window_bits, self.client_no_context_takeover),
            Role::Client => (self.server_max_window_bits, self.server_no_context_takeover),
        };
        Inflater {
            decompress: None,
            // A larger window inflates anything a smaller one produced; zlib wants at least 9.
            window_bits: bits.clamp(MIN_DEFLATE_WINDOW_BITS, MAX_WINDOW_BITS),
            reset,
        }
    }
}

/// Compresses outgoing message payloads.
#[derive(Debug)]
pub struct Deflater {
    compress: Option<Compress>,
    level: u32,
    window_bits: u8,
    reset: bool,
    threshold: usize,
}

impl Deflater {
    /// Whether a payload of `len` bytes is worth compressing.
    pub fn wants(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// The setting a prepared message is compressed for: (level, window bits).
    pub(crate) fn setting(&self) -> (u32, u8) {
        (self.level, self.window_bits)
    }

    /// A compressor with the same setting and an empty context, used once.
    pub(crate) fn fresh(&self) -> Self {
        Self {
            compress: None,
            reset: true,
            ..*self
        }
    }

    /// The peer's decompressor saw bytes this compressor did not produce (a prepared frame):
    /// forget the context, so nothing refers back across them.
    pub(crate) fn forget_context(&mut self) {
        if let Some(compress) = &mut self.compress {
            compress.reset();
        }
    }

    /// The compressed payload, or `None` if the compressor failed (the caller then sends the
    /// message uncompressed; the compressor is reset so the peer's context stays in step).
    pub fn compress(&mut self, input: &[u8]) -> Option<Bytes> {
        let (level, bits) = (self.level, self.window_bits);
        let compress = self.compress.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        let start = compress.total_in();
        loop {
            let consumed = (compress.total_in() - start) as usize;
            let rest = input.get(consumed..).unwrap_or_default();
            if compress
                .compress_vec(rest, &mut out, FlushCompress::Sync)
                .is_err()
            {
                compress.reset();
                return None;
            }
            let consumed = (compress.total_in() - start) as usize;
            // Done once all input is in and the flush left room in the output.
            if consumed >= input.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.is_empty() {
            // Right after a flush zlib emits nothing for empty input; the peer needs an empty
            // stored block, which is `00` once the tail is stripped (RFC 7692 §7.2.3.6).
            out.push(0x00);
        }
        if self.reset {
            compress.reset();
        }
        Some(Bytes::from(out))
    }
}

/// Decompresses incoming message payloads, never producing more than a limit.
#[derive(Debug)]
pub struct Inflater {
    decompress: Option<Decompress>,
    window_bits: u8,
    reset: bool,
}

impl Inflater {
    /// Inflates one message payload. Fails with [`ProtocolError::MessageTooLarge`] as soon as
    /// the output would exceed `max` bytes (no more than `max` bytes are ever allocated for it),
    /// and with [`ProtocolError::InvalidCompressedData`] on a corrupt stream.
    pub fn decompress(&mut self, input: &[u8], max: usize) -> Result<Bytes, ProtocolError> {
        let bits = self.window_bits;
        let decompress = self
            .decompress
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut out = Vec::with_capacity(input.len().saturating_mul(2).clamp(64, max.max(64)));
        let result = inflate_into(decompress, input, &mut out, max).and_then(|ended| {
            if ended {
                Ok(true)
            } else {
                inflate_into(decompress, &TAIL, &mut out, max)
            }
        });
        match result {
            Ok(ended) => {
                if ended || self.reset {
                    decompress.reset(false);
                }
                Ok(Bytes::from(out))
            }
            Err(e) => {
                decompress.reset(false);
                Err(e)
            }
        }
    }
}

/// Feeds all of `input`, growing `out` up to `max` bytes. Returns whether the DEFLATE stream
/// ended (a final block), after which the rest of the input is ignored.
fn inflate_into(
    decompress: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<bool, ProtocolError> {
    let start = decompress.total_in();
    loop {
        if out.len() == out.capacity() {
            if out.len() > max {
                return Err(ProtocolError::MessageTooLarge);
            }
            // Grow by doubling, but never past one byte over the limit (saturating: the limit
            // may be `usize::MAX`, and `out.len() <= max` here).
            let room =
                (out.capacity().max(64)).min(max.saturating_add(1).saturating_sub(out.len()));
            out.reserve_exact(room);
        }
        let consumed = (decompress.total_in() - start) as usize;
        let rest = input.get(consumed..).unwrap_or_default();
        let status = decompress
            .decompress_vec(rest, out, FlushDecompress::Sync)
            .map_err(|_| ProtocolError::InvalidCompressedData)?;
        if out.len() > max {
            return Err(ProtocolError::MessageTooLarge);
        }
        if status == Status::StreamEnd {
            return Ok(true);
        }
        let consumed = (decompress.total_in() - start) as usize;
        if consumed >= input.len() && out.len() < out.capacity() {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(params: DeflateParams, config: DeflateConfig) -> (Deflater, Inflater) {
        (
            params.deflater(Role::Server, &config),
            params.inflater(Role::Client),
        )
    }

    fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: sbits,
            client_max_window_bits: cbits,
        }
    }

    fn messages() -> Vec<Vec<u8>> {
        let json = br#"{"user":"alice","action":"move","x":12,"y":-4,"items":[1,2,3]}"#.repeat(30);
        let mut noise = Vec::new();
        let mut x: u32 = 7;
        for _ in 0..70_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            noise.push((x >> 16) as u8);
        }
        vec![
            json.clone(),
            json.clone(),
            Vec::new(),
            noise,
            b"a".to_vec(),
            json,
        ]
    }

    #[test]
    fn round_trips_for_every_takeover_combination_and_window() {
        for snct in [false, true] {
            for cnct in [false, true] {
                for bits in 9..=15 {
                    let config = DeflateConfig::default().threshold(0);
                    let (mut d, mut i) = pair(params(snct, cnct, bits, bits), config);
                    for (n, m) in messages().into_iter().enumerate() {
                        let c = d.compress(&m).unwrap();
                        assert!(!c.ends_with(&TAIL));
                        let back = i.decompress(&c, 1 << 20);
                        let back = back.unwrap_or_else(|e| {
                            panic!("{e} snct {snct} cnct {cnct} bits {bits} msg {n}")
                        });
                        assert_eq!(back, m, "snct {snct} cnct {cnct} bits {bits}");
                    }
                }
            }
        }
    }

    #[test]
    fn context_takeover_shrinks_repeated_messages_and_no_takeover_does_not() {
        let m = br#"{"user":"alice","action":"move","x":12,"y":-4}"#;
        let config = DeflateConfig::default().threshold(0);
        let (mut keep, _) = pair(params(false, false, 15, 15), config);
        let first = keep.compress(m).unwrap().len();
        let second = keep.compress(m).unwrap().len();
        assert!(second < first / 2, "{second} vs {first}");
        let (mut reset, _) = pair(params(true, false, 15, 15), config);
        assert_eq!(reset.compress(m).unwrap().len(), first);
        assert_eq!(reset.compress(m).unwrap().len(), first);
    }

    #[test]
    fn empty_message_is_a_single_zero_byte_with_or_without_history() {
        let (mut d, mut i) = pair(params(false, false, 15, 15), DeflateConfig::default());
        for _ in 0..3 {
            // Fresh, then right after an empty one, then right after a non-empty one.
            let c = d.compress(b"").unwrap();
            assert_eq!(&c[..], &[0x00]);
            assert_eq!(i.decompress(&c, 10).unwrap(), Bytes::new());
            let c = d.compress(b"hello").unwrap();
            assert_eq!(&i.decompress(&c, 10).unwrap()[..], b"hello");
        }
    }

    #[test]
    fn rfc_7692_example_hello() {
        // RFC 7692 §7.2.3.1: "Hello" compressed.
        let mut i = params(false, false, 15, 15).inflater(Role::Client);
        let out = i
            .decompress(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100)
            .unwrap();
        assert_eq!(&out[..], b"Hello");
        // §7.2.3.2: the same, with context takeover, as a back-reference.
        let out = i.decompress(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap();
        assert_eq!(&out[..], b"Hello");
    }

    #[test]
    fn bomb_stops_at_the_limit_without_allocating_past_it() {
        let zeros = vec![0u8; 10 << 20];
        let best = DeflateConfig::default().level(9);
        let (mut d, mut i) = pair(params(false, false, 15, 15), best);
        let bomb = d.compress(&zeros).unwrap();
        assert!(
            bomb.len() < 20_000,
            "10 MiB of zeros compresses to {} bytes",
            bomb.len()
        );
        assert_eq!(
            i.decompress(&bomb, 1 << 20),
            Err(ProtocolError::MessageTooLarge)
        );
        // Exactly at the limit is fine.
        let (mut d, mut i) = pair(params(false, false, 15, 15), DeflateConfig::default());
        let c = d.compress(&zeros[..1 << 20]).unwrap();
        assert_eq!(i.decompress(&c, 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn an_8_bit_window_sends_uncompressed_rather_than_exceed_it() {
        // A server may answer `client_max_window_bits=8`; zlib's smallest deflate window is 9.
        let config = DeflateConfig::default().threshold(0);
        let client = params(false, false, 15, 8).deflater(Role::Client, &config);
        assert!(!client.wants(0));
        assert!(!client.wants(1 << 20));
        let client = params(false, false, 15, 9).deflater(Role::Client, &config);
        assert!(client.wants(0));
        // The server side is never asked for 8 (negotiation declines it), and 9 compresses.
        let server = params(false, false, 9, 8).deflater(Role::Server, &config);
        assert!(server.wants(0));
    }

    #[test]
    fn no_limit_at_all_does_not_overflow() {
        // `max_message_size(usize::MAX)`: the growth step must not compute `max + 1`. (Also
        // found independently by the `decoder_deflate` fuzzer.)
        let (mut d, mut i) = pair(params(false, false, 15, 15), DeflateConfig::default());
        let message = b"abc".repeat(10_000);
        let c = d.compress(&message).unwrap();
        assert_eq!(i.decompress(&c, usize::MAX).unwrap(), message);
        assert_eq!(
            i.decompress(&d.compress(b"").unwrap(), usize::MAX).unwrap(),
            Bytes::new()
        );
    }

    #[test]
    fn a_level_over_9_set_in_the_field_compresses_at_9() {
        let config = DeflateConfig {
            level: 1000,
            ..DeflateConfig::default().threshold(0)
        };
        let (mut d, mut i) = pair(params(false, false, 15, 15), config);
        assert_eq!(d.setting(), (9, 15));
        let c = d.compress(b"hello hello hello").unwrap();
        assert_eq!(&i.decompress(&c, 100).unwrap()[..], b"hello hello hello");
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut i = params(false, false, 15, 15).inflater(Role::Server);
        assert_eq!(
            i.decompress(&[0xff, 0xff, 0xff, 0xff], 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }
}
