use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 §1.3.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)), computed over
/// the key as sent (not decoded).
pub fn accept_key(key: &[u8]) -> HeaderValue {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID);
    let mut out = [0u8; 28];
    let written = STANDARD
        .encode_slice(sha1.finalize(), &mut out)
        .unwrap_or_default();
    // Base64 is always a valid header value.
    HeaderValue::from_bytes(&out[..written]).unwrap_or(HeaderValue::from_static(""))
}

/// A key must be base64 of exactly 16 bytes (RFC 6455 §4.1 item 7, §4.2.1 item 5).
pub(super) fn is_valid_key(key: &[u8]) -> bool {
    let mut decoded = [0u8; 18];
    key.len() == 24 && matches!(STANDARD.decode_slice(key, &mut decoded), Ok(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_vector() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
