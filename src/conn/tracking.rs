//! Graceful shutdown: tell every live connection to close with 1001, then wait for them.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
            shutdown: Some(Entry {
                inner: self.inner.clone(),
                id,
                stored: None,
            }),
            slot: None,
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

/// One connection's membership in the layer's bookkeeping: its [`GracefulShutdown`] (if any)
/// and its slot under the layer's connection cap (if any). Both are released when it is dropped,
/// that is when the connection's `Conn` is.
#[derive(Debug, Default)]
pub(crate) struct Registration {
    shutdown: Option<Entry>,
    slot: Option<Slot>,
}

/// A connection's entry in a [`GracefulShutdown`].
struct Entry {
    inner: Arc<Inner>,
    id: u64,
    /// The waker last stored in the map: a connection's task keeps its waker, so checking it
    /// here spares a lock and a hash lookup on every wait.
    stored: Option<Waker>,
}

impl Registration {
    /// Counts the connection under `slot` too.
    pub(crate) fn with_slot(mut self, slot: Option<Slot>) -> Self {
        self.slot = slot;
        self
    }

    /// The place under a connection cap, without the shutdown entry (which is dropped).
    pub(crate) fn into_slot(self) -> Option<Slot> {
        self.slot
    }

    pub(crate) fn is_triggered(&self) -> bool {
        (self.shutdown.as_ref()).is_some_and(|entry| entry.inner.triggered.load(Ordering::SeqCst))
    }

    /// Remembers the task to wake on shutdown (called when the connection waits, so once per
    /// message: only a changed waker takes the lock).
    pub(crate) fn register_waker(&mut self, waker: &Waker) {
        let Some(entry) = &mut self.shutdown else {
            return;
        };
        if entry
            .stored
            .as_ref()
            .is_some_and(|stored| stored.will_wake(waker))
        {
            return;
        }
        if let Some(current) = entry.inner.lock().get_mut(&entry.id) {
            current.clone_from(waker);
        }
        entry.stored = Some(waker.clone());
    }

    /// Resolves once the shutdown is triggered (never without one).
    pub(crate) async fn triggered(&mut self) {
        std::future::poll_fn(|cx| {
            self.register_waker(cx.waker());
            // Checked after registering, so a trigger in between is not missed.
            if self.is_triggered() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.inner.lock().remove(&self.id);
        self.inner.ended.notify_waiters();
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("id", &self.id).finish()
    }
}

/// A place under a connection cap: [`ConnectionLimit`] counts the live ones.
#[derive(Debug)]
pub(crate) struct Slot {
    live: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The layer's cap on live WebSocket connections
/// ([`max_connections`](crate::WebSocketUpgradeLayer::max_connections)).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimit {
    max: usize,
    live: Arc<AtomicUsize>,
}

impl ConnectionLimit {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            live: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A slot, or `None` when `max` connections are live.
    pub(crate) fn try_acquire(&self) -> Option<Slot> {
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < self.max).then_some(live + 1)
            })
            .ok()?;
        Some(Slot {
            live: self.live.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Config, Conn};
    use crate::proto::Role;

    #[test]
    fn a_new_shutdown_handle_keeps_the_connections_place_under_the_cap() {
        let limit = ConnectionLimit::new(1);
        let layer_shutdown = GracefulShutdown::new();
        let registration = layer_shutdown.register().with_slot(limit.try_acquire());
        assert!(limit.try_acquire().is_none(), "the one place is taken");
        let (io, _peer) = tokio::io::duplex(64);
        let conn =
            Conn::from_raw(io, Role::Server, &Config::default()).with_registration(registration);

        let own = GracefulShutdown::new();
        let conn = conn.with_shutdown(&own);
        assert_eq!(own.live_connections(), 1);
        assert_eq!(
            layer_shutdown.live_connections(),
            0,
            "the layer's handle is replaced"
        );
        assert!(limit.try_acquire().is_none(), "still counted under the cap");
        drop(conn);
        assert_eq!(own.live_connections(), 0);
        assert!(
            limit.try_acquire().is_some(),
            "the place is free once the Conn is gone"
        );
    }
}
