//! Frames to messages: the receive half of the protocol state machine.

use bytes::{Buf, BytesMut};

use super::close::parse_close_payload;
use super::deflate::Inflater;
use super::frame::{FrameHeader, OpCode, RSV1, decode_header};
use super::mask::apply_mask;
use super::utf8::{self, Utf8Validator};
use super::{Limits, Message, ProtocolError, Role, Utf8Bytes};

/// Turns received bytes into messages, enforcing every receive-side rule of RFC 6455.
///
/// Feed it the connection's read buffer with [`decode`](Self::decode); it consumes complete
/// frames, unmasks payloads in place, validates text incrementally (failing at the first invalid
/// byte even while a frame is still arriving), reassembles fragmented messages around interleaved
/// control frames, and enforces [`Limits`]. A single-frame message's payload is split out of the
/// buffer without copying.
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    limits: Limits,
    allowed_rsv: u8,
    frame: Option<FrameState>,
    // Boxed: only while a fragmented message is being reassembled.
    message: Option<Box<Fragmented>>,
    utf8: Utf8Validator,
    // Boxed: most connections do not compress, and every idle one carries this field.
    inflater: Option<Box<Inflater>>,
}

/// The frame whose header has been consumed and whose payload is (partly) in the buffer.
#[derive(Debug)]
struct FrameState {
    header: FrameHeader,
    len: usize,
    /// Payload bytes already unmasked (and validated, for text).
    done: usize,
    /// Validate as UTF-8 while it arrives (uncompressed text).
    text: bool,
    /// First frame of a compressed message (RSV1 with permessage-deflate).
    compressed: bool,
}

/// A fragmented data message being reassembled.
#[derive(Debug)]
struct Fragmented {
    opcode: OpCode,
    compressed: bool,
    data: BytesMut,
    fragments: usize,
}

impl Decoder {
    /// A decoder for the given end of the connection.
    pub fn new(role: Role, limits: Limits) -> Self {
        Self {
            role,
            limits,
            allowed_rsv: 0,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            inflater: None,
        }
    }

    /// Enables permessage-deflate: RSV1 marks the first frame of a compressed message, whose
    /// payload is inflated (within [`Limits::max_message_size`]) before it is returned.
    #[cfg(feature = "deflate")]
    pub fn set_inflater(&mut self, inflater: Inflater) {
        self.inflater = Some(Box::new(inflater));
        self.allowed_rsv = RSV1;
    }

    /// Which end of the connection this decoder serves.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Decodes the next message from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete message yet (whatever complete frames it
    /// held were consumed), `Ok(Some(message))` for a data or control message, and `Err` when
    /// the peer broke a rule; the decoder must not be used after an error.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, ProtocolError> {
        loop {
            let mut frame = match self.frame.take() {
                Some(frame) => frame,
                None => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let Some((header, header_len)) = decode_header(buf, self.allowed_rsv)? else {
                        return Ok(None);
                    };
                    let frame = self.start_frame(header)?;
                    buf.advance(header_len);
                    frame
                }
            };
            let available = buf.len().min(frame.len);
            if available > frame.done {
                let fresh = &mut buf[frame.done..available];
                if let Some(key) = frame.header.mask {
                    apply_mask(fresh, key, frame.done);
                }
                if frame.text {
                    self.utf8
                        .feed(fresh)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                frame.done = available;
            }
            if available < frame.len {
                self.frame = Some(frame);
                return Ok(None);
            }
            let payload = buf.split_to(frame.len);
            if let Some(message) = self.finish_frame(&frame, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// How many more bytes the frame in progress needs, given `buffered` bytes in the read
    /// buffer; a hint for sizing the next read (at least 1).
    pub fn bytes_wanted(&self, buffered: usize) -> usize {
        match &self.frame {
            Some(frame) => frame.len.saturating_sub(buffered).max(1),
            None => 1,
        }
    }

    /// Whether a fragmented message or a frame is partly received.
    pub fn is_mid_message(&self) -> bool {
        self.frame.is_some() || self.message.is_some()
    }

    fn start_frame(&mut self, header: FrameHeader) -> Result<FrameState, ProtocolError> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let len = usize::try_from(header.payload_len).map_err(|_| ProtocolError::FrameTooLarge)?;
        if len > self.limits.max_frame_size {
            return Err(ProtocolError::FrameTooLarge);
        }
        // RSV1 (permessage-deflate) is only allowed on the first frame of a data message.
        let compressed = header.rsv & RSV1 != 0;
        if compressed && !matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            return Err(ProtocolError::ReservedBits);
        }
        let text = match header.opcode {
            OpCode::Continuation => {
                let Some(message) = &self.message else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                if message.fragments >= self.limits.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                if message.data.len().saturating_add(len) > self.limits.max_message_size {
                    return Err(ProtocolError::MessageTooLarge);
                }
                message.opcode == OpCode::Text && !message.compressed
            }
            OpCode::Text | OpCode::Binary => {
                if self.message.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                if len > self.limits.max_message_size {
                    return Err(ProtocolError::MessageTooLarge);
                }
                header.opcode == OpCode::Text && !compressed
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => false,
        };
        Ok(FrameState {
            header,
            len,
            done: 0,
            text,
            compressed,
        })
    }

    fn finish_frame(
        &mut self,
        frame: &FrameState,
        payload: BytesMut,
    ) -> Result<Option<Message>, ProtocolError> {
        let fin = frame.header.fin;
        let message = match frame.header.opcode {
            OpCode::Ping => Message::Ping(payload.freeze()),
            OpCode::Pong => Message::Pong(payload.freeze()),
            OpCode::Close => Message::Close(parse_close_payload(payload.freeze())?),
            opcode @ (OpCode::Text | OpCode::Binary) if !fin => {
                self.message = Some(Box::new(Fragmented {
                    opcode,
                    compressed: frame.compressed,
                    data: payload,
                    fragments: 1,
                }));
                return Ok(None);
            }
            opcode @ (OpCode::Text | OpCode::Binary) => {
                self.complete(opcode, frame.compressed, payload)?
            }
            OpCode::Continuation => {
                let Some(message) = self.message.as_mut() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                message.data.extend_from_slice(&payload);
                message.fragments += 1;
                if !fin {
                    return Ok(None);
                }
                let Some(message) = self.message.take() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                let Fragmented {
                    opcode,
                    compressed,
                    data,
                    ..
                } = *message;
                self.complete(opcode, compressed, data)?
            }
        };
        Ok(Some(message))
    }

    fn complete(
        &mut self,
        opcode: OpCode,
        compressed: bool,
        data: BytesMut,
    ) -> Result<Message, ProtocolError> {
        let text = opcode == OpCode::Text;
        if compressed {
            let inflater = self.inflater.as_mut().ok_or(ProtocolError::ReservedBits)?;
            let data = inflater.decompress(&data, self.limits.max_message_size)?;
            if !text {
                return Ok(Message::Binary(data));
            }
            utf8::validate(&data).map_err(|_| ProtocolError::InvalidUtf8)?;
            return Ok(Message::Text(Utf8Bytes::from_validated(data)));
        }
        if text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Message::Text(Utf8Bytes::from_validated(data.freeze())))
        } else {
            Ok(Message::Binary(data.freeze()))
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::frame::{MAX_HEADER_LEN, encode_header};
    use super::super::{CloseCode, CloseFrame};
    use super::*;

    const KEY: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

    /// A client (masked) frame.
    fn frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: Some(KEY),
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&mut head, &header);
        let mut out = head[..n].to_vec();
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], KEY, 0);
        out
    }

    fn server() -> Decoder {
        Decoder::new(Role::Server, Limits::default())
    }

    /// Feeds `wire` one byte at a time, collecting every message until the first error.
    fn feed_bytewise(
        decoder: &mut Decoder,
        wire: &[u8],
    ) -> (Vec<Message>, Option<(ProtocolError, usize)>) {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for (i, byte) in wire.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(m)) => out.push(m),
                    Ok(None) => break,
                    Err(e) => return (out, Some((e, i))),
                }
            }
        }
        (out, None)
    }

    fn decode_all(wire: &[u8]) -> Result<Vec<Message>, ProtocolError> {
        let mut d = server();
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        while let Some(m) = d.decode(&mut buf)? {
            out.push(m);
        }
        // Byte-by-byte feeding must agree with feeding everything at once.
        let (bytewise, err) = feed_bytewise(&mut server(), wire);
        assert!(err.is_none());
        assert_eq!(bytewise, out);
        Ok(out)
    }

    #[test]
    fn single_frames_of_every_kind() {
        let mut wire = frame(true, OpCode::Text, "héllo".as_bytes());
        wire.extend(frame(true, OpCode::Binary, &[0, 1, 2, 255]));
        wire.extend(frame(true, OpCode::Ping, b"p"));
        wire.extend(frame(true, OpCode::Pong, b""));
        wire.extend(frame(true, OpCode::Close, &[0x03, 0xE8, b'b', b'y', b'e']));
        let msgs = decode_all(&wire).unwrap();
        assert_eq!(
            msgs,
            vec![
                Message::text("héllo"),
                Message::binary(Bytes::from_static(&[0, 1, 2, 255])),
                Message::Ping(Bytes::from_static(b"p")),
                Message::Pong(Bytes::new()),
                Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye"))),
            ]
        );
    }

    #[test]
    fn large_frames_use_extended_lengths() {
        for len in [125usize, 126, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let mut d = server();
            let mut buf = BytesMut::from(&frame(true, OpCode::Binary, &payload)[..]);
            assert_eq!(d.decode(&mut buf).unwrap(), Some(Message::binary(payload)));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn single_frame_payload_is_not_copied() {
        let mut d = server();
        let mut buf = BytesMut::from(&frame(true, OpCode::Binary, &[7u8; 1000])[..]);
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let Some(Message::Binary(data)) = d.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert!(
            range.contains(&(data.as_ptr() as usize)),
            "payload was copied"
        );
    }

    #[test]
    fn fragmented_message_with_interleaved_control_frames() {
        let mut wire = frame(false, OpCode::Text, "κό".as_bytes());
        wire.extend(frame(true, OpCode::Ping, b"1"));
        wire.extend(frame(false, OpCode::Continuation, &"σμε".as_bytes()[..3]));
        wire.extend(frame(true, OpCode::Pong, b"2"));
        wire.extend(frame(false, OpCode::Continuation, b""));
        wire.extend(frame(true, OpCode::Continuation, &"σμε".as_bytes()[3..]));
        wire.extend(frame(false, OpCode::Binary, b"ab"));
        wire.extend(frame(true, OpCode::Continuation, b"cd"));
        let msgs = decode_all(&wire).unwrap();
        assert_eq!(
            msgs,
            vec![
                Message::Ping(Bytes::from_static(b"1")),
                Message::Pong(Bytes::from_static(b"2")),
                Message::text("κόσμε"),
                Message::binary(&b"abcd"[..]),
            ]
        );
    }

    fn first_error(wire: &[u8]) -> ProtocolError {
        let (_, err) = feed_bytewise(&mut server(), wire);
        let (err, _) = err.expect("expected a protocol error");
        let mut buf = BytesMut::from(wire);
        let mut d = server();
        let at_once = loop {
            match d.decode(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error when fed at once"),
                Err(e) => break e,
            }
        };
        assert_eq!(at_once, err);
        err
    }

    #[test]
    fn sequencing_errors() {
        assert_eq!(
            first_error(&frame(true, OpCode::Continuation, b"x")),
            ProtocolError::UnexpectedContinuation
        );
        let mut wire = frame(false, OpCode::Text, b"a");
        wire.extend(frame(true, OpCode::Text, b"b"));
        assert_eq!(first_error(&wire), ProtocolError::ExpectedContinuation);
        let mut wire = frame(false, OpCode::Binary, b"a");
        wire.extend(frame(true, OpCode::Binary, b"b"));
        assert_eq!(first_error(&wire), ProtocolError::ExpectedContinuation);
    }

    #[test]
    fn unmasked_client_frame_and_masked_server_frame() {
        assert_eq!(
            first_error(&[0x81, 0x01, b'a']),
            ProtocolError::UnmaskedFrame
        );
        let mut client = Decoder::new(Role::Client, Limits::default());
        let mut buf = BytesMut::from(&frame(true, OpCode::Text, b"a")[..]);
        assert_eq!(client.decode(&mut buf), Err(ProtocolError::MaskedFrame));
        let mut buf = BytesMut::from(&[0x81, 0x01, b'a'][..]);
        let mut client = Decoder::new(Role::Client, Limits::default());
        assert_eq!(client.decode(&mut buf), Ok(Some(Message::text("a"))));
    }

    #[test]
    fn close_frame_rules() {
        assert_eq!(
            first_error(&frame(true, OpCode::Close, &[0x03])),
            ProtocolError::InvalidClosePayload
        );
        assert_eq!(
            first_error(&frame(true, OpCode::Close, &[0x03, 0xED])),
            ProtocolError::InvalidCloseCode(1005)
        );
        assert_eq!(
            first_error(&frame(true, OpCode::Close, &[0x03, 0xE8, 0xff])),
            ProtocolError::InvalidUtf8
        );
        assert_eq!(
            decode_all(&frame(true, OpCode::Close, &[])).unwrap(),
            vec![Message::Close(None)]
        );
    }

    #[test]
    fn invalid_utf8_fails_fast_inside_an_incomplete_frame() {
        let text =
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64";
        let wire = frame(true, OpCode::Text, text);
        let (msgs, err) = feed_bytewise(&mut server(), &wire);
        assert!(msgs.is_empty());
        let (err, at) = err.unwrap();
        assert_eq!(err, ProtocolError::InvalidUtf8);
        // Header is 6 bytes; 0xF4 is payload byte 11 and 0x90 byte 12: fail on receiving 0x90.
        assert_eq!(at, 6 + 12);
        assert!(at < wire.len() - 1, "failed only at the end of the frame");
    }

    #[test]
    fn invalid_utf8_fails_fast_across_fragments() {
        let mut wire = frame(false, OpCode::Text, "κόσμε".as_bytes());
        let second = frame(false, OpCode::Continuation, b"\xf4\x90\x80\x80");
        let fail_at = wire.len() + 6 + 1; // the 0x90
        wire.extend(second);
        wire.extend(frame(true, OpCode::Continuation, b"edited"));
        let (_, err) = feed_bytewise(&mut server(), &wire);
        assert_eq!(err, Some((ProtocolError::InvalidUtf8, fail_at)));
        // A character split across fragments is fine.
        let mut wire = frame(false, OpCode::Text, &"€".as_bytes()[..1]);
        wire.extend(frame(true, OpCode::Continuation, &"€".as_bytes()[1..]));
        assert_eq!(decode_all(&wire).unwrap(), vec![Message::text("€")]);
        // A message that ends inside a character is invalid.
        assert_eq!(
            first_error(&frame(true, OpCode::Text, &"€".as_bytes()[..2])),
            ProtocolError::InvalidUtf8
        );
    }

    #[test]
    fn limits_fail_on_the_header_before_buffering() {
        let limits = Limits::default()
            .max_frame_size(10)
            .max_message_size(15)
            .max_fragments(3);
        let check = |wire: &[u8], expected: ProtocolError| {
            let mut d = Decoder::new(Role::Server, limits);
            let mut buf = BytesMut::from(wire);
            let err = loop {
                match d.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("no error"),
                    Err(e) => break e,
                }
            };
            assert_eq!(err, expected);
            assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
        };
        // Only the header of the oversized frame is present: it still fails.
        check(
            &frame(true, OpCode::Binary, &[0; 11])[..6],
            ProtocolError::FrameTooLarge,
        );
        let mut wire = frame(false, OpCode::Binary, &[0; 10]);
        wire.extend(frame(true, OpCode::Continuation, &[0; 6]));
        check(&wire, ProtocolError::MessageTooLarge);
        let mut wire = frame(false, OpCode::Binary, b"");
        wire.extend(frame(false, OpCode::Continuation, b""));
        wire.extend(frame(false, OpCode::Continuation, b""));
        wire.extend(frame(true, OpCode::Continuation, b""));
        check(&wire, ProtocolError::TooManyFragments);
    }

    #[test]
    fn bytes_wanted_reports_the_rest_of_the_frame() {
        let mut d = server();
        let wire = frame(true, OpCode::Binary, &[1; 1000]);
        let mut buf = BytesMut::from(&wire[..100]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(d.bytes_wanted(buf.len()), 1000 - (100 - 8));
        assert!(d.is_mid_message());
    }
}
