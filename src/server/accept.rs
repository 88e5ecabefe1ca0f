//! The accept step of [`serve`](super::serve): a place under the connection cap, then a
//! connection; what an accept error means, and how long to wait after one.
//!
//! `accept` fails for three kinds of reasons. A connection that was reset or aborted before it
//! was accepted (or another already-pending network error, accept(2) lists them) says nothing
//! about the listener: accept again at once. Running out of file descriptors or memory (EMFILE,
//! ENFILE, ENOBUFS, ENOMEM) is transient: descriptors come back as connections close, so wait a
//! little, longer each time, and keep serving. Anything else (a closed or invalid listener) is
//! returned to the caller.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::stream::ServedStream;

/// The first wait after running out of descriptors; doubled each time, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// The longest wait between two accepts while out of descriptors (axum waits 1 s every time).
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The listener, the connection cap's semaphore, and the state of the once-per-burst logs.
#[derive(Debug)]
pub(super) struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    /// The cap: all of `slots`' permits.
    max: usize,
    backoff: Backoff,
    /// Whether the cap was reached since the last place was free (logged once per burst).
    at_limit: bool,
}

impl Acceptor {
    pub(super) fn new(listener: TcpListener, slots: Arc<Semaphore>, max: usize) -> Self {
        Self {
            listener,
            slots,
            max,
            backoff: Backoff::default(),
            at_limit: false,
        }
    }

    /// The next connection, with its place under the cap: waits for a place, then for a
    /// connection, surviving the errors that are not the listener's. `Ok(None)` once `signal`
    /// completes; `Err` if the listener itself fails.
    pub(super) async fn next<F: Future<Output = ()>>(
        &mut self,
        signal: &mut Pin<&mut F>,
    ) -> io::Result<Option<ServedStream>> {
        loop {
            let Some(permit) = self.place(signal).await else {
                return Ok(None);
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = signal.as_mut() => return Ok(None),
            };
            match accepted {
                Ok((io, peer)) => {
                    self.backoff.succeeded();
                    // Best effort: a socket that cannot take the option is still served.
                    let _ = io.set_nodelay(true);
                    return Ok(Some(ServedStream::new(io, peer, permit)));
                }
                // The place is given back: the next round waits for one again.
                Err(error) => {
                    if !self.survive(error, signal).await? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// A place under the cap, waiting for a connection to close if there is none (logged once
    /// per burst); `None` once `signal` completes.
    async fn place<F: Future<Output = ()>>(
        &mut self,
        signal: &mut Pin<&mut F>,
    ) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            self.at_limit = false;
            return Some(permit);
        }
        if !self.at_limit {
            tracing::warn!(
                max = self.max,
                "connection limit reached; accepting again as connections close"
            );
            self.at_limit = true;
        }
        tokio::select! {
            // `Err` never: the semaphore is not closed.
            permit = self.slots.clone().acquire_owned() => permit.ok(),
            () = signal.as_mut() => None,
        }
    }

    /// After a failed accept: `Ok(true)` to accept again (at once, or after the backoff for
    /// lack of resources), `Ok(false)` if `signal` completed meanwhile, `Err` if the listener
    /// itself failed.
    async fn survive<F: Future<Output = ()>>(
        &mut self,
        error: io::Error,
        signal: &mut Pin<&mut F>,
    ) -> io::Result<bool> {
        match AcceptError::classify(&error) {
            AcceptError::Connection => {
                tracing::debug!(%error, "a connection failed before it was accepted");
                Ok(true)
            }
            AcceptError::Resources => {
                let (wait, first) = self.backoff.failed();
                if first {
                    tracing::error!(
                        %error,
                        "accept failed for lack of resources (file descriptors?); \
                         retrying with backoff, open connections are still served"
                    );
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => Ok(true),
                    () = signal.as_mut() => Ok(false),
                }
            }
            AcceptError::Fatal => Err(error),
        }
    }
}

/// What to do after an accept error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AcceptError {
    /// That connection failed; the listener is fine: accept again now.
    Connection,
    /// Out of descriptors or memory: wait, then accept again.
    Resources,
    /// The listener itself failed.
    Fatal,
}

impl AcceptError {
    pub(super) fn classify(error: &io::Error) -> Self {
        use io::ErrorKind::*;
        if let Some(code) = error.raw_os_error() {
            if is_resource_errno(code) {
                return Self::Resources;
            }
        }
        match error.kind() {
            ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
            | TimedOut | NetworkDown | NetworkUnreachable | HostUnreachable | PermissionDenied => {
                Self::Connection
            }
            OutOfMemory => Self::Resources,
            _ if error.raw_os_error().is_some_and(is_pending_network_errno) => Self::Connection,
            _ => Self::Fatal,
        }
    }
}

#[cfg(unix)]
fn is_resource_errno(code: i32) -> bool {
    [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM].contains(&code)
}

#[cfg(not(unix))]
fn is_resource_errno(code: i32) -> bool {
    // WSAEMFILE, WSAENOBUFS.
    [10024, 10055].contains(&code)
}

/// accept(2): "already-pending network errors" to be treated like EAGAIN.
#[cfg(unix)]
fn is_pending_network_errno(code: i32) -> bool {
    [libc::EPROTO, libc::ENOPROTOOPT, libc::EOPNOTSUPP].contains(&code)
        || cfg!(target_os = "linux") && is_linux_pending_errno(code)
}

#[cfg(all(unix, target_os = "linux"))]
fn is_linux_pending_errno(code: i32) -> bool {
    [libc::EHOSTDOWN, libc::ENONET].contains(&code)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn is_linux_pending_errno(_code: i32) -> bool {
    false
}

#[cfg(not(unix))]
fn is_pending_network_errno(_code: i32) -> bool {
    false
}

/// The wait after each resource error in a row, and whether this burst was logged yet.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    /// How long to wait now, and whether this is the first error of a burst (to be logged).
    pub(super) fn failed(&mut self) -> (Duration, bool) {
        let first = self.next.is_none();
        let wait = self.next.unwrap_or(FIRST_BACKOFF);
        self.next = Some((wait * 2).min(MAX_BACKOFF));
        (wait, first)
    }

    /// An accept succeeded: the burst is over.
    pub(super) fn succeeded(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_accept_errors() {
        #[cfg(unix)]
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(
                AcceptError::classify(&error),
                AcceptError::Resources,
                "{error}"
            );
        }
        #[cfg(unix)]
        for code in [
            libc::ECONNABORTED,
            libc::ECONNRESET,
            libc::EPROTO,
            libc::EINTR,
        ] {
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(
                AcceptError::classify(&error),
                AcceptError::Connection,
                "{error}"
            );
        }
        #[cfg(unix)]
        for code in [libc::EBADF, libc::EINVAL, libc::ENOTSOCK] {
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(AcceptError::classify(&error), AcceptError::Fatal, "{error}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_ceiling_and_logs_once_per_burst() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.failed(), (FIRST_BACKOFF, true));
        assert_eq!(backoff.failed(), (FIRST_BACKOFF * 2, false));
        for _ in 0..20 {
            assert!(!backoff.failed().1);
        }
        assert_eq!(backoff.failed().0, MAX_BACKOFF);
        backoff.succeeded();
        assert_eq!(backoff.failed(), (FIRST_BACKOFF, true));
    }
}
