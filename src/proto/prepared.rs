//! [`PreparedMessage`]: a message encoded once and sent to many connections (gorilla's
//! `PreparedMessage`), for broadcast.

use std::fmt;
use std::sync::{Arc, OnceLock};
#[cfg(feature = "deflate")]
use std::sync::{Mutex, PoisonError};

use bytes::{BufMut, Bytes, BytesMut};

use super::Message;
use super::deflate::Deflater;
#[cfg(feature = "deflate")]
use super::frame::RSV1;
use super::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, encode_header};

/// A message whose server frame is built once and shared, as [`Bytes`], by every connection
/// it is sent to; with permessage-deflate it is compressed once per compression setting
/// (level and window size) in use, not once per connection.
///
/// Cloning is cheap (one reference count). Send it with
/// [`Conn::send_prepared`](crate::Conn::send_prepared) or
/// [`Sender::send_prepared`](crate::Sender::send_prepared). On a client connection (which
/// must mask each frame with its own key) it is encoded like an ordinary message.
///
/// A compressed prepared frame starts from an empty compression context, so on a connection
/// that keeps its context between messages (context takeover) the connection's own compressor
/// is reset after it: correct, at some cost in ratio for the next message.
///
/// ```
/// use tower_websocket::{Message, PreparedMessage};
///
/// let prepared = PreparedMessage::new(Message::text("to everyone"));
/// let for_another_connection = prepared.clone(); // shares the encoded frame
/// assert_eq!(prepared.message(), &Message::text("to everyone"));
/// # drop(for_another_connection);
/// ```
#[derive(Clone)]
pub struct PreparedMessage {
    inner: Arc<Inner>,
}

struct Inner {
    message: Message,
    plain: OnceLock<Bytes>,
    /// Compressed frames by setting; `None` where compression failed.
    #[cfg(feature = "deflate")]
    compressed: Mutex<Vec<(Setting, Option<Bytes>)>>,
}

/// A compression setting: (level, window bits).
#[cfg(feature = "deflate")]
type Setting = (u32, u8);

impl PreparedMessage {
    /// Prepares `message` (any kind; typically text or binary).
    pub fn new(message: Message) -> Self {
        Self {
            inner: Arc::new(Inner {
                message,
                plain: OnceLock::new(),
                #[cfg(feature = "deflate")]
                compressed: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.inner.message
    }

    /// The opcode and payload of the message.
    fn parts(&self) -> (OpCode, Bytes) {
        let opcode = match &self.inner.message {
            Message::Text(_) => OpCode::Text,
            Message::Binary(_) => OpCode::Binary,
            Message::Ping(_) => OpCode::Ping,
            Message::Pong(_) => OpCode::Pong,
            Message::Close(_) => OpCode::Close,
        };
        (opcode, self.inner.message.clone().into_data())
    }

    /// The payload length, without encoding anything.
    pub(crate) fn payload_len(&self) -> usize {
        self.inner.message.payload_len()
    }

    /// The uncompressed server frame.
    pub(crate) fn plain_frame(&self) -> Bytes {
        self.inner
            .plain
            .get_or_init(|| {
                let (opcode, payload) = self.parts();
                server_frame(0, opcode, &payload)
            })
            .clone()
    }

    /// The compressed server frame for `deflater`'s setting, if the message is data and worth
    /// compressing there; built on first use for each setting.
    #[cfg(feature = "deflate")]
    pub(crate) fn compressed_frame(&self, deflater: &Deflater) -> Option<Bytes> {
        let (opcode, payload) = self.parts();
        if opcode.is_control() || !deflater.wants(payload.len()) {
            return None;
        }
        let key = deflater.setting();
        let mut cache = self
            .inner
            .compressed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, frame)) = cache.iter().find(|(k, _)| *k == key) {
            return frame.clone();
        }
        let frame = deflater
            .fresh()
            .compress(&payload)
            .map(|compressed| server_frame(RSV1, opcode, &compressed));
        cache.push((key, frame.clone()));
        frame
    }

    /// Without the `deflate` feature there is no deflater to compress for.
    #[cfg(not(feature = "deflate"))]
    pub(crate) fn compressed_frame(&self, deflater: &Deflater) -> Option<Bytes> {
        match *deflater {}
    }
}

/// One unmasked, final frame: header and payload in one buffer.
fn server_frame(rsv: u8, opcode: OpCode, payload: &[u8]) -> Bytes {
    let header = FrameHeader {
        fin: true,
        rsv,
        opcode,
        mask: None,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let head_len = encode_header(&mut head, &header);
    let mut frame = BytesMut::with_capacity(head_len + payload.len());
    frame.put_slice(&head[..head_len]);
    frame.put_slice(payload);
    frame.freeze()
}

impl fmt::Debug for PreparedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedMessage")
            .field("message", &self.inner.message)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "deflate")]
    use crate::proto::{Decoder, DeflateConfig, DeflateParams, Limits};
    use crate::proto::{Encoder, Role, WriteBuffer};

    fn drain(buf: &WriteBuffer) -> Vec<u8> {
        let mut slices = [std::io::IoSlice::new(&[]); 16];
        let n = buf.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn plain_frame_is_what_the_encoder_writes_and_is_shared() {
        let message = Message::binary(vec![5u8; 10_000]);
        let prepared = PreparedMessage::new(message.clone());
        let mut expected = WriteBuffer::new();
        Encoder::new(Role::Server).encode(&mut expected, message);
        assert_eq!(&prepared.plain_frame()[..], &drain(&expected)[..]);
        // The same allocation every time.
        assert_eq!(
            prepared.plain_frame().as_ptr(),
            prepared.clone().plain_frame().as_ptr()
        );
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn compressed_once_per_setting_and_readable_by_a_peer_mid_context() {
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        let config = DeflateConfig::new().threshold(0);
        let mut encoder = Encoder::new(Role::Server);
        encoder.set_deflater(params.deflater(Role::Server, &config));
        let mut decoder = Decoder::new(Role::Client, Limits::default());
        decoder.set_inflater(params.inflater(Role::Client));
        let text = "the same words again and again; ".repeat(40);
        let prepared = PreparedMessage::new(Message::text(text.clone()));
        let mut out = WriteBuffer::new();
        // Ordinary message (builds context), prepared, ordinary again (after the reset).
        encoder.encode(&mut out, Message::text(text.clone()));
        encoder.encode_prepared(&mut out, &prepared);
        encoder.encode_prepared(&mut out, &prepared);
        encoder.encode(&mut out, Message::text(text.clone()));
        let mut wire = BytesMut::from(&drain(&out)[..]);
        for _ in 0..4 {
            let got = decoder.decode(&mut wire).unwrap().unwrap();
            assert_eq!(got, Message::text(text.clone()));
        }
        let cached = prepared.inner.compressed.lock().unwrap().len();
        assert_eq!(cached, 1, "one compression for one setting");
    }
}
