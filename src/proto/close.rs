//! Close codes and close frame payloads (RFC 6455 §5.5.1, §7.4).

use bytes::{BufMut, Bytes, BytesMut};

use super::{ProtocolError, Utf8Bytes, utf8};

/// A close status code (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer violated the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: reserved; reported locally when a Close frame carried no code. Never sent.
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: reserved; reported locally when the connection dropped without a Close. Never sent.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: message data inconsistent with its type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: reserved; reported locally when the TLS handshake failed. Never sent.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Wraps a raw code; see [`is_sendable`](Self::is_sendable) for which may go on the wire.
    pub const fn new(code: u16) -> Self {
        Self(code)
    }

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the code may appear in a Close frame: 1000–1003, 1007–1014 (RFC and IANA) and
    /// 3000–4999 (libraries and applications). 1004–1006, 1015, the rest of 1000–2999, and codes
    /// below 1000 or from 5000 are invalid on the wire; a peer sending one fails with 1002.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The code and reason of a Close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// A UTF-8 reason, at most [`MAX_REASON_LEN`](Self::MAX_REASON_LEN) bytes on the wire.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// The longest reason sent, in bytes: a Close payload holds at most 125 bytes, two of them
    /// the code.
    pub const MAX_REASON_LEN: usize = 123;

    /// A close frame; a reason longer than [`MAX_REASON_LEN`](Self::MAX_REASON_LEN) bytes is
    /// cut at a character boundary when sent.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Parses a received Close payload: empty (no code), or a valid code and a UTF-8 reason.
pub fn parse_close_payload(payload: Bytes) -> Result<Option<CloseFrame>, ProtocolError> {
    match *payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [hi, lo, ..] => {
            let code = CloseCode(u16::from_be_bytes([hi, lo]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.0));
            }
            let reason = payload.slice(2..);
            utf8::validate(&reason).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_validated(reason),
            }))
        }
    }
}

/// Encodes a Close payload, cutting the reason to [`CloseFrame::MAX_REASON_LEN`] bytes on a
/// char boundary.
pub(crate) fn encode_close_payload(frame: Option<&CloseFrame>) -> Bytes {
    let Some(frame) = frame else {
        return Bytes::new();
    };
    let reason = frame.reason.as_str();
    let mut end = reason.len().min(CloseFrame::MAX_REASON_LEN);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = BytesMut::with_capacity(2 + end);
    out.put_u16(frame.code.0);
    out.put_slice(&reason.as_bytes()[..end]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(code: u16, reason: &[u8]) -> Bytes {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(reason);
        Bytes::from(v)
    }

    #[test]
    fn autobahn_valid_codes_are_accepted() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            let frame = parse_close_payload(payload(code, b"ok")).unwrap().unwrap();
            assert_eq!(frame.code.as_u16(), code);
            assert_eq!(frame.reason.as_str(), "ok");
        }
    }

    #[test]
    fn autobahn_invalid_codes_are_protocol_errors() {
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert_eq!(
                parse_close_payload(payload(code, b"")),
                Err(ProtocolError::InvalidCloseCode(code))
            );
            assert_eq!(
                ProtocolError::InvalidCloseCode(code).close_code(),
                CloseCode::PROTOCOL_ERROR
            );
        }
    }

    #[test]
    fn empty_one_byte_and_bad_reason() {
        assert_eq!(parse_close_payload(Bytes::new()), Ok(None));
        let one = parse_close_payload(Bytes::from_static(&[0x03]));
        assert_eq!(one, Err(ProtocolError::InvalidClosePayload));
        assert_eq!(
            ProtocolError::InvalidClosePayload.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        let bad = parse_close_payload(payload(
            1000,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
        ));
        assert_eq!(bad, Err(ProtocolError::InvalidUtf8));
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
    }

    #[test]
    fn reserved_codes_are_never_sendable() {
        for code in [
            CloseCode::NO_STATUS,
            CloseCode::ABNORMAL,
            CloseCode::TLS_HANDSHAKE,
            CloseCode::new(1004),
        ] {
            assert!(!code.is_sendable());
        }
    }

    #[test]
    fn long_reason_is_cut_on_a_char_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let out = encode_close_payload(Some(&CloseFrame::new(CloseCode::NORMAL, reason)));
        assert!(out.len() <= 125);
        assert_eq!(out.len(), 2 + 122);
        assert!(std::str::from_utf8(&out[2..]).is_ok());
        assert_eq!(encode_close_payload(None), Bytes::new());
    }
}
