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
    /// A Close frame was sent ([`Conn::close_with`](crate::Conn::close_with), or any Close of
    /// ours), but the peer did not answer within the close timeout; the connection was dropped
    /// anyway.
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
    /// Whether a timer ended the wait: the idle timeout ([`IdleTimeout`](Self::IdleTimeout)),
    /// the read deadline ([`ReadTimeout`](Self::ReadTimeout)), the write timeout or deadline
    /// ([`WriteTimeout`](Self::WriteTimeout)), the close timeout
    /// ([`CloseTimeout`](Self::CloseTimeout)), or an IO error of kind
    /// [`TimedOut`](io::ErrorKind::TimedOut) (the OS gave up on the peer, e.g. TCP keepalive).
    /// Only [`ReadTimeout`](Self::ReadTimeout) leaves the connection usable; see
    /// [`is_closed`](Self::is_closed).
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::IdleTimeout | Self::ReadTimeout | Self::WriteTimeout | Self::CloseTimeout => true,
            Self::Io(e) => e.kind() == io::ErrorKind::TimedOut,
            _ => false,
        }
    }

    /// Whether the connection is over: after this error nothing more can be sent on it, and
    /// `recv` yields nothing but what completes the close (the peer's last messages and its
    /// Close, when our Close is out and the connection still reads), then `None`. Dropping the
    /// [`Conn`](crate::Conn) is all that is left to do.
    ///
    /// `true` for every error except the four that leave the connection as it was, where only
    /// the call failed: [`ReadTimeout`](Self::ReadTimeout) (set a new deadline and `recv`
    /// again), [`InvalidCloseCode`](Self::InvalidCloseCode) and
    /// [`ControlPayloadTooLong`](Self::ControlPayloadTooLong) (the message was refused before
    /// anything was queued), and `Json` (feature `json`: a message that did not parse, or a
    /// value that did not serialize).
    pub fn is_closed(&self) -> bool {
        match self {
            Self::ReadTimeout | Self::InvalidCloseCode(_) | Self::ControlPayloadTooLong => false,
            #[cfg(feature = "json")]
            Self::Json(_) => false,
            _ => true,
        }
    }

    /// The close code this error made the connection close with: the
    /// [`ProtocolError::close_code`] of a [`Protocol`](Self::Protocol) error (1002, 1007 or
    /// 1009), [`CloseCode::GOING_AWAY`] (1001) for the [`IdleTimeout`](Self::IdleTimeout).
    /// It was queued for the peer unless a Close of ours was already out (then the earlier
    /// code stands). `None` for every other error: no Close was sent because of it (the
    /// connection was dropped without one, the peer was gone, or the error came from a Close
    /// already under way).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) => Some(e.close_code()),
            Self::IdleTimeout => Some(CloseCode::GOING_AWAY),
            _ => None,
        }
    }

    /// Whether the peer broke the protocol or a configured limit: a
    /// [`Protocol`](Self::Protocol) error. (A peer that closes the TCP connection without a
    /// close handshake is [`UnexpectedEof`](Self::UnexpectedEof) instead.)
    pub fn is_protocol_violation(&self) -> bool {
        matches!(self, Self::Protocol(_))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, with what each method must say about it:
    /// (error, is_timeout, is_closed, close_code, is_protocol_violation).
    fn cases() -> Vec<(Error, bool, bool, Option<u16>, bool)> {
        let cases = vec![
            (
                Error::Protocol(ProtocolError::UnmaskedFrame),
                false,
                true,
                Some(1002),
                true,
            ),
            (
                Error::Protocol(ProtocolError::InvalidUtf8),
                false,
                true,
                Some(1007),
                true,
            ),
            (
                Error::Protocol(ProtocolError::MessageTooLarge),
                false,
                true,
                Some(1009),
                true,
            ),
            (Error::UnexpectedEof, false, true, None, false),
            (Error::Closed, false, true, None, false),
            (Error::CloseTimeout, true, true, None, false),
            (
                Error::InvalidCloseCode(CloseCode::NO_STATUS),
                false,
                false,
                None,
                false,
            ),
            (Error::ControlPayloadTooLong, false, false, None, false),
            (Error::IdleTimeout, true, true, Some(1001), false),
            (Error::ReadTimeout, true, false, None, false),
            (Error::WriteTimeout, true, true, None, false),
            (Error::WriteBufferFull, false, true, None, false),
            (
                Error::Io(io::ErrorKind::ConnectionReset.into()),
                false,
                true,
                None,
                false,
            ),
            (
                Error::Io(io::ErrorKind::TimedOut.into()),
                true,
                true,
                None,
                false,
            ),
        ];
        #[cfg(feature = "json")]
        let cases = {
            let mut cases = cases;
            let json = serde_json::from_str::<u8>("x").unwrap_err();
            cases.push((Error::Json(json), false, false, None, false));
            cases
        };
        cases
    }

    #[test]
    fn is_timeout_is_closed_close_code_and_is_protocol_violation_for_every_variant() {
        for (error, timeout, closed, code, violation) in cases() {
            assert_eq!(error.is_timeout(), timeout, "is_timeout: {error:?}");
            assert_eq!(error.is_closed(), closed, "is_closed: {error:?}");
            assert_eq!(
                error.close_code().map(CloseCode::as_u16),
                code,
                "close_code: {error:?}"
            );
            assert_eq!(
                error.is_protocol_violation(),
                violation,
                "is_protocol_violation: {error:?}"
            );
            // A duplicate (what a split connection's senders see) answers the same, except
            // for a JSON error, which becomes IO (and never ends a connection anyway).
            let copy = error.duplicate();
            if !matches!(copy, Error::Io(_)) || matches!(error, Error::Io(_)) {
                assert_eq!(copy.is_timeout(), timeout, "duplicate of {error:?}");
                assert_eq!(copy.is_closed(), closed, "duplicate of {error:?}");
                assert_eq!(
                    copy.close_code(),
                    error.close_code(),
                    "duplicate of {error:?}"
                );
            }
        }
    }

    #[test]
    fn every_protocol_error_reports_its_own_close_code() {
        for e in [
            ProtocolError::ReservedBits,
            ProtocolError::UnknownOpcode(3),
            ProtocolError::InvalidCloseCode(1005),
            ProtocolError::InvalidCompressedData,
            ProtocolError::FrameTooLarge,
            ProtocolError::TooManyFragments,
        ] {
            assert_eq!(Error::Protocol(e).close_code(), Some(e.close_code()));
        }
    }
}
