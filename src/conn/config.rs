//! What a connection needs to know: limits, timeouts, keepalive, the write cap, lingering.

use std::time::Duration;

use crate::proto::Limits;

/// Settings of a connection: size limits, timeouts, keepalive, the write cap, the lingering
/// close. The layer applies them to every connection it accepts
/// ([`WebSocketUpgradeLayer::config`](crate::WebSocketUpgradeLayer::config)); the handshake's
/// own settings (subprotocols, compression offer, origin) are the layer's.
///
/// Plain settings: read the fields, set them with the builder methods of the same name (or
/// assign them). Every value is valid (a zero duration for an optional timeout turns it off,
/// as `None` does); new fields may be added in minor releases, so build one from
/// [`Config::new`] or [`Config::default`].
///
/// ```
/// use std::time::Duration;
/// use tower_websocket::Config;
///
/// let config = Config::new()
///     .max_message_size(1 << 20)
///     .close_timeout(Duration::from_secs(5));
/// assert_eq!(config.limits.max_message_size, 1 << 20);
/// assert_eq!(config.close_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The size limits applied to what the peer sends (default [`Limits::default`]).
    pub limits: Limits,
    /// How long the closing of a connection may take, from the moment our Close frame is
    /// queued (default 10 s): [`Conn::close_with`](crate::Conn::close_with) waiting for the
    /// peer's Close, writing our Close to a peer that does not read, and the lingering close
    /// after it (see [`linger_bytes`](field@Self::linger_bytes)). It bounds every closing phase
    /// whatever the [`write_timeout`](field@Self::write_timeout), so `recv` returns the item
    /// that ended the connection (the peer's Close, a protocol error, the idle timeout) at
    /// most this long after our Close was queued.
    pub close_timeout: Duration,
    /// Keepalive: when nothing has arrived for this long, send a Ping (default 30 s; `None`
    /// turns pings off). A live peer answers with a Pong, which counts as activity.
    pub ping_interval: Option<Duration>,
    /// When nothing at all (data, ping, pong) has arrived for this long, close the connection
    /// with 1001 and end [`recv`](crate::Conn::recv) with
    /// [`Error::IdleTimeout`](crate::Error::IdleTimeout) (default 60 s; `None` waits forever).
    /// Keep it above the ping interval so a live peer's pong arrives in time. It is checked at
    /// each ping interval, so it may fire up to one interval late (a quarter of the timeout when
    /// pings are off).
    pub idle_timeout: Option<Duration>,
    /// How long a write may make no progress (the peer not reading) before the connection is
    /// dropped with [`Error::WriteTimeout`](crate::Error::WriteTimeout) (default 30 s; `None`
    /// waits forever). Applies to [`send`](crate::Conn::send), [`flush`](crate::Conn::flush)
    /// and the replies `recv` writes.
    pub write_timeout: Option<Duration>,
    /// The most that may be queued unwritten, in bytes: [`feed`](crate::Conn::feed) beyond it
    /// drops the connection with [`Error::WriteBufferFull`](crate::Error::WriteBufferFull)
    /// (default 8 MiB). One message is always accepted into an empty buffer, whatever its
    /// size. (At 64 KiB queued and unwritten, `recv` already stops reading until the peer
    /// catches up.)
    pub max_write_buffer: usize,
    /// Outgoing data messages with more payload than this go out fragmented, in frames of at
    /// most this many bytes each (default `None`: one frame per message, whatever its size).
    /// For peers or proxies that limit frame sizes, and so that a Ping or a Close sent later
    /// need not wait behind one huge frame on the peer's side. Compressed messages are
    /// fragmented after compression; [`PreparedMessage`](crate::PreparedMessage)s keep their
    /// single shared frame. `Some(0)` is the same as `None`.
    pub send_frame_size: Option<usize>,
    /// The lingering close, after a Close of ours the peer has not answered (a protocol error,
    /// the idle timeout): the connection flushes, shuts the write side down, then reads and
    /// discards up to about this much input (default 1 MiB) while the peer keeps sending. It
    /// ends at end of stream, once the peer has been quiet for
    /// [`linger_quiet`](field@Self::linger_quiet), and at the latest at the
    /// [`close_timeout`](field@Self::close_timeout). A socket closed with unread input answers
    /// with a TCP reset, which can destroy our Close frame before a peer that keeps sending has
    /// read it; lingering lets it read the Close and its code. 1 MiB covers what a peer
    /// typically has in flight (socket buffers) at the cost of reading it; 0 turns lingering
    /// off. (After the peer's Close, which must be its last frame, only input already readable
    /// is discarded: nothing waits for the peer.)
    pub linger_bytes: usize,
    /// The lingering close ends once nothing has arrived for this long (default 500 ms): a
    /// peer that stopped sending has had the time to read our Close. See
    /// [`linger_bytes`](field@Self::linger_bytes).
    pub linger_quiet: Duration,
}

impl Config {
    /// Default [`close_timeout`](field@Self::close_timeout): 10 seconds.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

    /// Default [`ping_interval`](field@Self::ping_interval): 30 seconds.
    pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);

    /// Default [`idle_timeout`](field@Self::idle_timeout): 60 seconds.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

    /// Default [`write_timeout`](field@Self::write_timeout): 30 seconds.
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

    /// Default [`max_write_buffer`](field@Self::max_write_buffer): 8 MiB.
    pub const DEFAULT_MAX_WRITE_BUFFER: usize = 8 << 20;

    /// Default [`linger_bytes`](field@Self::linger_bytes): 1 MiB.
    pub const DEFAULT_LINGER_BYTES: usize = 1 << 20;

    /// Default [`linger_quiet`](field@Self::linger_quiet): 500 ms.
    pub const DEFAULT_LINGER_QUIET: Duration = Duration::from_millis(500);

    /// The defaults: [`Limits::default`], keepalive pings every 30 s, a 60 s idle timeout, a
    /// 30 s write timeout, an 8 MiB write buffer cap, a 10 s close timeout, a 1 MiB, 500 ms
    /// lingering close.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets every size limit: [`limits`](field@Self::limits).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`Limits::max_frame_size`](field@Limits::max_frame_size) (default 16 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.limits = self.limits.max_frame_size(bytes);
        self
    }

    /// Sets [`Limits::max_message_size`](field@Limits::max_message_size) (default 16 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.limits = self.limits.max_message_size(bytes);
        self
    }

    /// Sets [`Limits::max_fragments`](field@Limits::max_fragments) (default 131,072).
    pub fn max_fragments(mut self, count: usize) -> Self {
        self.limits = self.limits.max_fragments(count);
        self
    }

    /// Sets [`close_timeout`](field@Self::close_timeout) (default 10 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`ping_interval`](field@Self::ping_interval) (default 30 s; `None` or zero turns
    /// pings off).
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = nonzero(interval);
        self
    }

    /// Sets [`idle_timeout`](field@Self::idle_timeout) (default 60 s; `None` or zero waits
    /// forever).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = nonzero(timeout);
        self
    }

    /// Sets [`write_timeout`](field@Self::write_timeout) (default 30 s; `None` or zero waits
    /// forever).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = nonzero(timeout);
        self
    }

    /// Sets [`send_frame_size`](field@Self::send_frame_size) (default `None`: unfragmented).
    pub fn send_frame_size(mut self, bytes: Option<usize>) -> Self {
        self.send_frame_size = bytes;
        self
    }

    /// Sets [`max_write_buffer`](field@Self::max_write_buffer) (default 8 MiB).
    pub fn max_write_buffer(mut self, bytes: usize) -> Self {
        self.max_write_buffer = bytes;
        self
    }

    /// Sets [`linger_bytes`](field@Self::linger_bytes) (default 1 MiB; 0 turns lingering off).
    pub fn linger_bytes(mut self, bytes: usize) -> Self {
        self.linger_bytes = bytes;
        self
    }

    /// Sets [`linger_quiet`](field@Self::linger_quiet) (default 500 ms).
    pub fn linger_quiet(mut self, quiet: Duration) -> Self {
        self.linger_quiet = quiet;
        self
    }
}

/// An optional timeout as the connection applies it: zero is off, like `None`.
pub(super) fn nonzero(duration: Option<Duration>) -> Option<Duration> {
    duration.filter(|d| !d.is_zero())
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            close_timeout: Self::DEFAULT_CLOSE_TIMEOUT,
            ping_interval: Some(Self::DEFAULT_PING_INTERVAL),
            idle_timeout: Some(Self::DEFAULT_IDLE_TIMEOUT),
            write_timeout: Some(Self::DEFAULT_WRITE_TIMEOUT),
            max_write_buffer: Self::DEFAULT_MAX_WRITE_BUFFER,
            send_frame_size: None,
            linger_bytes: Self::DEFAULT_LINGER_BYTES,
            linger_quiet: Self::DEFAULT_LINGER_QUIET,
        }
    }
}
