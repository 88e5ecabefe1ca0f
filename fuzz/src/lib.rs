//! Helpers shared by the fuzz targets: an independent frame writer (RFC 6455 §5.2, so that
//! invalid headers can be produced too), a generator of valid message sequences with the
//! messages they must decode to, chunked feeding, and the checks every decoded message and
//! error must pass.
//!
//! The crate's public API, and its codec through the hidden `tower_websocket::fuzzing` module
//! (feature `fuzzing`, internal: not API, no semver).

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use tower_websocket::fuzzing::{self, Decoder, Deflater, Encoder, OpCode, WriteBuffer};
use tower_websocket::{CloseCode, CloseFrame, Limits, Message, ProtocolError, Role, Utf8Bytes};

/// The largest control frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL: usize = 125;

/// RSV1, the permessage-deflate bit, in the first header byte.
pub const RSV1_BIT: u8 = 0x40;

/// Close codes that may appear on the wire, written from RFC 6455 §7.4.1–§7.4.2 and the IANA
/// registry (1012–1014), independently of `CloseCode::is_sendable`.
pub fn close_code_valid(code: u16) -> bool {
    matches!(code, 1000 | 1001 | 1002 | 1003 | 1007..=1011 | 1012..=1014 | 3000..=4999)
}

/// How the payload length of a hand-written frame is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenForm {
    /// The shortest form, as RFC 6455 requires.
    Minimal,
    /// A 16-bit extended length even when 7 bits would do.
    Force16,
    /// A 64-bit extended length even when 16 bits would do.
    Force64,
    /// A 64-bit length with this value, whatever the payload is (lies about the length).
    Claim(u64),
}

/// Writes one frame header and payload, masking with `mask` if given. `first_byte` is the whole
/// first header byte (FIN, RSV1–3, opcode), so reserved bits and opcodes can be set too.
pub fn write_frame(
    out: &mut Vec<u8>,
    first_byte: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    form: LenForm,
) {
    out.push(first_byte);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len() as u64;
    match form {
        LenForm::Minimal if len < 126 => out.push(mask_bit | len as u8),
        LenForm::Minimal | LenForm::Force16 if len <= u64::from(u16::MAX) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        LenForm::Minimal | LenForm::Force16 | LenForm::Force64 => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        LenForm::Claim(claimed) => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&claimed.to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        for (i, b) in out[start..].iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
}

/// The first header byte for a frame.
pub fn first_byte(fin: bool, rsv1: bool, opcode: OpCode) -> u8 {
    (u8::from(fin) << 7) | if rsv1 { RSV1_BIT } else { 0 } | opcode.as_u8()
}

/// The role of the peer that sends to a decoder of `role`.
pub fn peer(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

/// A valid text string from the input (arbitrary bytes cut at the first invalid sequence).
pub fn text<'a>(u: &mut Unstructured<'a>, max: usize) -> Result<&'a str> {
    let len = u.int_in_range(0..=max.min(u.len()))?;
    let bytes = u.bytes(len)?;
    Ok(match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    })
}

/// Up to `max` bytes from the input.
pub fn bytes<'a>(u: &mut Unstructured<'a>, max: usize) -> Result<&'a [u8]> {
    let len = u.int_in_range(0..=max.min(u.len()))?;
    u.bytes(len)
}

/// `s` cut to at most `max` bytes at a char boundary.
pub fn truncate_str(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes frames the way a conforming peer of a decoder with `role` would, remembering the
/// messages they must decode to.
pub struct ValidWriter {
    /// The decoder's role: masked frames for a server, unmasked ones for a client.
    pub role: Role,
    /// The peer's encoder, used for a frame when the input asks for it.
    pub encoder: Encoder,
    /// The peer's compressor, if permessage-deflate is on.
    pub deflater: Option<Deflater>,
    /// The bytes on the wire.
    pub wire: Vec<u8>,
    /// What the decoder must return for `wire`, in order.
    pub expected: Vec<Message>,
}

impl ValidWriter {
    /// A writer of frames for a decoder with `role`.
    pub fn new(role: Role, deflater: Option<Deflater>) -> Self {
        Self {
            role,
            encoder: Encoder::new(peer(role)),
            deflater,
            wire: Vec::new(),
            expected: Vec::new(),
        }
    }

    /// One frame with a masking key (for a server decoder) and length form from the input,
    /// or through the crate's own client/server [`Encoder`].
    fn frame(
        &mut self,
        u: &mut Unstructured<'_>,
        fin: bool,
        rsv1: bool,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<()> {
        if u.ratio(1, 4)? {
            let mut out = WriteBuffer::new();
            let rsv = if rsv1 { 0b100 } else { 0 };
            self.encoder
                .encode_frame(&mut out, fin, rsv, opcode, Bytes::copy_from_slice(payload));
            while !out.is_empty() {
                let chunk = out.first_chunk();
                let n = chunk.len();
                self.wire.extend_from_slice(chunk);
                out.advance(n);
            }
            return Ok(());
        }
        let mask = match self.role {
            Role::Server => Some(u.arbitrary::<[u8; 4]>()?),
            Role::Client => None,
        };
        write_frame(
            &mut self.wire,
            first_byte(fin, rsv1, opcode),
            mask,
            payload,
            LenForm::Minimal,
        );
        Ok(())
    }

    /// A control message the peer may send at any point, as one frame.
    pub fn control(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let (opcode, payload, message) = match u.int_in_range(0..=2u8)? {
            0 => {
                let data = bytes(u, MAX_CONTROL)?;
                (
                    OpCode::Ping,
                    data.to_vec(),
                    Message::Ping(data.to_vec().into()),
                )
            }
            1 => {
                let data = bytes(u, MAX_CONTROL)?;
                (
                    OpCode::Pong,
                    data.to_vec(),
                    Message::Pong(data.to_vec().into()),
                )
            }
            _ => {
                if u.ratio(1, 8)? {
                    (OpCode::Close, Vec::new(), Message::Close(None))
                } else {
                    let code = loop {
                        let code = u.arbitrary::<u16>()?;
                        if close_code_valid(code) {
                            break code;
                        }
                        if u.is_empty() {
                            break 1000;
                        }
                    };
                    let reason = truncate_str(text(u, MAX_CONTROL)?, MAX_CONTROL - 2);
                    let mut payload = code.to_be_bytes().to_vec();
                    payload.extend_from_slice(reason.as_bytes());
                    let frame = CloseFrame::new(CloseCode::new(code), reason);
                    (OpCode::Close, payload, Message::Close(Some(frame)))
                }
            }
        };
        self.frame(u, true, false, opcode, &payload)?;
        self.expected.push(message);
        Ok(())
    }

    /// A text or binary message, possibly compressed, in fragments cut anywhere (through a
    /// UTF-8 character too), with control frames between them.
    pub fn data(&mut self, u: &mut Unstructured<'_>, max: usize) -> Result<()> {
        let is_text = u.arbitrary::<bool>()?;
        let payload = if is_text {
            text(u, max)?.as_bytes()
        } else {
            bytes(u, max)?
        };
        let compressed = match &mut self.deflater {
            Some(deflater) if u.ratio(3, 4)? => deflater.compress(payload),
            _ => None,
        };
        let message = if is_text {
            let text = std::str::from_utf8(payload).unwrap_or_default();
            Message::Text(Utf8Bytes::from(text))
        } else {
            Message::Binary(Bytes::copy_from_slice(payload))
        };
        let wire_payload: Vec<u8> = match &compressed {
            Some(c) => c.to_vec(),
            None => payload.to_vec(),
        };
        let fragments = u.int_in_range(1..=4usize)?;
        let mut cuts: Vec<usize> = (1..fragments)
            .map(|_| u.int_in_range(0..=wire_payload.len()))
            .collect::<Result<_>>()?;
        cuts.sort_unstable();
        cuts.push(wire_payload.len());
        let mut start = 0;
        for (i, &end) in cuts.iter().enumerate() {
            let first = i == 0;
            let last = i + 1 == cuts.len();
            let opcode = match (first, is_text) {
                (false, _) => OpCode::Continuation,
                (true, true) => OpCode::Text,
                (true, false) => OpCode::Binary,
            };
            let piece = wire_payload[start..end].to_vec();
            self.frame(u, last, first && compressed.is_some(), opcode, &piece)?;
            start = end;
            if !last && u.ratio(1, 3)? {
                self.control(u)?;
            }
        }
        self.expected.push(message);
        Ok(())
    }
}

/// What a decoder made of some bytes: the messages, then the error that stopped it, if any.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// Every message decoded, in order.
    pub messages: Vec<Message>,
    /// The error that stopped decoding.
    pub error: Option<ProtocolError>,
}

/// Runs `decoder` over `buf` until it wants more bytes or fails, collecting into `out`.
/// Returns false after an error (the decoder must not be used again).
fn drain(decoder: &mut Decoder, buf: &mut BytesMut, out: &mut Outcome) -> bool {
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(Some(message)) => {
                // A message always consumes bytes; otherwise a caller would loop forever.
                assert!(buf.len() < before, "message without consuming input");
                out.messages.push(message);
            }
            Ok(None) => {
                assert!(decoder.bytes_wanted(buf.len()) >= 1);
                return true;
            }
            Err(e) => {
                out.error = Some(e);
                return false;
            }
        }
    }
}

/// Feeds all of `wire` at once.
pub fn decode_at_once(mut decoder: Decoder, wire: &[u8]) -> Outcome {
    let mut out = Outcome {
        messages: Vec::new(),
        error: None,
    };
    let mut buf = BytesMut::from(wire);
    drain(&mut decoder, &mut buf, &mut out);
    out
}

/// Feeds `wire` in chunks whose sizes come from `seed` (single bytes, a few bytes, larger runs),
/// so that headers, payloads and UTF-8 characters are split across reads.
pub fn decode_chunked(mut decoder: Decoder, wire: &[u8], seed: u64) -> Outcome {
    let mut out = Outcome {
        messages: Vec::new(),
        error: None,
    };
    let mut state = seed | 1;
    let mut next = || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut buf = BytesMut::new();
    let mut at = 0;
    while at < wire.len() {
        let r = next();
        let size = match r % 4 {
            0 => 1,
            1 => 1 + (r >> 8) as usize % 8,
            2 => 1 + (r >> 8) as usize % 64,
            _ => 1 + (r >> 8) as usize % 4096,
        };
        let end = (at + size).min(wire.len());
        buf.extend_from_slice(&wire[at..end]);
        at = end;
        if !drain(&mut decoder, &mut buf, &mut out) {
            break;
        }
    }
    out
}

/// Limits chosen by the input: the defaults, small ones (so every limit path is reached), or
/// the extremes.
pub fn limits(u: &mut Unstructured<'_>) -> Result<Limits> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => Limits::default(),
        1 => Limits::default()
            .max_frame_size(u.int_in_range(0..=300)?)
            .max_message_size(u.int_in_range(0..=600)?)
            .max_fragments(u.int_in_range(0..=8)?),
        2 => Limits::default()
            .max_frame_size(usize::MAX)
            .max_message_size(usize::MAX)
            .max_fragments(usize::MAX),
        _ => Limits::default()
            .max_frame_size(u.arbitrary()?)
            .max_message_size(u.arbitrary()?)
            .max_fragments(u.arbitrary()?),
    })
}

/// Limits from one plain byte, for the raw mode: 1 lifts every limit (`usize::MAX`), 2 sets
/// small ones (125-byte frames, 256-byte messages, 4 fragments), anything else the defaults.
pub fn raw_limits(byte: u8) -> Limits {
    match byte {
        1 => Limits::default()
            .max_frame_size(usize::MAX)
            .max_message_size(usize::MAX)
            .max_fragments(usize::MAX),
        2 => Limits::default()
            .max_frame_size(125)
            .max_message_size(256)
            .max_fragments(4),
        _ => Limits::default(),
    }
}

/// The checks every decoded message must pass.
pub fn check_message(message: &Message, limits: &Limits) {
    match message {
        Message::Text(text) => {
            let bytes: &[u8] = text.as_ref();
            // `Utf8Bytes::as_str` is `from_utf8_unchecked`: the decoder's validation is all
            // that stands between the peer and undefined behaviour.
            let checked = std::str::from_utf8(bytes).expect("Message::Text holds invalid UTF-8");
            assert_eq!(checked, text.as_str());
            assert!(bytes.len() <= limits.max_message_size);
        }
        Message::Binary(data) => assert!(data.len() <= limits.max_message_size),
        Message::Ping(data) | Message::Pong(data) => assert!(data.len() <= MAX_CONTROL),
        Message::Close(None) => {}
        Message::Close(Some(frame)) => {
            assert!(close_code_valid(frame.code.as_u16()), "{frame:?}");
            assert!(frame.code.is_sendable());
            let reason: &[u8] = frame.reason.as_ref();
            assert!(std::str::from_utf8(reason).is_ok());
            assert!(2 + reason.len() <= MAX_CONTROL);
        }
        other => panic!("a kind of message the checks do not know: {other:?}"),
    }
}

/// The checks every decoding error must pass: it maps to the close code RFC 6455 §7.4.1 gives
/// that kind of failure, one that may be sent, with a reason.
pub fn check_error(error: &ProtocolError) {
    let expected = match error {
        ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => 1007,
        ProtocolError::FrameTooLarge
        | ProtocolError::MessageTooLarge
        | ProtocolError::TooManyFragments => 1009,
        _ => 1002,
    };
    let code = error.close_code();
    assert_eq!(code.as_u16(), expected, "{error:?}");
    assert!(code.is_sendable());
    assert!(!error.reason().is_empty());
    assert!(error.reason().len() <= MAX_CONTROL - 2);
    assert!(!error.to_string().is_empty());
}

/// Checks an outcome's messages and error.
pub fn check_outcome(outcome: &Outcome, limits: &Limits) {
    for message in &outcome.messages {
        check_message(message, limits);
    }
    if let Some(error) = &outcome.error {
        check_error(error);
    }
}

/// One frame that may break any rule: any first byte (mostly a plausible one), a mask that
/// may be missing or unexpected, lengths that are not minimal or lie, payloads that are valid
/// text, text with a character cut off, or arbitrary bytes.
pub fn chaos_frame(u: &mut Unstructured<'_>, role: Role, out: &mut Vec<u8>) -> Result<()> {
    const OPCODES: [OpCode; 6] = [
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ];
    let b0 = if u.ratio(7, 8)? {
        let opcode = *u.choose(&OPCODES)?;
        let rsv1 = u.ratio(1, 4)?;
        let mut b0 = first_byte(u.ratio(3, 4)?, rsv1, opcode);
        if u.ratio(1, 32)? {
            b0 |= 0x30 & u.arbitrary::<u8>()?;
        }
        b0
    } else {
        u.arbitrary()?
    };
    let masked = (role == Role::Server) != u.ratio(1, 16)?;
    let mask = if masked { Some(u.arbitrary()?) } else { None };
    let control = b0 & 0x08 != 0;
    let max = if control && u.ratio(7, 8)? {
        MAX_CONTROL
    } else {
        4096
    };
    let payload: Vec<u8> = match u.int_in_range(0..=3u8)? {
        0 => text(u, max)?.as_bytes().to_vec(),
        1 => {
            let mut t = text(u, max)?.as_bytes().to_vec();
            // Cut the last character: the text continues in a later fragment, or is invalid.
            if let Some(pos) = t.iter().rposition(|&b| b >= 0xC0) {
                t.truncate(pos + u.int_in_range(1..=2)?.min(t.len() - pos));
            }
            t
        }
        2 if control => {
            let mut p = u.arbitrary::<u16>()?.to_be_bytes().to_vec();
            p.extend_from_slice(text(u, max)?.as_bytes());
            p
        }
        _ => bytes(u, max)?.to_vec(),
    };
    let form = match u.int_in_range(0..=15u8)? {
        0 => LenForm::Force16,
        1 => LenForm::Force64,
        2 => LenForm::Claim(u.arbitrary()?),
        3 => LenForm::Claim(payload.len() as u64 + u.int_in_range(1..=64)?),
        _ => LenForm::Minimal,
    };
    write_frame(out, b0, mask, &payload, form);
    Ok(())
}

/// The deflate half of the decoder targets: negotiated parameters, the peer's compressor and
/// the decoder's decompressor, all from the input.
pub struct DeflateSetup {
    /// The agreed parameters.
    pub params: tower_websocket::DeflateParams,
    /// The peer's compression settings (level and threshold).
    pub config: tower_websocket::DeflateConfig,
}

impl DeflateSetup {
    /// Parameters as a handshake could agree them (windows 8–15 for the client, 9–15 for the
    /// server, context takeover either way), and any level.
    pub fn from_input(u: &mut Unstructured<'_>) -> Result<Self> {
        let params = tower_websocket::DeflateParams {
            server_no_context_takeover: u.arbitrary()?,
            client_no_context_takeover: u.arbitrary()?,
            server_max_window_bits: u.int_in_range(9..=15)?,
            client_max_window_bits: u.int_in_range(8..=15)?,
        };
        let config = tower_websocket::DeflateConfig::default().level(u.int_in_range(0..=9)?);
        Ok(Self { params, config })
    }

    /// The same from two plain bytes: bit 0 and 1 of `flags` are server and client no context
    /// takeover, bits 2–4 and 5–7 the server and client windows (9 + n, 8 + n, at most 15).
    pub fn from_bytes(flags: u8, level: u8) -> Self {
        let params = tower_websocket::DeflateParams {
            server_no_context_takeover: flags & 1 != 0,
            client_no_context_takeover: flags & 2 != 0,
            server_max_window_bits: (9 + ((flags >> 2) & 7)).min(15),
            client_max_window_bits: (8 + (flags >> 5)).min(15),
        };
        let config = tower_websocket::DeflateConfig::default().level(u32::from(level % 10));
        Self { params, config }
    }
}

/// The `decoder` and `decoder_deflate` targets.
///
/// The first byte picks the decoder's role and the mode, the next eight seed the chunk sizes.
/// In the raw mode (bit 2) the rest is the wire itself, after two bytes of deflate parameters
/// if `deflate` ([`DeflateSetup::from_bytes`]) and one of limits ([`raw_limits`]); this is the
/// form of the committed seed corpus. In the valid mode the input is a
/// sequence of messages written as a conforming peer would (fragmented anywhere, control frames
/// between fragments, compressed if `deflate`), and the decoder must return exactly those
/// messages, whether fed at once or in chunks. In the chaos mode valid messages are mixed with
/// frames that break rules and raw garbage, under input-chosen limits; then feeding at once and
/// in chunks must agree, and every message and error must pass [`check_outcome`].
pub fn fuzz_decoder(data: &[u8], deflate: bool) -> Result<()> {
    let mut u = Unstructured::new(data);
    let flags = u.arbitrary::<u8>()?;
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let valid = flags & 2 != 0;
    let raw = flags & 4 != 0;
    let seed = u.arbitrary::<u64>()?;
    let setup = match (deflate, raw) {
        (false, _) => None,
        (true, false) => Some(DeflateSetup::from_input(&mut u)?),
        (true, true) => Some(DeflateSetup::from_bytes(
            u.arbitrary::<u8>()?,
            u.arbitrary::<u8>()?,
        )),
    };
    let limits = match (valid, raw) {
        (_, true) => raw_limits(u.arbitrary()?),
        (true, false) => Limits::default(),
        (false, false) => limits(&mut u)?,
    };
    let decoder = || {
        let mut decoder = Decoder::new(role, limits);
        if let Some(setup) = &setup {
            decoder.set_inflater(fuzzing::inflater(&setup.params, role));
        }
        decoder
    };
    let deflater = setup
        .as_ref()
        .map(|s| fuzzing::deflater(&s.params, peer(role), &s.config));
    let mut writer = ValidWriter::new(role, deflater);
    if raw {
        writer.wire = u.bytes(u.len())?.to_vec();
    }
    while !u.is_empty() {
        let step = match u.int_in_range(0..=7u8)? {
            0 | 1 => writer.control(&mut u),
            2..=4 if !valid => chaos_frame(&mut u, role, &mut writer.wire),
            5 if !valid => bytes(&mut u, 64).map(|b| writer.wire.extend_from_slice(b)),
            _ => writer.data(&mut u, 4096),
        };
        if step.is_err() {
            break;
        }
    }
    let at_once = decode_at_once(decoder(), &writer.wire);
    let chunked = decode_chunked(decoder(), &writer.wire, seed);
    check_outcome(&at_once, &limits);
    if valid && !raw {
        assert_eq!(at_once.error, None);
        assert_eq!(at_once.messages, writer.expected);
    }
    assert_eq!(at_once, chunked, "fed at once vs in chunks");
    Ok(())
}
