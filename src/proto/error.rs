use std::fmt;

use super::CloseCode;

/// A rule of RFC 6455 (or a configured limit) that the peer broke.
///
/// Each maps to the close code sent to the peer before the connection is failed:
/// [`close_code`](Self::close_code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1–3 set without an extension that defines them.
    ReservedBits,
    /// An opcode RFC 6455 does not define.
    UnknownOpcode(u8),
    /// A client frame without a mask (servers must fail these, §5.1).
    UnmaskedFrame,
    /// A server frame with a mask (clients must fail these, §5.1).
    MaskedFrame,
    /// A control frame with FIN clear (§5.5).
    FragmentedControlFrame,
    /// A control frame over 125 bytes (§5.5).
    ControlFrameTooLong,
    /// A payload length not in its shortest form (§5.2).
    NonMinimalLength,
    /// A 64-bit payload length with its most significant bit set (§5.2).
    LengthMsbSet,
    /// A continuation frame with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new Text or Binary frame while a fragmented message is in progress.
    ExpectedContinuation,
    /// Invalid UTF-8 in a text message or a close reason (close code 1007).
    InvalidUtf8,
    /// A Close frame with a code that may not be sent.
    InvalidCloseCode(u16),
    /// A Close frame with a one-byte payload.
    InvalidClosePayload,
    /// A frame larger than the configured maximum (close code 1009).
    FrameTooLarge,
    /// A message larger than the configured maximum (close code 1009).
    MessageTooLarge,
    /// A message split into more fragments than the configured maximum (close code 1009).
    TooManyFragments,
    /// A compressed message whose DEFLATE data is corrupt (close code 1007).
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code this violation is answered with.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooLarge | Self::MessageTooLarge | Self::TooManyFragments => {
                CloseCode::MESSAGE_TOO_BIG
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason, also sent as the close reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ReservedBits => "reserved bits set",
            Self::UnknownOpcode(_) => "unknown opcode",
            Self::UnmaskedFrame => "client frame not masked",
            Self::MaskedFrame => "server frame masked",
            Self::FragmentedControlFrame => "fragmented control frame",
            Self::ControlFrameTooLong => "control frame over 125 bytes",
            Self::NonMinimalLength => "payload length not minimally encoded",
            Self::LengthMsbSet => "payload length has its high bit set",
            Self::UnexpectedContinuation => "continuation frame without a message",
            Self::ExpectedContinuation => "new message inside a fragmented message",
            Self::InvalidUtf8 => "invalid UTF-8",
            Self::InvalidCloseCode(_) => "invalid close code",
            Self::InvalidClosePayload => "close payload of one byte",
            Self::FrameTooLarge => "frame too large",
            Self::MessageTooLarge => "message too large",
            Self::TooManyFragments => "too many fragments",
            Self::InvalidCompressedData => "invalid compressed data",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for ProtocolError {}
