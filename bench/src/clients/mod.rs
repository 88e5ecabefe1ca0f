//! One echo client per library, each used the way its documentation shows, and the loop they
//! share. The `client_load` binary runs many of them on one single-threaded runtime.
//!
//! A connection sends `window` binary messages, then reads their `window` echoes, and again,
//! until told to stop. With a window of 1 that is ping-pong through each library's `send`; with
//! more, each library's way of queueing several messages and writing them out together.

pub mod fastwebsockets;
pub mod ours;
pub mod tungstenite;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

/// The client libraries `client_load` can drive, in the order the tables list them.
pub const IMPLS: &[&str] = &["ours", "tungstenite", "fastwebsockets"];

/// What one connection does.
pub struct Job {
    /// `ws://127.0.0.1:PORT/`.
    pub url: String,
    /// The payload of every message.
    pub payload: Bytes,
    /// Messages sent before their echoes are read.
    pub window: usize,
    /// Echoes received, by every connection.
    pub echoes: Arc<AtomicU64>,
    /// Set when the measurement is over: the connection closes and its task ends.
    pub stop: Arc<AtomicBool>,
    /// Told once, after the handshake and a first echo checked byte for byte (or the error).
    pub ready: mpsc::Sender<Result<(), String>>,
}

/// One connected client library.
pub(crate) trait Client {
    /// Sends `payload` `window` times as binary messages; with a window of 1, through the
    /// library's one-message send.
    async fn send(&mut self, payload: &Bytes, window: usize) -> Result<(), String>;
    /// Reads the next message, which must be a binary echo of `payload`: its length is checked,
    /// and its bytes too when `compare`.
    async fn recv(&mut self, payload: &[u8], compare: bool) -> Result<(), String>;
    /// Closes with 1000 and waits for the server's answer.
    async fn close(self) -> Result<(), String>;
}

/// Connects with the library `name` (one of [`IMPLS`]) and runs `job` until it is stopped.
pub async fn run(name: String, job: Job) -> Result<(), String> {
    let result = match name.as_str() {
        "ours" => drive(ours::connect(&job.url).await, &job).await,
        "tungstenite" => drive(tungstenite::connect(&job.url).await, &job).await,
        "fastwebsockets" => drive(fastwebsockets::connect(&job.url).await, &job).await,
        other => Err(format!("unknown client {other:?}")),
    };
    // Errors are reported through `ready` too, so that `client_load` stops waiting.
    if let Err(e) = &result {
        let _ = job.ready.try_send(Err(e.clone()));
    }
    result
}

async fn drive<C: Client>(connected: Result<C, String>, job: &Job) -> Result<(), String> {
    let mut client = connected.map_err(|e| format!("connect: {e}"))?;
    client.send(&job.payload, 1).await?;
    client.recv(&job.payload, true).await?;
    job.ready
        .send(Ok(()))
        .await
        .map_err(|_| "client_load stopped waiting".to_owned())?;
    while !job.stop.load(Ordering::Relaxed) {
        client.send(&job.payload, job.window).await?;
        for _ in 0..job.window {
            client.recv(&job.payload, false).await?;
        }
        job.echoes.fetch_add(job.window as u64, Ordering::Relaxed);
    }
    client.close().await
}

/// The error for an echo that is not `payload`.
fn check_echo(got: &[u8], payload: &[u8], compare: bool) -> Result<(), String> {
    if got.len() != payload.len() {
        return Err(format!(
            "an echo of {} bytes for a message of {}",
            got.len(),
            payload.len()
        ));
    }
    if compare && got != payload {
        return Err("an echo that differs from the message sent".into());
    }
    Ok(())
}
