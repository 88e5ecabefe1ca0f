//! What a connection costs follows what the peer sent, not what it announced: a frame header
//! declaring 16 MiB, 4 KiB of payload and a stall must not make the server reserve 16 MiB.
//!
//! Its own test binary: a counting global allocator tracks the live bytes of the whole
//! process, so nothing else may run beside the one test.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use tokio::io::AsyncWriteExt;
use tower_websocket::{Config, Conn, Role};

use support::{OpCode, frame_header};

/// The system allocator, counting the bytes currently allocated and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only the counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `layout` is passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNECTIONS: usize = 1000;
const ANNOUNCED: u64 = 16 << 20;
const SENT: usize = 4096;

/// A masked binary frame header announcing `ANNOUNCED` bytes, then `SENT` bytes of payload.
fn announcing_frame() -> Vec<u8> {
    let mut wire = frame_header(true, OpCode::Binary, ANNOUNCED, true);
    wire.extend(std::iter::repeat_n(0x5a, SENT));
    wire
}

#[tokio::test(flavor = "current_thread")]
async fn a_stalled_16_mib_announcement_costs_what_was_sent() {
    let config = Config::new().ping_interval(None).idle_timeout(None);
    let wire = announcing_frame();
    let mut peers = Vec::with_capacity(CONNECTIONS);
    let mut servers = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let (mut peer, server) = tokio::io::duplex(64 * 1024);
        peer.write_all(&wire).await.expect("write");
        peers.push(peer);
        servers.push(Conn::from_raw(server, Role::Server, &config));
    }
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    for server in &mut servers {
        // One poll reads everything the peer sent, then the read would block: pending.
        // Unconstrained: tokio's cooperative budget would otherwise make reads return
        // pending after a hundred or so polls in one go, and most servers would read nothing.
        let poll_once = poll_fn(|cx| Poll::Ready(server.poll_recv(cx).is_pending()));
        assert!(
            tokio::task::unconstrained(poll_once).await,
            "recv should wait for the rest"
        );
    }
    let grown = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    let per_connection = grown / CONNECTIONS;
    let peak_per_connection = PEAK.load(Ordering::Relaxed).saturating_sub(before) / CONNECTIONS;
    // What was sent is 4 KiB per connection, held in each read buffer (so each server did
    // read it); the old code reserved the announced 16 MiB.
    assert!(
        per_connection >= SENT,
        "{per_connection} bytes: the servers read nothing?"
    );
    assert!(
        per_connection < 128 * 1024,
        "{per_connection} bytes per connection after {SENT} bytes of a {ANNOUNCED}-byte frame"
    );
    assert!(
        peak_per_connection < 128 * 1024,
        "a peak of {peak_per_connection} bytes per connection"
    );
    drop(servers);
    drop(peers);
}
