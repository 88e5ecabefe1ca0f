//! fastwebsockets' client: a `TcpStream`, `handshake::client` over hyper with the request its
//! `examples/autobahn_client.rs` builds, a `FragmentCollector`, then `write_frame` /
//! `read_frame`. fastwebsockets has no queue: each `write_frame` writes its frame out, so a
//! window of several messages is several writes.

use std::future::Future;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, handshake};
use http::Request;
use http::header::{CONNECTION, HOST, UPGRADE};
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct FastWebSockets(FragmentCollector<TokioIo<Upgraded>>);

/// The executor `handshake::client` runs hyper's connection task on.
struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::spawn(fut);
    }
}

pub async fn connect(url: &str) -> Result<FastWebSockets, String> {
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("not a ws:// URL: {url:?}"))?;
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    // Every client here turns Nagle off.
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = Request::get(url.replacen("ws://", "http://", 1))
        .header(HOST, authority)
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "upgrade")
        .header("Sec-WebSocket-Key", handshake::generate_key())
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let (ws, _response) = handshake::client(&SpawnExecutor, request, stream)
        .await
        .map_err(|e| e.to_string())?;
    Ok(FastWebSockets(FragmentCollector::new(ws)))
}

impl super::Client for FastWebSockets {
    async fn send(&mut self, payload: &Bytes, window: usize) -> Result<(), String> {
        for _ in 0..window {
            let frame = Frame::binary(Payload::Borrowed(payload));
            self.0.write_frame(frame).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn recv(&mut self, payload: &[u8], compare: bool) -> Result<(), String> {
        let frame = self.0.read_frame().await.map_err(|e| e.to_string())?;
        match frame.opcode {
            OpCode::Binary => super::check_echo(&frame.payload, payload, compare),
            other => Err(format!("a {other:?} frame for an echo")),
        }
    }

    async fn close(mut self) -> Result<(), String> {
        let close = Frame::close(1000, &[]);
        self.0.write_frame(close).await.map_err(|e| e.to_string())?;
        // Wait for the server's Close (fastwebsockets answers nothing more by itself).
        loop {
            match self.0.read_frame().await {
                Ok(frame) if frame.opcode == OpCode::Close => return Ok(()),
                Ok(_) => {}
                Err(_) => return Ok(()),
            }
        }
    }
}
