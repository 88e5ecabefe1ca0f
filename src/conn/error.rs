use std::{fmt, io};

use crate::proto::{CloseCode, ProtocolError};

/// Why a [`Conn`](crate::Conn) operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol or a limit; the connection was closed with
    /// [`ProtocolError::close_code`].
    Protocol(ProtocolError),
    /// The peer closed the TCP connection without a close handshake.
    UnexpectedEof,
    /// The connection is closing or closed: nothing more can be sent.
    Closed,
    /// [`Conn::close`](crate::Conn::close) sent a Close frame, but the peer did not answer within
    /// the close timeout; the connection was dropped anyway.
    CloseTimeout,
    /// A Close frame with a code that may not be sent (1004–1006, 1015, below 1000, …).
    InvalidCloseCode(CloseCode),
    /// A Ping or Pong payload over 125 bytes.
    ControlPayloadTooLong,
    /// Nothing arrived within the idle timeout ([`Config::idle_timeout`](crate::Config::idle_timeout)):
    /// the connection was closed with 1001.
    IdleTimeout,
    /// The read deadline ([`Conn::set_read_deadline`](crate::Conn::set_read_deadline)) passed.
    /// The connection is still usable: set a new deadline and `recv` again.
    ReadTimeout,
    /// A write made no progress within the write timeout
    /// ([`Config::write_timeout`](crate::Config::write_timeout)) or missed the write deadline:
    /// the peer is not reading. The connection was dropped.
    WriteTimeout,
    /// More than [`Config::max_write_buffer`](crate::Config::max_write_buffer) was queued
    /// without being written: the peer is not reading. The connection was dropped.
    WriteBufferFull,
    /// A message was not the JSON [`Conn::recv_json`](crate::Conn::recv_json) expected.
    #[cfg(feature = "json")]
    Json(serde_json::Error),
    /// The underlying IO failed.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "WebSocket protocol error: {e}"),
            Self::UnexpectedEof => {
                f.write_str("peer closed the connection without a close handshake")
            }
            Self::Closed => f.write_str("WebSocket connection is closed"),
            Self::CloseTimeout => f.write_str("peer did not answer the Close frame in time"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Self::ControlPayloadTooLong => f.write_str("ping/pong payload over 125 bytes"),
            Self::IdleTimeout => f.write_str("nothing received within the idle timeout"),
            Self::ReadTimeout => f.write_str("read deadline passed"),
            Self::WriteTimeout => f.write_str("peer not reading: write timed out"),
            Self::WriteBufferFull => f.write_str("peer not reading: write buffer full"),
            #[cfg(feature = "json")]
            Self::Json(e) => write!(f, "invalid JSON message: {e}"),
            Self::Io(e) => write!(f, "WebSocket IO error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Protocol(e) => Some(e),
            Self::Io(e) => Some(e),
            #[cfg(feature = "json")]
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// A copy, for reporting one error in two places (`Error` is not `Clone`: an IO error is
    /// not). An IO error keeps its kind, OS error code and message; a JSON error (never the
    /// end of a connection) becomes an IO error of kind `InvalidData` with its message.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Protocol(e) => Self::Protocol(*e),
            Self::UnexpectedEof => Self::UnexpectedEof,
            Self::Closed => Self::Closed,
            Self::CloseTimeout => Self::CloseTimeout,
            Self::InvalidCloseCode(code) => Self::InvalidCloseCode(*code),
            Self::ControlPayloadTooLong => Self::ControlPayloadTooLong,
            Self::IdleTimeout => Self::IdleTimeout,
            Self::ReadTimeout => Self::ReadTimeout,
            Self::WriteTimeout => Self::WriteTimeout,
            Self::WriteBufferFull => Self::WriteBufferFull,
            #[cfg(feature = "json")]
            Self::Json(e) => Self::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            Self::Io(e) => Self::Io(match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            }),
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}
