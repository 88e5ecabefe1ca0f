//! Corking: what a connection's task writes while it runs leaves in one write when it yields.
//!
//! A handler that answers each message with `send` would otherwise pay one write (a syscall,
//! one TCP segment) per reply, even when one read brought in sixteen messages. uWebSockets
//! corks every reply made during one event-loop turn and sends them together; this is the same
//! for a tokio task. [`corked`] wraps the transport; while [`Corked`] polls the connection's
//! task, writes to that transport are copied into the thread's cork buffer and reported
//! written, and flushes are put off. Once the task's future returns `Pending` (the task is about
//! to yield), the buffer goes out in one write, and the transport is flushed. So a message that
//! `send` returned for is on the wire (or in the kernel's send buffer) by the time the task
//! next yields, and never waits longer than that.
//!
//! The buffer belongs to the thread, not the connection: one task is polled at a time, so ten
//! thousand connections share one. Bytes the transport did not take at once (the peer is slow)
//! stay with the connection, at most [`CORK_LIMIT`] of them, and every later write waits for
//! them first: the connection's own backpressure and write timeout then apply as without
//! corking. Writes made outside the task (the connection moved to another task, a split
//! driver) go straight through, after whatever is still held; if the task's poll that corked
//! bytes has not ended yet (the connection was handed to a task on another thread before its
//! own task yielded), they wait for it, so bytes never overtake one another. A failed write of
//! corked bytes is reported by the connection's next read or write. Large writes with nothing
//! corked skip the copy.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::io::{BoxedIo, Io};

/// At most this much is corked; past it, writes go through (after what is corked).
pub(crate) const CORK_LIMIT: usize = 64 * 1024;

/// A write at least this large, with nothing corked, is written directly rather than copied.
const DIRECT_WRITE: usize = 16 * 1024;

thread_local! {
    /// The cork whose task is being polled on this thread (its address), or 0.
    static ACTIVE: Cell<usize> = const { Cell::new(0) };
    /// What the active cork's connection wrote since its task was polled.
    static CORKED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Wraps `io` for corking: the transport to build the connection on, and the [`Cork`] to run
/// the connection's task with.
pub(crate) fn corked<T: Io>(io: T) -> (BoxedIo, Cork) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            io,
            backlog: None,
            failed: None,
        }),
        blocked: AtomicBool::new(false),
        loaned: AtomicBool::new(false),
    });
    let io = BoxedIo::new(CorkedIo {
        shared: shared.clone(),
    });
    (io, Cork { shared })
}

/// The handle that runs a future with corking on: see [`Cork::run`].
pub(crate) struct Cork {
    shared: Arc<dyn Uncork>,
}

impl Cork {
    /// Runs `future` with the transport corked while it is polled; the corked bytes are written
    /// whenever it returns `Pending`. What is still held when it finishes is for
    /// [`drain`](Self::drain).
    pub(crate) fn run<F: Future>(&self, future: F) -> Corked<'_, F> {
        Corked { future, cork: self }
    }

    /// Writes what is still held (a `send` right before the handler returned, to a slow peer)
    /// before the transport is dropped, unless the peer takes none of it for `timeout`.
    pub(crate) async fn drain(&self, timeout: Duration) {
        let uncork = std::future::poll_fn(|cx| self.shared.poll_uncork(cx, &[]));
        if tokio::time::timeout(timeout, uncork).await.is_err() {
            tracing::debug!("WebSocket peer not reading; dropping the last corked bytes");
        }
    }

    fn address(&self) -> usize {
        Arc::as_ptr(&self.shared).cast::<()>() as usize
    }
}

/// While alive, the cork is active on this thread (unless another one already was: a cork
/// polled inside another's task writes through). Ending it hands the corked bytes over.
struct Scope<'a> {
    cork: &'a Cork,
    entered: bool,
}

impl<'a> Scope<'a> {
    fn enter(cork: &'a Cork) -> Self {
        let entered = ACTIVE.with(|active| {
            if active.get() != 0 {
                return false;
            }
            active.set(cork.address());
            true
        });
        Self { cork, entered }
    }

    /// Ends the scope and writes what was corked (then flushes), as far as the transport takes
    /// it; the rest stays with the connection. A failure is kept for the connection's next read
    /// or write to report; bytes the transport did not take are written when it is ready (it
    /// wakes this task), or by [`Cork::drain`].
    fn exit(mut self, cx: &mut Context<'_>) {
        let fresh = self.leave();
        let _ = self.cork.shared.poll_uncork(cx, &fresh);
        give_back(fresh);
    }

    fn leave(&mut self) -> Vec<u8> {
        if !std::mem::take(&mut self.entered) {
            return Vec::new();
        }
        ACTIVE.with(|active| active.set(0));
        take_corked()
    }
}

impl Drop for Scope<'_> {
    /// The future panicked: keep what it wrote for the next write.
    fn drop(&mut self) {
        let fresh = self.leave();
        if !fresh.is_empty() {
            self.cork.shared.hold(&fresh);
        }
        give_back(fresh);
    }
}

/// The thread's cork buffer, taken (its capacity too) for as long as it is written out.
fn take_corked() -> Vec<u8> {
    CORKED
        .with(|corked| corked.try_borrow_mut().map(|mut c| std::mem::take(&mut *c)))
        .unwrap_or_default()
}

/// Returns the cork buffer, emptied, for the next task polled on this thread.
fn give_back(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 {
        return;
    }
    buffer.clear();
    buffer.shrink_to(CORK_LIMIT);
    CORKED.with(|corked| {
        if let Ok(mut corked) = corked.try_borrow_mut() {
            if corked.capacity() == 0 {
                *corked = buffer;
            }
        }
    });
}

pin_project! {
    /// Future of [`Cork::run`]: the future's output.
    pub(crate) struct Corked<'a, F> {
        #[pin]
        future: F,
        cork: &'a Cork,
    }
}

impl<F: Future> Future for Corked<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let scope = Scope::enter(this.cork);
        let polled = this.future.poll(cx);
        scope.exit(cx);
        polled
    }
}

/// Writing out what is corked, whatever the transport's type.
trait Uncork: Send + Sync {
    /// Writes what is held, then `fresh` (keeping what the transport does not take), then
    /// flushes.
    fn poll_uncork(&self, cx: &mut Context<'_>, fresh: &[u8]) -> Poll<io::Result<()>>;

    /// Keeps `fresh` behind what is held, without writing.
    fn hold(&self, fresh: &[u8]);
}

struct Shared<T> {
    inner: Mutex<Inner<T>>,
    /// Bytes are held or a write failed: every write takes the slow path (through the lock).
    blocked: AtomicBool,
    /// Some of this connection's bytes are in the cork buffer of the thread polling its task:
    /// a write from anywhere else waits until they are handed over (the task's poll ends).
    loaned: AtomicBool,
}

struct Inner<T> {
    io: T,
    /// Corked bytes the transport has not taken yet, and the tasks waiting for them (boxed:
    /// rare, and every idle connection carries the field).
    backlog: Option<Box<Backlog>>,
    /// A failed write of corked bytes, reported to the connection's next write.
    failed: Option<io::ErrorKind>,
}

impl<T> Inner<T> {
    /// Registers the task to be woken once the backlog is written (or the loan returned).
    fn wait(&mut self, cx: &mut Context<'_>) {
        let waiters = &mut self.backlog.get_or_insert_with(Box::default).waiters;
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
    }

    /// Wakes every waiting task; drops the backlog once it is written.
    fn wake_waiters(&mut self) {
        if let Some(backlog) = &mut self.backlog {
            backlog.waiters.drain(..).for_each(Waker::wake);
            if backlog.is_written() {
                self.backlog = None;
            }
        }
    }
}

/// Corked bytes the transport has not taken yet, from `written` on; the tasks to wake once
/// they are written (the transport keeps only the last waker, and more than one task may wait:
/// the connection's task and the one it was moved to).
#[derive(Default)]
struct Backlog {
    bytes: Vec<u8>,
    written: usize,
    waiters: Vec<Waker>,
}

impl Backlog {
    fn is_written(&self) -> bool {
        self.written == self.bytes.len()
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Nothing here panics while holding the lock but the transport itself; its state is
        // then what the next call finds out.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this transport's task is being polled on this thread (the address is the one
    /// [`Cork::address`] gives, the data half of the same `Arc`).
    fn is_active(&self) -> bool {
        ACTIVE.with(Cell::get) == std::ptr::from_ref(self).cast::<()>() as usize
    }

    /// Whether writes may be corked now: the task is active, and nothing is held back from
    /// before.
    fn may_cork(&self) -> bool {
        self.is_active() && !self.blocked.load(Ordering::Relaxed)
    }

    fn update_blocked(&self, inner: &Inner<T>) {
        let held = inner.backlog.as_ref().is_some_and(|b| !b.is_written());
        self.blocked
            .store(held || inner.failed.is_some(), Ordering::Relaxed);
    }

    /// The bytes in the thread's cork buffer have been handed over: wake whoever waited.
    fn returned(&self, inner: &mut Inner<T>) {
        if self.loaned.load(Ordering::Relaxed) && self.loaned.swap(false, Ordering::Relaxed) {
            inner.wake_waiters();
        }
    }
}

impl<T: Io> Uncork for Shared<T> {
    fn poll_uncork(&self, cx: &mut Context<'_>, fresh: &[u8]) -> Poll<io::Result<()>> {
        let mut inner = self.lock();
        let polled = inner.poll_uncork(cx, fresh);
        if let Poll::Ready(Err(error)) = &polled {
            inner.failed = Some(error.kind());
            inner.wake_waiters();
        }
        self.returned(&mut inner);
        self.update_blocked(&inner);
        polled
    }

    fn hold(&self, fresh: &[u8]) {
        let mut inner = self.lock();
        inner.keep(fresh);
        self.returned(&mut inner);
        self.update_blocked(&inner);
    }
}

impl<T: Io> Inner<T> {
    fn poll_uncork(&mut self, cx: &mut Context<'_>, mut fresh: &[u8]) -> Poll<io::Result<()>> {
        if self.failed.is_some() {
            return self.poll_drain(cx);
        }
        if self.backlog.is_none() {
            // Nothing held: write the fresh bytes from where they are, keep only the rest.
            while !fresh.is_empty() {
                match Pin::new(&mut self.io).poll_write(cx, fresh) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => fresh = &fresh[n..],
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
        }
        self.keep(fresh);
        ready!(self.poll_drain(cx))?;
        // Flushes put off while corked are made here (a no-op on TCP; a TLS stream writes out
        // its records).
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Writes everything held.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(kind) = self.failed {
            return Poll::Ready(Err(kind.into()));
        }
        if let Some(backlog) = &mut self.backlog {
            while !backlog.is_written() {
                let rest = &backlog.bytes[backlog.written..];
                match Pin::new(&mut self.io).poll_write(cx, rest) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => backlog.written += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        self.wait(cx);
                        return Poll::Pending;
                    }
                }
            }
            self.wake_waiters();
        }
        Poll::Ready(Ok(()))
    }

    /// Keeps `fresh` behind what is held.
    fn keep(&mut self, fresh: &[u8]) {
        if fresh.is_empty() {
            return;
        }
        let backlog = self.backlog.get_or_insert_with(Box::default);
        if backlog.is_written() {
            backlog.bytes.clear();
            backlog.written = 0;
        }
        backlog.bytes.extend_from_slice(fresh);
    }
}

/// Copies as much of `bufs` as fits into the thread's cork buffer; `None` if the write is better
/// made directly (large, with nothing corked) or the buffer is full or in use.
fn cork_into_buffer<'a>(bufs: impl Iterator<Item = &'a [u8]>, total: usize) -> Option<usize> {
    CORKED.with(|corked| {
        let mut corked = corked.try_borrow_mut().ok()?;
        if corked.is_empty() && total >= DIRECT_WRITE {
            return None;
        }
        let mut room = CORK_LIMIT.saturating_sub(corked.len());
        if room == 0 {
            return None;
        }
        let mut taken = 0;
        for buf in bufs {
            let take = room.min(buf.len());
            corked.extend_from_slice(&buf[..take]);
            taken += take;
            room -= take;
            if room == 0 {
                break;
            }
        }
        Some(taken)
    })
}

/// The transport of a corked connection.
struct CorkedIo<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Io> CorkedIo<T> {
    /// Copies a write into the thread's cork buffer, if it may be corked now.
    fn cork(&self, bufs: &[IoSlice<'_>]) -> Option<usize> {
        if !self.shared.may_cork() {
            return None;
        }
        let total = bufs.iter().map(|b| b.len()).sum();
        let taken = cork_into_buffer(bufs.iter().map(|b| &b[..]), total)?;
        self.shared.loaned.store(true, Ordering::Relaxed);
        Some(taken)
    }

    /// The slow path of a write: the lock, and first whatever is corked or held.
    fn poll_through(&self, cx: &mut Context<'_>) -> Poll<io::Result<MutexGuard<'_, Inner<T>>>> {
        let mut inner = self.shared.lock();
        if self.shared.is_active() {
            // Corked in this poll and now full: behind what is held, in order.
            let fresh = take_corked();
            inner.keep(&fresh);
            give_back(fresh);
            self.shared.returned(&mut inner);
        } else if self.shared.loaned.load(Ordering::Relaxed) {
            // Moved out of its task while bytes it sent are still in that thread's cork
            // buffer: they go first, when that task's poll ends (it wakes us).
            inner.wait(cx);
            return Poll::Pending;
        }
        let drained = inner.poll_drain(cx);
        self.shared.update_blocked(&inner);
        ready!(drained)?;
        Poll::Ready(Ok(inner))
    }
}

impl<T: Io> AsyncRead for CorkedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut inner = self.shared.lock();
        if let Some(kind) = inner.failed {
            // A corked write failed: the connection is broken both ways.
            return Poll::Ready(Err(kind.into()));
        }
        Pin::new(&mut inner.io).poll_read(cx, buf)
    }
}

impl<T: Io> AsyncWrite for CorkedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(taken) = self.cork(&[IoSlice::new(buf)]) {
            return Poll::Ready(Ok(taken));
        }
        let mut inner = ready!(self.poll_through(cx))?;
        Pin::new(&mut inner.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(taken) = self.cork(bufs) {
            return Poll::Ready(Ok(taken));
        }
        let mut inner = ready!(self.poll_through(cx))?;
        let io = Pin::new(&mut inner.io);
        if io.is_write_vectored() {
            return io.poll_write_vectored(cx, bufs);
        }
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        io.poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shared.may_cork() {
            // Put off until the task yields.
            return Poll::Ready(Ok(()));
        }
        let mut inner = ready!(self.poll_through(cx))?;
        Pin::new(&mut inner.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = ready!(self.poll_through(cx))?;
        Pin::new(&mut inner.io).poll_shutdown(cx)
    }
}
