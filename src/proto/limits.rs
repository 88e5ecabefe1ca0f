/// Size limits applied to what the peer sends (RFC 6455 §10.4).
///
/// The defaults let a 16 MiB message through (Autobahn 9.x sends 16 MiB in one frame and 4 MiB in
/// 65,536 fragments) while bounding what one connection can make the server buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) max_fragments: usize,
}

impl Limits {
    /// Default [`max_frame_size`](Self::max_frame_size): 16 MiB.
    pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
    /// Default [`max_message_size`](Self::max_message_size): 16 MiB.
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
    /// Default [`max_fragments`](Self::max_fragments): 131,072.
    pub const DEFAULT_MAX_FRAGMENTS: usize = 1 << 17;

    /// The largest frame payload accepted; a larger frame closes the connection with 1009
    /// as soon as its header arrives, before any of it is buffered.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The largest (reassembled) message accepted; exceeding it closes with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The most frames one message may be split into, empty ones included; exceeding it
    /// closes with 1009. Bounds the work a peer can cause with tiny fragments.
    pub fn max_fragments(mut self, count: usize) -> Self {
        self.max_fragments = count;
        self
    }

    /// The configured frame limit.
    pub fn get_max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// The configured message limit.
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The configured fragment limit.
    pub fn get_max_fragments(&self) -> usize {
        self.max_fragments
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            max_fragments: Self::DEFAULT_MAX_FRAGMENTS,
        }
    }
}
