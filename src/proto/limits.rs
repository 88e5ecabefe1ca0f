/// Size limits applied to what the peer sends (RFC 6455 §10.4).
///
/// The defaults let a 16 MiB message through (Autobahn 9.x sends 16 MiB in one frame and 4 MiB in
/// 65,536 fragments) while bounding what one connection can make the server buffer.
///
/// Plain settings: read the fields, set them with the builder methods of the same name (or
/// assign them). Every value is valid; new fields may be added in minor releases, so build one
/// from [`Limits::new`] or [`Limits::default`].
///
/// ```
/// use tower_websocket::Limits;
///
/// let limits = Limits::new().max_message_size(1 << 20).max_fragments(64);
/// assert_eq!(limits.max_message_size, 1 << 20);
/// assert_eq!(limits.max_frame_size, Limits::DEFAULT_MAX_FRAME_SIZE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest frame payload accepted, in bytes (default 16 MiB); a larger frame closes
    /// the connection with 1009 as soon as its header arrives, before any of it is buffered.
    pub max_frame_size: usize,
    /// The largest (reassembled, and inflated) message accepted, in bytes (default 16 MiB);
    /// exceeding it closes with 1009.
    pub max_message_size: usize,
    /// The most frames one message may be split into, empty ones included (default 131,072);
    /// exceeding it closes with 1009. Bounds the work a peer can cause with tiny fragments.
    pub max_fragments: usize,
}

impl Limits {
    /// Default [`max_frame_size`](field@Self::max_frame_size): 16 MiB.
    pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
    /// Default [`max_message_size`](field@Self::max_message_size): 16 MiB.
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
    /// Default [`max_fragments`](field@Self::max_fragments): 131,072.
    pub const DEFAULT_MAX_FRAGMENTS: usize = 1 << 17;

    /// The defaults; see [`Default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`max_frame_size`](field@Self::max_frame_size).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](field@Self::max_message_size).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_fragments`](field@Self::max_fragments).
    pub fn max_fragments(mut self, count: usize) -> Self {
        self.max_fragments = count;
        self
    }
}

impl Default for Limits {
    /// 16 MiB frames, 16 MiB messages, 131,072 fragments per message.
    fn default() -> Self {
        Self {
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            max_fragments: Self::DEFAULT_MAX_FRAGMENTS,
        }
    }
}
