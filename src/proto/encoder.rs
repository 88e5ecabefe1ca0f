//! Messages to frames: the send half of the protocol.

use bytes::Bytes;
use rand::RngCore;

use super::close::encode_close_payload;
use super::deflate::Deflater;
use super::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, RSV1, encode_header};
use super::mask::apply_mask;
use super::{Message, PreparedMessage, Role, WriteBuffer};

/// Encodes messages as frames into a [`WriteBuffer`].
///
/// A server writes headers in front of the payload without touching it (large payloads are not
/// even copied). A client masks every frame with a fresh key (RFC 6455 §5.3, §10.3).
#[derive(Debug)]
pub struct Encoder {
    role: Role,
    keys: MaskKeys,
    // Boxed: most connections do not compress, and every idle one carries this field.
    deflater: Option<Box<Deflater>>,
    /// Data messages with a larger payload go out in frames of at most this many payload
    /// bytes; 0 sends every message as one frame.
    frame_size: usize,
}

impl Encoder {
    /// An encoder for the given end of the connection.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            keys: MaskKeys::new(),
            deflater: None,
            frame_size: 0,
        }
    }

    /// Fragments data messages larger than `bytes` into frames of at most `bytes` of payload
    /// each (RFC 6455 §5.4); `None` or 0 sends every message as one frame. Control frames are
    /// never fragmented, and a compressed message is fragmented after compression (RSV1 on its
    /// first frame only, RFC 7692 §6.1). Prepared messages keep their one shared frame.
    pub fn set_frame_size(&mut self, bytes: Option<usize>) {
        self.frame_size = bytes.unwrap_or(0);
    }

    /// Enables permessage-deflate: data messages at or over the deflater's threshold are sent
    /// compressed, with RSV1 set on their (single) frame.
    #[cfg(feature = "deflate")]
    pub fn set_deflater(&mut self, deflater: Deflater) {
        self.deflater = Some(Box::new(deflater));
    }

    /// Queues `message`: one frame, or for a data message over the
    /// [frame size](Self::set_frame_size), a first frame and continuations.
    pub fn encode(&mut self, out: &mut WriteBuffer, message: Message) {
        let (opcode, payload) = match message {
            Message::Text(text) => return self.encode_data(out, OpCode::Text, text.into_bytes()),
            Message::Binary(data) => return self.encode_data(out, OpCode::Binary, data),
            Message::Ping(data) => (OpCode::Ping, data),
            Message::Pong(data) => (OpCode::Pong, data),
            Message::Close(frame) => (OpCode::Close, encode_close_payload(frame.as_ref())),
        };
        self.encode_frame(out, true, 0, opcode, payload);
    }

    /// A data message: compressed if permessage-deflate is on and it is large enough.
    fn encode_data(&mut self, out: &mut WriteBuffer, opcode: OpCode, payload: Bytes) {
        if let Some(deflater) = self.deflater.as_mut().filter(|d| d.wants(payload.len())) {
            if let Some(compressed) = deflater.compress(&payload) {
                return self.encode_fragments(out, RSV1, opcode, compressed);
            }
        }
        self.encode_fragments(out, 0, opcode, payload);
    }

    /// One data message's frames: the first with `opcode` and `rsv`, then continuations of at
    /// most the frame size each (slices of `payload`, not copies).
    fn encode_fragments(&mut self, out: &mut WriteBuffer, rsv: u8, opcode: OpCode, payload: Bytes) {
        let size = self.frame_size;
        if size == 0 || payload.len() <= size {
            return self.encode_frame(out, true, rsv, opcode, payload);
        }
        let (mut opcode, mut rsv) = (opcode, rsv);
        let mut start = 0;
        while start < payload.len() {
            let end = payload.len().min(start + size);
            let fin = end == payload.len();
            self.encode_frame(out, fin, rsv, opcode, payload.slice(start..end));
            (opcode, rsv, start) = (OpCode::Continuation, 0, end);
        }
    }

    /// Queues a [`PreparedMessage`]: its shared frame (compressed, if this connection
    /// compresses it), or, for a client, the message encoded as usual.
    pub fn encode_prepared(&mut self, out: &mut WriteBuffer, prepared: &PreparedMessage) {
        if self.role == Role::Client {
            return self.encode(out, prepared.message().clone());
        }
        if let Some(deflater) = &mut self.deflater {
            if let Some(frame) = prepared.compressed_frame(deflater) {
                deflater.forget_context();
                return out.push(&[], frame);
            }
        }
        out.push(&[], prepared.plain_frame());
    }

    /// Queues one frame with explicit FIN and RSV bits.
    pub fn encode_frame(
        &mut self,
        out: &mut WriteBuffer,
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        payload: Bytes,
    ) {
        let mask = match self.role {
            Role::Server => None,
            Role::Client => Some(self.keys.next_key()),
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = encode_header(&mut head, &header);
        match mask {
            None => out.push(&head[..head_len], payload),
            Some(key) => apply_mask(out.push_copied(&head[..head_len], &payload), key, 0),
        }
    }
}

/// Masking keys from a CSPRNG: rand's thread-local ChaCha12 generator, seeded from the OS and
/// reseeded as it goes. RFC 6455 §10.3 wants keys the peer (and anything between) cannot predict
/// from earlier frames, so that a hostile page cannot choose the bytes a proxy sees; a counter,
/// even a hashed one, is one key away from the next. ChaCha gives 4 bytes in a few nanoseconds
/// from a block buffer, so a key per frame costs next to nothing against the copy that masking
/// already makes.
#[derive(Debug)]
struct MaskKeys;

impl MaskKeys {
    fn new() -> Self {
        Self
    }

    fn next_key(&mut self) -> [u8; 4] {
        rand::rng().next_u32().to_ne_bytes()
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;

    use bytes::BytesMut;

    use super::super::frame::decode_header;
    use super::super::{CloseCode, CloseFrame, Decoder, Limits};
    use super::*;

    fn wire(buf: &WriteBuffer) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 16];
        let n = buf.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn server_frames_are_unmasked_rfc_example() {
        let mut out = WriteBuffer::new();
        Encoder::new(Role::Server).encode(&mut out, Message::text("Hello"));
        assert_eq!(wire(&out), [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    }

    #[test]
    fn round_trip_through_the_opposite_decoder() {
        let messages = vec![
            Message::text("hello"),
            Message::binary(vec![0u8; 126]),
            Message::binary(vec![5u8; 70_000]),
            Message::Ping(Bytes::from_static(b"ping")),
            Message::Pong(Bytes::new()),
            Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye"))),
        ];
        for (sender, receiver) in [(Role::Client, Role::Server), (Role::Server, Role::Client)] {
            let mut out = WriteBuffer::new();
            let mut encoder = Encoder::new(sender);
            for m in messages.clone() {
                encoder.encode(&mut out, m);
            }
            let mut buf = BytesMut::from(&wire(&out)[..]);
            let mut decoder = Decoder::new(receiver, Limits::default());
            let mut got = Vec::new();
            while let Some(m) = decoder.decode(&mut buf).unwrap() {
                got.push(m);
            }
            assert_eq!(got, messages);
        }
    }

    /// A frame's shape: fin, rsv bits, opcode, payload length.
    type Shape = (bool, u8, u8, usize);

    /// The frames on the wire, payloads concatenated.
    fn frames(mut wire: &[u8]) -> (Vec<Shape>, Vec<u8>) {
        let (mut frames, mut payload) = (Vec::new(), Vec::new());
        while !wire.is_empty() {
            let (header, head) = decode_header(wire, 0b111).unwrap().expect("a whole header");
            assert_eq!(header.mask, None, "a server's frames are not masked");
            let len = header.payload_len as usize;
            let (fin, rsv, opcode) = (header.fin, header.rsv << 4, header.opcode.as_u8());
            frames.push((fin, rsv, opcode, len));
            payload.extend_from_slice(&wire[head..head + len]);
            wire = &wire[head + len..];
        }
        (frames, payload)
    }

    #[test]
    fn messages_over_the_frame_size_are_fragmented_and_reassemble() {
        let mut encoder = Encoder::new(Role::Server);
        encoder.set_frame_size(Some(4));
        let mut out = WriteBuffer::new();
        encoder.encode(&mut out, Message::text("hello world"));
        encoder.encode(&mut out, Message::binary(&b"four"[..]));
        encoder.encode(&mut out, Message::Ping(Bytes::from_static(b"a long ping")));
        let (got, payload) = frames(&wire(&out));
        assert_eq!(
            got,
            [
                (false, 0, 0x1, 4),
                (false, 0, 0x0, 4),
                (true, 0, 0x0, 3),
                (true, 0, 0x2, 4),
                (true, 0, 0x9, 11),
            ]
        );
        assert_eq!(payload, b"hello worldfoura long ping");

        // Masked fragments, each with its own key, reassemble in the peer's decoder.
        let mut client = Encoder::new(Role::Client);
        client.set_frame_size(Some(1000));
        let mut out = WriteBuffer::new();
        let big = Message::binary(vec![7u8; 10_500]);
        client.encode(&mut out, big.clone());
        let mut buf = BytesMut::from(&wire(&out)[..]);
        let mut decoder = Decoder::new(Role::Server, Limits::default());
        assert_eq!(decoder.decode(&mut buf).unwrap(), Some(big));
        assert!(buf.is_empty());
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn a_compressed_message_is_fragmented_with_rsv1_on_its_first_frame_only() {
        use super::super::DeflateParams;

        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        let config = super::super::DeflateConfig::new().threshold(0);
        let mut server = Encoder::new(Role::Server);
        server.set_deflater(params.deflater(Role::Server, &config));
        server.set_frame_size(Some(8));
        let text: String = (0..400)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        let mut out = WriteBuffer::new();
        server.encode(&mut out, Message::text(text.clone()));
        let bytes = wire(&out);
        let (got, _) = frames(&bytes);
        assert!(got.len() > 2, "{got:?}");
        assert_eq!(
            (got[0].1, got[0].2),
            (0x40, 0x1),
            "RSV1 and the opcode on the first"
        );
        assert!(got[1..].iter().all(|f| f.1 == 0 && f.2 == 0x0), "{got:?}");
        assert!(got.iter().all(|f| f.3 <= 8));

        let mut decoder = Decoder::new(Role::Client, Limits::default());
        decoder.set_inflater(params.inflater(Role::Client));
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Message::text(text)));
    }

    #[test]
    fn client_keys_differ_per_frame() {
        // 10,000 keys from a generator worth the name: no repeats to speak of (the birthday
        // bound for 32-bit keys is ~0.01 expected collisions), every byte value seen, and
        // every bit set in about half of the keys.
        let mut keys = MaskKeys::new();
        let all: Vec<[u8; 4]> = (0..10_000).map(|_| keys.next_key()).collect();
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert!(distinct.len() >= 9_998, "{} distinct keys", distinct.len());
        let mut seen = [false; 256];
        all.iter().flatten().for_each(|&b| seen[b as usize] = true);
        assert!(seen.iter().all(|&s| s));
        for bit in 0..32 {
            let ones = all
                .iter()
                .filter(|k| u32::from_ne_bytes(**k) >> bit & 1 == 1)
                .count();
            assert!(
                (4_500..5_500).contains(&ones),
                "bit {bit} set in {ones} keys"
            );
        }
    }

    #[test]
    fn client_frames_carry_the_keys_they_are_masked_with() {
        // Two encoders (two connections) never start from the same key sequence.
        let mut a = Encoder::new(Role::Client);
        let mut b = Encoder::new(Role::Client);
        let (mut out_a, mut out_b) = (WriteBuffer::new(), WriteBuffer::new());
        a.encode(&mut out_a, Message::text("same"));
        b.encode(&mut out_b, Message::text("same"));
        let (wa, wb) = (wire(&out_a), wire(&out_b));
        assert_eq!(wa[1], 0x80 | 4);
        assert_ne!(wa[2..6], wb[2..6], "two connections' first keys");
        let mut payload = wa[6..].to_vec();
        apply_mask(&mut payload, wa[2..6].try_into().unwrap(), 0);
        assert_eq!(payload, b"same");
    }
}
