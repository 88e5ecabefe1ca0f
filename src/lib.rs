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
//! use tower::{Layer, service_fn};
//! use tower_websocket::{Conn, WebSocketUpgradeLayer, server};
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
//! // HTTP/1.1 and HTTP/2, a header read timeout, a connection cap, accept errors survived;
//! // on Ctrl-C every WebSocket is closed with 1001.
//! server::serve(listener, service)
//!     .with_graceful_shutdown(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await
//! # }
//! ```
//!
//! [`server::serve`] (feature `server`, on by default) is the accept loop to use with plain
//! hyper; its defaults and what `axum::serve` covers are in the [`server`] docs.
//!
//! # Server prerequisites
//!
//! The layer takes the connection over with `hyper::upgrade::on`, so the HTTP server must
//! support upgrades: hyper-util's `auto::Builder::serve_connection_with_upgrades`, or hyper's
//! `http1::Builder::serve_connection(..).with_upgrades()`. For WebSockets over HTTP/2 (RFC
//! 8441) the HTTP/2 side must also advertise extended CONNECT:
//! `builder.http2().enable_connect_protocol()` on hyper-util's auto builder (or hyper's
//! `http2::Builder`). A server without upgrade support is reported, never a silent hang: a
//! request that arrives without hyper's upgrade handle is answered `500` with a body naming the
//! fix; a server that sends the `101` but cannot hand the connection over (`serve_connection`
//! without upgrades) closes it, so the client sees the end of the stream; both are logged at
//! error level and passed to [`on_failed_upgrade`](WebSocketUpgradeLayer::on_failed_upgrade).
//! Handlers run in their own tokio task; a handler that panics ends its own connection only.
//!
//! # In axum
//!
//! A `Router` takes the layer like any other; `axum::serve` enables upgrades, and with axum's
//! `http2` feature extended CONNECT as well. Middleware added after the layer runs before it:
//! what it puts in the request extensions (an authenticated user, say) is in
//! `conn.request().extensions`, and a request it refuses never reaches the handler. See
//! `examples/axum.rs`. `axum::serve` has no header read timeout or connection cap and does
//! not close upgraded connections on shutdown: give the layer
//! [`max_connections`](WebSocketUpgradeLayer::max_connections) and a [`GracefulShutdown`],
//! or serve the `Router` with [`server::serve`] (the [`server`] docs compare the two).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tower_websocket::{Conn, WebSocketUpgradeLayer};
//!
//! # async fn echo(_: Conn) {}
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(WebSocketUpgradeLayer::new(echo).path("/ws"));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! # In tonic
//!
//! tonic's own `Server` speaks HTTP/2 only and enables neither HTTP/1.1 upgrades nor extended
//! CONNECT, so it cannot accept WebSockets. Serve tonic's [`Routes`] (a tower service) through
//! the layer with [`server::serve`] (hyper-util's auto builder) instead: gRPC and WebSockets
//! (HTTP/1.1 or HTTP/2) then share one port. See `examples/tonic.rs`.
//!
//! [`Routes`]: https://docs.rs/tonic/latest/tonic/service/struct.Routes.html
//!
//! ```no_run
//! use tonic::service::Routes;
//! use tower::Layer;
//! use tower_websocket::{Conn, WebSocketUpgradeLayer, server};
//!
//! # async fn echo(_: Conn) {}
//! # async fn run() -> std::io::Result<()> {
//! let (_reporter, health) = tonic_health::server::health_reporter();
//! let grpc = Routes::new(health).prepare(); // `.add_service(..)` for each gRPC service
//! let service = WebSocketUpgradeLayer::new(echo).path("/ws").layer(grpc);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
//! server::serve(listener, service).await
//! # }
//! ```
//!
//! An app that already depends on axum (with its `http2` feature) can do the same with
//! `axum::serve(listener, grpc.into_axum_router().layer(layer))`.
//!
//! # In plain hyper
//!
//! [`server::serve`], as above, serves HTTP/1.1 and HTTP/2 (`examples/echo.rs`). With your own
//! accept loop and hyper's HTTP/1.1-only builder, `.with_upgrades()` is what lets the layer
//! take the connection (`examples/http1.rs`); a loop of your own also needs what `serve`
//! sets up (a timer and header read timeout, a connection cap, accept errors survived):
//!
//! ```no_run
//! # use std::convert::Infallible;
//! # use bytes::Bytes;
//! # use http_body_util::Full;
//! # use tower::{Layer, service_fn};
//! # use tower_websocket::{Conn, WebSocketUpgradeLayer};
//! # async fn echo(_: Conn) {}
//! # async fn run(stream: tokio::net::TcpStream) {
//! # let app = service_fn(|_request| async {
//! #     Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new())))
//! # });
//! use hyper::server::conn::http1;
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//!
//! let service = WebSocketUpgradeLayer::new(echo).path("/ws").layer(app);
//! let _ = http1::Builder::new()
//!     .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
//!     .with_upgrades()
//!     .await;
//! # }
//! ```
//!
//! # HTTP/2 (RFC 8441)
//!
//! Once the server advertises extended CONNECT, a `CONNECT` request with
//! `:protocol: websocket` on `path` is a WebSocket handshake: `Sec-WebSocket-Version` is
//! checked as over HTTP/1.1 (there is no key), the origin policy, subprotocols and hooks apply
//! alike, and the layer answers `200` with no body. The same handler gets the same [`Conn`],
//! over the HTTP/2 stream; `conn.request().method` tells `CONNECT` from `GET`. A `CONNECT`
//! without `:protocol` (a proxy tunnel), or with another protocol, goes to the inner service.
//!
//! # Handshake policy
//!
//! After the RFC checks, and before the `101` (or `200`):
//!
//! - **Origin** ([`origin`](WebSocketUpgradeLayer::origin), [`handshake::OriginPolicy`]): by
//!   default a browser's `Origin` must name the host the request was sent to (`Host`, or
//!   `:authority`), else `403`; requests without `Origin` (not browsers) pass. Add trusted
//!   origins, replace the rule with a predicate, or opt out with
//!   `OriginPolicy::allow_any_origin()`.
//! - **Subprotocols**: [`protocols`](WebSocketUpgradeLayer::protocols) is the server's preference list (its most
//!   preferred protocol among those the client offered is chosen); the accept hook sees the client's ordered offer and may choose
//!   another offered one. A protocol the client did not offer is never answered. The choice is
//!   [`Conn::protocol`].
//! - **Accept hook** ([`on_handshake`](WebSocketUpgradeLayer::on_handshake)): inspects the
//!   request, refuses with any status and body ([`Refusal`]), or adds headers to the accepting
//!   response (e.g. `Set-Cookie`) and values to the connection's request extensions (what it
//!   learned, e.g. the authenticated user, for the handler's `conn.request().extensions`).
//! - **Async accept hook** ([`on_handshake_async`](WebSocketUpgradeLayer::on_handshake_async)):
//!   the same for a decision that has to wait (a database, a token service). The hook gets an
//!   [`OwnedHandshake`] and returns a future that gives it back to accept (or a [`Refusal`]);
//!   the layer awaits it before the `101`, at most the
//!   [`handshake_timeout`](WebSocketUpgradeLayer::handshake_timeout) (10 s by default, then
//!   `503`, [`Rejection::HandshakeTimeout`]). A shutdown meanwhile answers `503`; a client
//!   that leaves drops the future.
//! - **Rejection responses** ([`on_rejection`](WebSocketUpgradeLayer::on_rejection)): replace
//!   the layer's own `4xx` and `503` responses (body, headers); the [`Rejection`] (and for a
//!   bad request the [`handshake::HandshakeRejection`] inside it) is in the response
//!   extensions either way.
//!
//! An async accept hook that asks a token service:
//!
//! ```no_run
//! use http::StatusCode;
//! use tower_websocket::{Conn, WebSocketUpgradeLayer};
//!
//! #[derive(Clone)]
//! struct User(String);
//!
//! async fn chat(conn: Conn) {
//!     let user = conn.request().extensions.get::<User>().map(|u| u.0.clone());
//!     // ...
//! #   let _ = user;
//! }
//! # async fn user_for(_: Option<&http::HeaderValue>) -> Option<String> { None }
//! let layer = WebSocketUpgradeLayer::new(chat).on_handshake_async(|mut handshake| async move {
//!     // E.g. a call to a token service.
//!     let Some(user) = user_for(handshake.request().headers.get("authorization")).await else {
//!         return Err(handshake.reject(StatusCode::UNAUTHORIZED, "log in first"));
//!     };
//!     handshake.extensions_mut().insert(User(user));
//!     Ok(handshake)
//! });
//! # let _ = layer;
//! ```
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
//! | `Origin` not allowed by the [`handshake::OriginPolicy`] | `403` |
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
//! | [`Limits::max_frame_size`](field@Limits::max_frame_size) | 16 MiB |
//! | [`Limits::max_message_size`](field@Limits::max_message_size) | 16 MiB |
//! | [`Limits::max_fragments`](field@Limits::max_fragments) | 131,072 per message |
//! | [`Config::close_timeout`](field@Config::close_timeout) | 10 s: bounds every closing phase (the wait for the peer's Close, writing ours, the linger), whatever the write timeout |
//! | [`Config::linger_bytes`](field@Config::linger_bytes) | 1 MiB read and discarded at most after a Close of ours the peer has not answered, so it reads our Close instead of a TCP reset |
//! | [`Config::linger_quiet`](field@Config::linger_quiet) | 500 ms: the linger ends once nothing arrives for this long (or at EOF) |
//! | [`Config::ping_interval`](field@Config::ping_interval) | 30 s: a Ping when nothing arrived for that long |
//! | [`Config::idle_timeout`](field@Config::idle_timeout) | 60 s: nothing arrived (not even a Pong) → close 1001, [`Error::IdleTimeout`] |
//! | [`Config::write_timeout`](field@Config::write_timeout) | 30 s without write progress → dropped, [`Error::WriteTimeout`] |
//! | [`Config::max_write_buffer`](field@Config::max_write_buffer) | 8 MiB queued unwritten → dropped, [`Error::WriteBufferFull`] |
//!
//! Everything time-based runs on one timer per connection, polled only while the connection
//! waits. A slow reader cannot make the server buffer without bound: at 64 KiB queued,
//! `recv` stops reading until the peer catches up, and the write timeout ends the wait.
//! Memory follows what a peer sent, not what it announced: the read buffer grows with the
//! bytes that arrive (at most 8× what was sent of a frame), so a header that declares 16 MiB
//! costs what came after it.
//!
//! # Using the connection
//!
//! - **Receive** with [`Conn::recv`] (cancel safe: use it in `tokio::select!` freely) or as a
//!   `futures_core::Stream`; **send** with [`Conn::send`], or [`Conn::feed`] several messages
//!   and [`Conn::flush`] once, or as a `futures_sink::Sink`. On the layer's connections
//!   `send` is corked: what a handler sends while its task runs leaves in one write when the
//!   task yields (and never later), so `recv` + `send` batches replies as well as `feed` does.
//! - **Deadlines** (gorilla's `SetReadDeadline`/`SetWriteDeadline`):
//!   [`Conn::set_read_deadline`], [`Conn::set_write_deadline`].
//! - **Closing**: [`Conn::close_with`] sends a Close with a code and reason and runs the
//!   close handshake to its end, within
//!   [`Config::close_timeout`](field@Config::close_timeout); `futures::SinkExt::close` only
//!   queues Close 1000 and flushes it, and reading to `None` finishes the handshake.
//! - **Errors**: [`Error::is_closed`] (the connection is over), [`Error::is_timeout`],
//!   [`Error::close_code`] (the code the error made us close with) and
//!   [`Error::is_protocol_violation`] answer what handlers branch on.
//! - **Who**: [`Conn::request`] (the handshake's method, URI, headers and extensions),
//!   [`Conn::protocol`] and [`Conn::peer_addr`].
//! - **Several writers**: [`Conn::split`] gives a [`ReadHalf`] and a cloneable [`Sender`] with
//!   a bounded queue ([`Sender::send`] waits for room, [`Sender::try_send`] does not,
//!   [`Sender::buffered`] says how much waits); the read half's queue is bounded too (16
//!   messages and 1 MiB, [`SplitOptions`]), and [`SendError::reason`] says why a connection
//!   ended. A small driver task keeps answering pings
//!   and runs the close handshake even while nobody reads or writes.
//! - **Broadcast**: a [`PreparedMessage`] is encoded (and compressed) once and its frame
//!   shared by every connection it is sent to. With a `tokio::sync::broadcast` channel as the
//!   room:
//!
//! ```no_run
//! use tokio::sync::broadcast;
//! use tower_websocket::{Conn, Message, PreparedMessage};
//!
//! async fn member(mut conn: Conn, room: broadcast::Sender<PreparedMessage>) {
//!     let mut events = room.subscribe();
//!     loop {
//!         tokio::select! {
//!             incoming = conn.recv() => match incoming {
//!                 Some(Ok(Message::Text(text))) => {
//!                     let _ = room.send(PreparedMessage::new(Message::text(text)));
//!                 }
//!                 Some(Ok(_)) => {}
//!                 _ => break,
//!             },
//!             event = events.recv() => match event {
//!                 Ok(prepared) => {
//!                     if conn.send_prepared(&prepared).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!                 // Too slow: skipped some messages; carry on from the newest.
//!                 Err(broadcast::error::RecvError::Lagged(_)) => {}
//!                 Err(broadcast::error::RecvError::Closed) => break,
//!             },
//!         }
//!     }
//! }
//! ```
//!
//! - **JSON** (feature `json`): `Conn::send_json(&value)` and `Conn::recv_json::<T>()`, with
//!   `Error::Json` for a message that does not parse.
//! - **Graceful shutdown**: [`server::serve`]'s `with_graceful_shutdown(signal)` does it all;
//!   otherwise give the layer a [`GracefulShutdown`]: `shutdown(timeout)` closes every live
//!   connection with 1001, refuses new handshakes with 503, and waits for the handlers to
//!   finish. `live_connections()` is there for metrics.
//! - **Connection caps**: [`server::Serve::max_connections`] caps sockets (accepting pauses);
//!   [`WebSocketUpgradeLayer::max_connections`] caps live WebSockets with a `503` and
//!   `Retry-After`, under any server (axum's too).
//! - **Tracing**: each connection task runs in a `websocket` span (path, subprotocol, peer
//!   address); close codes, protocol errors, timeouts and shutdowns are `debug` events.
//!   Message contents are never logged.
//!
//! # The client
//!
//! [`client::connect`] opens a WebSocket to a `ws://` or `wss://` URL and gives the same
//! [`Conn`] a handler gets, with the same limits, keepalive, close handshake and compression;
//! [`client::Builder`] sets headers, subprotocols, permessage-deflate, timeouts, TLS, a proxy,
//! redirects and HTTP/2 (RFC 8441). The server's answer is checked strictly, and a refusal
//! keeps its status, headers and body in the [`client::Error`].
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_websocket::{Message, client};
//!
//! let mut conn = client::Builder::new("wss://example.com/chat")
//!     .header("authorization", "Bearer secret")
//!     .protocols(["chat.v1"])
//!     .connect()
//!     .await?;
//! conn.send(Message::text("hello")).await?;
//! while let Some(message) = conn.recv().await {
//!     println!("{:?}", message?);
//! }
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `server` | on | [`server::serve`], the accept loop with safe defaults |
//! | `http2` | on | WebSockets over HTTP/2 (RFC 8441), and HTTP/2 in `server::serve`; without it neither hyper's HTTP/2 nor `h2` is compiled, a `CONNECT` goes to the inner service, and `serve` speaks HTTP/1.1 (keep it if you serve with hyper-util's auto builder, which compiles HTTP/2 anyway: only with it is the auto builder's TCP stream recovered, for the direct path and [`Conn::peer_addr`]) |
//! | `deflate` | on | permessage-deflate (RFC 7692) on the zlib-rs backend: [`WebSocketUpgradeLayer::deflate`], `Conn::with_deflate`; without it `flate2` is not compiled and compression is never negotiated (the pure negotiation in [`handshake::extensions`] stays) |
//! | `client` | on | [`client::connect`], [`client::Builder`]: `ws://`, proxies, redirects, `connect_on` over any stream; with `http2`, RFC 8441 on the client too |
//! | `rustls` | on | `wss://` in the client: rustls (ring) with the webpki-roots trust anchors; implies `client` |
//! | `json` | off | `Conn::send_json` / `Conn::recv_json` (serde, serde_json) |
//!
//! `default-features = false, features = ["server"]` builds an HTTP/1.1-only server with
//! neither `h2` nor `flate2` in the tree.
//!
//! # Layout
//!
//! - `src/proto/`: the sans-IO protocol core (frame codec, masking, UTF-8, close codes,
//!   decoder, encoder), no sockets, no runtime. A private module: its value types are here
//!   at the crate root ([`Message`], [`Utf8Bytes`], [`CloseCode`], [`CloseFrame`],
//!   [`Limits`], [`DeflateConfig`], [`DeflateParams`], [`PreparedMessage`],
//!   [`ProtocolError`], [`Role`]); the codec itself is not API.
//! - [`handshake`]: the opening handshake as pure functions over `http::request::Parts`
//!   (RFC 6455, RFC 8441 extended CONNECT, the origin policy).
//! - [`Handshake`], [`OwnedHandshake`], [`Refusal`], [`FailedUpgrade`]: what the layer's hooks
//!   see and return.
//! - [`conn`]: [`Conn`], the IO layer over any `AsyncRead + AsyncWrite`.
//! - [`WebSocketUpgradeLayer`], [`WebSocketUpgrade`], [`ResponseFuture`], [`UpgradeBody`]: the
//!   tower layer, service, future and body.
//! - `client`: the client (dialing, TLS, proxies, redirects, RFC 8441) over the same `Conn`;
//!   the check of the server's answer is pure, in [`handshake::client`].

#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#[cfg(feature = "client")]
pub mod client;
pub mod conn;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
pub mod layer;
mod proto;
#[cfg(feature = "server")]
pub mod server;

pub use conn::{
    BoxedIo, Config, Conn, Error, GracefulShutdown, ReadHalf, SendError, Sender, SplitOptions,
    TrySendError,
};
pub use layer::{
    FailedUpgrade, Handler, HandlerOutput, Handshake, OwnedHandshake, ProtocolNotOffered, Refusal,
    Rejection, ResponseFuture, UpgradeBody, WebSocketUpgrade, WebSocketUpgradeLayer,
};
pub use proto::{
    CloseCode, CloseFrame, DeflateConfig, DeflateParams, Limits, Message, PreparedMessage,
    ProtocolError, Role, Utf8Bytes,
};
