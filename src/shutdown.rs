//! Graceful shutdown: tell every live connection to close with 1001, then wait for them.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::sync::Notify;

/// A handle that tracks WebSocket connections and closes them all on demand.
///
/// Give a clone to the layer with
/// [`WebSocketUpgradeLayer::graceful_shutdown`](crate::WebSocketUpgradeLayer::graceful_shutdown)
/// (or to a hand-made [`Conn`](crate::Conn) with
/// [`Conn::with_shutdown`](crate::Conn::with_shutdown)). On
/// [`shutdown`](Self::shutdown):
///
/// - every live connection sends Close `1001` ("going away") and runs the close handshake; its
///   handler sees it as usual: [`recv`](crate::Conn::recv) returns the peer's `Close` (or
///   [`Error::CloseTimeout`](crate::Error::CloseTimeout)) and then `None`;
/// - the layer answers new handshakes `503 Service Unavailable`;
/// - the caller waits until every connection has ended (its `Conn` dropped) or the timeout
///   passes.
///
/// [`live_connections`](Self::live_connections) is the number of open connections, for metrics.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_websocket::{Conn, GracefulShutdown, WebSocketUpgradeLayer};
///
/// # async fn echo(_: Conn) {}
/// # async fn run() {
/// let shutdown = GracefulShutdown::new();
/// let layer = WebSocketUpgradeLayer::new(echo).graceful_shutdown(&shutdown);
/// // ... serve with `layer` until ctrl-c ...
/// tokio::signal::ctrl_c().await.ok();
/// let all_closed = shutdown.shutdown(Duration::from_secs(10)).await;
/// println!("closed cleanly: {all_closed}, left: {}", shutdown.live_connections());
/// # let _ = layer;
/// # }
/// ```
///
/// A connection notices the shutdown while it is being read (`recv`, the `Stream`, or the
/// driver of a [`split`](crate::Conn::split) connection), which is what every handler does.
#[derive(Clone, Default)]
pub struct GracefulShutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Waker>>,
    /// Notified each time a connection ends after the shutdown was triggered.
    ended: Notify,
}

impl GracefulShutdown {
    /// A handle with no connections that is not triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells every live connection to close, and the layer to refuse new ones, without
    /// waiting.
    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        let conns = self.inner.lock();
        for waker in conns.values() {
            waker.wake_by_ref();
        }
    }

    /// Whether [`trigger`](Self::trigger) or [`shutdown`](Self::shutdown) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// How many connections are open.
    pub fn live_connections(&self) -> usize {
        self.inner.lock().len()
    }

    /// Triggers the shutdown and waits until every connection has ended, at most `timeout`.
    /// Returns `true` if all ended in time.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.trigger();
        let wait_all = async {
            loop {
                let ended = self.inner.ended.notified();
                if self.live_connections() == 0 {
                    return;
                }
                ended.await;
            }
        };
        tokio::time::timeout(timeout, wait_all).await.is_ok()
    }

    /// Registers a connection; it counts as live until the registration is dropped.
    pub(crate) fn register(&self) -> Registration {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.lock().insert(id, Waker::noop().clone());
        Registration {
            inner: self.inner.clone(),
            id,
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waker>> {
        // A panic while holding the lock leaves the map consistent: keep using it.
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for GracefulShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GracefulShutdown")
            .field("triggered", &self.is_triggered())
            .field("live_connections", &self.live_connections())
            .finish()
    }
}

/// One connection's membership in a [`GracefulShutdown`].
pub(crate) struct Registration {
    inner: Arc<Inner>,
    id: u64,
}

impl Registration {
    pub(crate) fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Remembers the task to wake on shutdown (called when the connection waits).
    pub(crate) fn register_waker(&self, waker: &Waker) {
        let mut conns = self.inner.lock();
        if let Some(current) = conns.get_mut(&self.id) {
            if !current.will_wake(waker) {
                current.clone_from(waker);
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.inner.lock().remove(&self.id);
        self.inner.ended.notify_waiters();
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("id", &self.id)
            .finish()
    }
}
