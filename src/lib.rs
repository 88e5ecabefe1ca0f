//! WebSockets for any tower-based HTTP stack.
//!
//! [`WebSocketUpgradeLayer`] is a [`tower_layer::Layer`]: it wraps any service (an axum
//! `Router`, a tonic server, a plain hyper service). Requests that are WebSocket handshakes and
//! match its filter are answered by the layer — `101 Switching Protocols`, or a 4xx with a
//! plain-text reason — and the connection is handed to your handler as a [`Conn`]. Every other
//! request goes to the inner service untouched.
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::rt::{TokioExecutor, TokioIo};
//! use hyper_util::server::conn::auto;
//! use hyper_util::service::TowerToHyperService;
//! use tower::{Layer, service_fn};
//! use tower_websocket::{Conn, WebSocketUpgradeLayer};
//!
//! async fn echo(mut conn: Conn) {
//!     while let Some(Ok(message)) = conn.recv().await {
//!         if message.is_data() && conn.send(message).await.is_err() {
//!             break;
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = service_fn(|_req| async {
//!     Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("hello"))))
//! });
//! let service = WebSocketUpgradeLayer::new(echo).path("/ws").layer(app);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = TowerToHyperService::new(service.clone());
//!     tokio::spawn(async move {
//!         // Upgrades must be enabled, or the handshake cannot take the connection over.
//!         let _ = auto::Builder::new(TokioExecutor::new())
//!             .serve_connection_with_upgrades(TokioIo::new(stream), service)
//!             .await;
//!     });
//! }
//! # }
//! ```
//!
//! # Server prerequisites
//!
//! The layer takes the connection over with `hyper::upgrade::on`, so the HTTP server must
//! support upgrades: hyper-util's `auto::Builder::serve_connection_with_upgrades`, or hyper's
//! `http1::Builder::serve_connection(..).with_upgrades()`. A request that arrives without
//! hyper's upgrade handle is answered `500` with a body naming that fix, and logged.
//! Handlers run in their own tokio task; a handler that panics ends its own connection only.
//!
//! # What the layer checks
//!
//! RFC 6455 §4.2.1, in this order, with token lists read across all header lines in any case:
//!
//! | request | response |
//! |---|---|
//! | method is not `GET` | `405` with `Allow: GET` |
//! | HTTP/1.0 | `505` |
//! | no `websocket` token in `Upgrade` | `400` |
//! | no `Upgrade` token in `Connection` (`keep-alive, Upgrade` is fine) | `400` |
//! | `Sec-WebSocket-Version` missing or not `13` | `426` with `Sec-WebSocket-Version: 13`, `Upgrade: websocket` |
//! | `Sec-WebSocket-Key` missing, repeated, or not base64 of 16 bytes | `400` |
//!
//! A request counts as a handshake attempt (and is answered by the layer rather than passed on)
//! when it asks to upgrade to `websocket` or carries `Sec-WebSocket-Key`/`Sec-WebSocket-Version`.
//! The pure checks live in [`handshake`] and can be called without a server.
//!
//! # The connection
//!
//! [`Conn`] yields whole [`Message`]s. It reassembles fragments (with control frames
//! interleaved), answers pings, runs the close handshake, validates UTF-8 incrementally
//! (failing at the first invalid byte, even mid-frame), and fails the connection with the right
//! close code on any violation: 1002 for protocol errors, 1007 for invalid UTF-8, 1009 for a
//! frame or message over the [`Limits`]. Defaults, all configurable through [`Config`]:
//!
//! | setting | default |
//! |---|---|
//! | [`Limits::max_frame_size`] | 16 MiB |
//! | [`Limits::max_message_size`] | 16 MiB |
//! | [`Limits::max_fragments`] | 131,072 per message |
//! | [`Config::close_timeout`] | 10 s |
//!
//! # Layout
//!
//! - [`proto`]: the sans-IO protocol core (frame codec, masking, UTF-8, close codes, decoder,
//!   encoder). No sockets, no runtime.
//! - [`handshake`]: the opening handshake as pure functions over `http::request::Parts`.
//! - [`conn`]: [`Conn`], the IO layer over any `AsyncRead + AsyncWrite`.
//! - [`WebSocketUpgradeLayer`], [`WebSocketUpgrade`], [`ResponseFuture`], [`UpgradeBody`]: the
//!   tower layer, service, future and body.

#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
mod body;
mod config;
pub mod conn;
mod detach;
mod error;
mod future;
mod handler;
pub mod handshake;
mod layer;
pub mod proto;
mod service;
mod upgrade;

pub use body::UpgradeBody;
pub use config::Config;
pub use conn::{BoxedIo, Conn};
pub use error::Error;
pub use future::ResponseFuture;
pub use handler::{Handler, HandlerOutput};
pub use layer::WebSocketUpgradeLayer;
pub use proto::{CloseCode, CloseFrame, Limits, Message, ProtocolError, Role, Utf8Bytes};
pub use service::WebSocketUpgrade;
