//! The errors of a [`Sender`](super::Sender): the connection has ended, or its queue is full.

use std::fmt;
use std::sync::Arc;

use super::Error;
use crate::proto::Message;

/// A message that could not be sent because the connection has ended.
#[derive(Debug)]
pub struct SendError {
    /// The message, back to the caller.
    pub message: Message,
    pub(super) reason: Option<Arc<Error>>,
}

impl SendError {
    /// The error that ended the connection, or `None` if it closed normally (a completed close
    /// handshake): e.g. [`Error::WriteTimeout`] when the peer stopped reading,
    /// [`Error::Protocol`], [`Error::IdleTimeout`], [`Error::UnexpectedEof`],
    /// [`Error::CloseTimeout`] or [`Error::Io`]. The read half received the same error; this
    /// is a copy (an IO error keeps its kind, OS code and message).
    pub fn reason(&self) -> Option<&Error> {
        self.reason.as_deref()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "WebSocket connection ended: {reason}"),
            None => f.write_str("WebSocket connection is closed"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.reason
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why [`Sender::try_send`](super::Sender::try_send) did not queue the message.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrySendError {
    /// The queue is full; the message is handed back.
    Full(Message),
    /// The connection has ended.
    Closed(SendError),
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("WebSocket send queue is full"),
            Self::Closed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TrySendError {}
