//! The frame header codec (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use super::ProtocolError;

/// The longest possible header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame may carry (§5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// Frame opcodes defined by RFC 6455 §5.2; every other value is a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// Continues a fragmented data message.
    Continuation,
    /// First frame of a UTF-8 text message.
    Text,
    /// First frame of a binary message.
    Binary,
    /// Close control frame.
    Close,
    /// Ping control frame.
    Ping,
    /// Pong control frame.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit wire value, or `None` for a reserved one.
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong.
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of a message.
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits (RSV1 = `0b100`).
    pub rsv: u8,
    /// The frame's opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

/// RSV1, as it appears in [`FrameHeader::rsv`] (permessage-deflate's "compressed" bit).
pub(crate) const RSV1: u8 = 0b100;

/// Decodes the header at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, and `Ok(Some((header, header_len)))` when the
/// whole header is there. Rules that can be judged from the first two bytes (reserved bits,
/// unknown opcodes, control frame rules) fail before the rest of the header has arrived.
/// `allowed_rsv` holds the reserved bits a negotiated extension has defined (0 without one).
pub fn decode_header(
    buf: &[u8],
    allowed_rsv: u8,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let (b0, b1) = match buf {
        [b0, b1, ..] => (*b0, *b1),
        [b0] => {
            check_first_byte(*b0, allowed_rsv)?;
            return Ok(None);
        }
        [] => return Ok(None),
    };
    let (fin, rsv, opcode) = check_first_byte(b0, allowed_rsv)?;
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        if usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::ControlFrameTooLong);
        }
    }
    let ext_len = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header_len = 2 + ext_len + if masked { 4 } else { 0 };
    let Some(rest) = buf.get(2..header_len) else {
        return Ok(None);
    };
    let (len_bytes, mask_bytes) = rest.split_at(ext_len);
    let payload_len = match *len_bytes {
        [a, b] => {
            let len = u64::from(u16::from_be_bytes([a, b]));
            if len < 126 {
                return Err(ProtocolError::NonMinimalLength);
            }
            len
        }
        [a, b, c, d, e, f, g, h] => {
            let len = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
            if len >> 63 != 0 {
                return Err(ProtocolError::LengthMsbSet);
            }
            if len <= u64::from(u16::MAX) {
                return Err(ProtocolError::NonMinimalLength);
            }
            len
        }
        _ => u64::from(len7),
    };
    let mask = match *mask_bytes {
        [a, b, c, d] => Some([a, b, c, d]),
        _ => None,
    };
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len,
    };
    Ok(Some((header, header_len)))
}

fn check_first_byte(b0: u8, allowed_rsv: u8) -> Result<(bool, u8, OpCode), ProtocolError> {
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0b111;
    if rsv & !allowed_rsv != 0 {
        return Err(ProtocolError::ReservedBits);
    }
    let raw = b0 & 0x0F;
    let opcode = OpCode::from_u8(raw).ok_or(ProtocolError::UnknownOpcode(raw))?;
    Ok((fin, rsv, opcode))
}

/// Encodes a header into `dst` using the minimal length form; returns the header length.
pub fn encode_header(dst: &mut [u8; MAX_HEADER_LEN], header: &FrameHeader) -> usize {
    dst[0] = (u8::from(header.fin) << 7) | ((header.rsv & 0b111) << 4) | header.opcode.as_u8();
    let mask_bit = if header.mask.is_some() { 0x80 } else { 0 };
    let len = header.payload_len;
    let mut at = if len < 126 {
        dst[1] = mask_bit | len as u8;
        2
    } else if let Ok(len16) = u16::try_from(len) {
        dst[1] = mask_bit | 126;
        dst[2..4].copy_from_slice(&len16.to_be_bytes());
        4
    } else {
        dst[1] = mask_bit | 127;
        dst[2..10].copy_from_slice(&len.to_be_bytes());
        10
    };
    if let Some(key) = header.mask {
        dst[at..at + 4].copy_from_slice(&key);
        at += 4;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len: len,
        }
    }

    #[test]
    fn round_trips_all_length_forms_masked_and_unmasked() {
        let cases = [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 32, (1 << 63) - 1];
        for len in cases {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(OpCode::Binary, len, mask);
                let mut buf = [0u8; MAX_HEADER_LEN];
                let n = encode_header(&mut buf, &h);
                let expected_len = match len {
                    0..=125 => 2,
                    126..=65_535 => 4,
                    _ => 10,
                } + if mask.is_some() { 4 } else { 0 };
                assert_eq!(n, expected_len, "len {len}");
                assert_eq!(decode_header(&buf[..n], 0), Ok(Some((h, n))));
                // Every strict prefix asks for more bytes.
                for cut in 0..n {
                    assert_eq!(
                        decode_header(&buf[..cut], 0),
                        Ok(None),
                        "len {len} cut {cut}"
                    );
                }
            }
        }
    }

    #[test]
    fn decodes_rfc_examples() {
        // RFC 6455 §5.7: single-frame unmasked text "Hello".
        let (h, n) = decode_header(&[0x81, 0x05, 0x48], 0).unwrap().unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.payload_len, h.mask, n),
            (true, OpCode::Text, 5, None, 2)
        );
        // Masked "Hello".
        let (h, n) = decode_header(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d], 0)
            .unwrap()
            .unwrap();
        assert_eq!((h.mask, n), (Some([0x37, 0xfa, 0x21, 0x3d]), 6));
        // 256 bytes binary, 16-bit length.
        let (h, _) = decode_header(&[0x82, 0x7E, 0x01, 0x00], 0)
            .unwrap()
            .unwrap();
        assert_eq!(h.payload_len, 256);
        // 64 KiB binary, 64-bit length.
        let (h, _) = decode_header(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], 0)
            .unwrap()
            .unwrap();
        assert_eq!(h.payload_len, 65_536);
    }

    #[test]
    fn rejects_reserved_bits_from_the_first_byte() {
        for rsv in 1..8u8 {
            assert_eq!(
                decode_header(&[0x81 | (rsv << 4)], 0),
                Err(ProtocolError::ReservedBits)
            );
        }
        // RSV1 is accepted once an extension allows it.
        assert!(decode_header(&[0xC1, 0x00], RSV1).unwrap().is_some());
        assert_eq!(
            decode_header(&[0xA1, 0x00], RSV1),
            Err(ProtocolError::ReservedBits)
        );
    }

    #[test]
    fn rejects_unknown_opcodes() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                decode_header(&[0x80 | op], 0),
                Err(ProtocolError::UnknownOpcode(op))
            );
        }
    }

    #[test]
    fn control_frame_rules() {
        assert_eq!(
            decode_header(&[0x09, 0x00], 0),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            decode_header(&[0x89, 126], 0),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            decode_header(&[0x88, 127], 0),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert!(decode_header(&[0x8A, 125], 0).unwrap().is_some());
    }

    #[test]
    fn rejects_non_minimal_and_msb_lengths() {
        assert_eq!(
            decode_header(&[0x82, 126, 0, 125], 0),
            Err(ProtocolError::NonMinimalLength)
        );
        assert_eq!(
            decode_header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF], 0),
            Err(ProtocolError::NonMinimalLength)
        );
        assert_eq!(
            decode_header(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0], 0),
            Err(ProtocolError::LengthMsbSet)
        );
    }
}
