//! Read buffers shared by the connections of one thread.
//!
//! An idle connection holds no read buffer: when a read would block and nothing is buffered,
//! the buffer goes back to this thread's pool, and the next read takes one out again. A busy
//! connection pays a pop and a push per wake-up instead of an allocation; ten thousand idle
//! connections cost nothing here (uWebSockets shares one receive buffer per event loop for the
//! same reason).

use std::cell::RefCell;

use bytes::BytesMut;

/// Capacity of a fresh buffer (tokio-util's codec default).
pub(super) const READ_CHUNK: usize = 8 * 1024;

/// The least room a read is given; a buffer with less is not pooled.
pub(super) const MIN_READ: usize = 1024;

/// Buffers kept per thread at most: at most 512 KiB per thread, whatever the connection count.
const MAX_POOLED: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least [`MIN_READ`] bytes.
pub(super) fn take() -> BytesMut {
    POOL.with(|pool| pool.try_borrow_mut().ok().and_then(|mut pool| pool.pop()))
        .unwrap_or_else(|| BytesMut::with_capacity(READ_CHUNK))
}

/// Returns an empty buffer to the pool if it still has room for a read and the pool has room;
/// otherwise it is dropped (its memory is freed once the last message cut from it is dropped).
pub(super) fn give_back(buf: BytesMut) {
    debug_assert!(buf.is_empty());
    if !(MIN_READ..=READ_CHUNK).contains(&buf.capacity()) {
        return;
    }
    POOL.with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.len() < MAX_POOLED {
                pool.push(buf);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    #[test]
    fn reuses_buffers_with_room_and_drops_exhausted_ones() {
        let buf = take();
        assert!(buf.capacity() >= MIN_READ);
        let ptr = buf.as_ptr();
        give_back(buf);
        let mut again = take();
        assert_eq!(again.as_ptr(), ptr, "a returned buffer is reused");

        // The rest of a buffer that messages were cut from is reused while it has room...
        again.put_slice(b"payload");
        let message = again.split().freeze();
        let rest = again.as_ptr();
        give_back(again);
        let mut next = take();
        assert_eq!(next.as_ptr(), rest);
        drop(message);

        // ...and dropped once it has less than MIN_READ left.
        next.put_slice(&vec![0; next.capacity() - MIN_READ + 1]);
        let _filled = next.split();
        give_back(next);
        assert!(take().capacity() >= MIN_READ);
    }
}
