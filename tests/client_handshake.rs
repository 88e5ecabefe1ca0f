//! The client's HTTP/1.1 handshake against raw servers that answer exactly the bytes each test
//! chooses: what the request carries, every way an answer is refused, frames right behind the
//! `101`, redirects, a CONNECT proxy, timeouts (in paused time), and `connect_on`.

mod support;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tower_websocket::client::{self, Builder, DEFAULT_HANDSHAKE_TIMEOUT, Proxy};
use tower_websocket::handshake::client::AnswerError;
use tower_websocket::handshake::extensions::DeflateResponseError;
use tower_websocket::{Conn, DeflateConfig, Message, WebSocketUpgradeLayer};

use support::{OpCode, echo, spawn_server, unmasked_frame, within};

// ---------------------------------------------------------------------------------------------
// A raw server: reads one request head per connection, records it, answers chosen bytes.
// ---------------------------------------------------------------------------------------------

/// A request head as a raw server (or proxy) read it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8(raw.to_vec()).expect("UTF-8 request head");
        let mut lines = text.trim_end().split("\r\n");
        let line = lines.next().expect("request line").to_owned();
        let headers = lines
            .map(|l| {
                let (name, value) = l.split_once(':').expect("header line");
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        Self { line, headers }
    }

    /// Every value of header `name` (lower case).
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name`; fails the test if it is missing or repeated.
    fn one(&self, name: &str) -> &str {
        match self.all(name)[..] {
            [value] => value,
            ref other => panic!("expected one {name}, got {other:?} in {self:?}"),
        }
    }

    fn has(&self, name: &str) -> bool {
        !self.all(name).is_empty()
    }

    /// The request target: `/path?query`.
    fn target(&self) -> &str {
        self.line.split(' ').nth(1).expect("request target")
    }
}

/// What a raw server does once it has read a request head.
enum Reply {
    /// Writes these bytes (in one write), then keeps the connection open until the client
    /// closes it, discarding what it sends.
    Send(Vec<u8>),
    /// Writes these bytes, then closes.
    SendAndClose(Vec<u8>),
    /// Says nothing and keeps the connection open.
    Silent,
}

/// Reads a request head (up to and including `\r\n\r\n`) one byte at a time, so that nothing
/// behind it is consumed. `None` if the peer closed first.
async fn read_head<R: tokio::io::AsyncRead + Unpin>(io: &mut R) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    while !raw.ends_with(b"\r\n\r\n") {
        raw.push(io.read_u8().await.ok()?);
        assert!(raw.len() < 64 * 1024, "request head too long");
    }
    Some(raw)
}

/// Reads until the peer closes (or fails), discarding everything.
async fn drain<R: tokio::io::AsyncRead + Unpin>(io: &mut R) {
    let mut sink = [0u8; 4096];
    while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// A raw server on a fresh loopback port: for every connection, reads the request head,
/// sends it on the channel, then does what `answer` says. Lives as long as the runtime.
async fn raw_server<F>(answer: F) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>)
where
    F: Fn(&Seen) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            let seen_tx = seen_tx.clone();
            tokio::spawn(async move {
                let Some(raw) = read_head(&mut stream).await else {
                    return;
                };
                let seen = Seen::parse(&raw);
                let reply = answer(&seen);
                let _ = seen_tx.send(seen);
                match reply {
                    Reply::Send(bytes) => {
                        let _ = stream.write_all(&bytes).await;
                        drain(&mut stream).await;
                    }
                    Reply::SendAndClose(bytes) => {
                        let _ = stream.write_all(&bytes).await;
                    }
                    Reply::Silent => drain(&mut stream).await,
                }
            });
        }
    });
    (addr, seen_rx)
}

/// The next request head a raw server saw.
async fn next_seen(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    within("a request head", seen.recv())
        .await
        .expect("server gone")
}

/// `Sec-WebSocket-Accept` for `key`, computed here (SHA-1 and base64) rather than by the crate.
fn accept_for(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

/// A correct `101` for `seen`, with `extra` header lines (each ending in `\r\n`).
fn accept_101(seen: &Seen, extra: &str) -> Vec<u8> {
    let accept = accept_for(seen.one("sec-websocket-key"));
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A redirect with `status` to `location`, with an empty body.
fn redirect(status: u16, location: &str) -> Reply {
    Reply::Send(
        format!("HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
            .into_bytes(),
    )
}

/// Connects with `builder`, bounded, expecting failure.
async fn refused(builder: Builder) -> client::Error {
    match within("connect", builder.connect()).await {
        Ok(conn) => panic!("connected: {:?}", conn.response()),
        Err(error) => error,
    }
}

/// The IO error inside an `Error::Http`.
fn http_io_error(error: client::Error) -> io::Error {
    match error {
        client::Error::Http(e) => e,
        other => panic!("expected Error::Http, got {other:?}"),
    }
}

/// Sends a text message and expects it back.
async fn echoes<T>(conn: &mut Conn<T>, text: &str)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    conn.send(Message::text(text.to_owned())).await.unwrap();
    let back = within("echo", conn.recv()).await.unwrap().unwrap();
    assert_eq!(back, Message::text(text.to_owned()));
}

#[test]
fn the_accept_computed_here_is_the_crates_and_the_rfcs() {
    assert_eq!(accept_for(support::KEY), support::ACCEPT);
    assert_eq!(
        tower_websocket::handshake::accept_key(support::KEY.as_bytes()),
        support::ACCEPT
    );
}

// ---------------------------------------------------------------------------------------------
// 1. The request, and every refusal.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_request_carries_the_handshake_a_fresh_key_and_the_added_headers() {
    let (addr, mut seen) = raw_server(|seen| Reply::Send(accept_101(seen, ""))).await;
    let builder = Builder::new(format!("ws://{addr}/chat?room=1"))
        .header("x-added", "one")
        .header("x-added", "two")
        .header("user-agent", "test-agent/1");
    let first = within("connect", builder.connect()).await.unwrap();
    let second = within("connect", builder.connect()).await.unwrap();
    let (a, b) = (next_seen(&mut seen).await, next_seen(&mut seen).await);
    for (request, conn) in [(&a, &first), (&b, &second)] {
        assert_eq!(request.line, "GET /chat?room=1 HTTP/1.1");
        assert_eq!(request.one("host"), format!("127.0.0.1:{}", addr.port()));
        assert!(request.one("upgrade").eq_ignore_ascii_case("websocket"));
        assert!(request.one("connection").eq_ignore_ascii_case("upgrade"));
        assert_eq!(request.one("sec-websocket-version"), "13");
        let key = request.one("sec-websocket-key");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap();
        assert_eq!(decoded.len(), 16, "{key}");
        assert_eq!(request.all("x-added"), ["one", "two"]);
        assert_eq!(request.one("user-agent"), "test-agent/1");
        // Nothing was offered, so nothing is announced.
        assert!(!request.has("sec-websocket-protocol"));
        assert!(!request.has("sec-websocket-extensions"));
        // The Conn keeps the request as sent and the answer.
        assert_eq!(conn.request().headers["sec-websocket-key"], key);
        assert_eq!(conn.response().unwrap().status, 101);
        assert_eq!(conn.protocol(), None);
    }
    assert_ne!(
        a.one("sec-websocket-key"),
        b.one("sec-websocket-key"),
        "each connection needs a fresh key"
    );
}

#[tokio::test]
async fn a_non_101_is_refused_with_its_status_headers_and_body() {
    let (addr, _seen) = raw_server(|_| {
        Reply::Send(
            b"HTTP/1.1 403 Forbidden\r\nX-Why: origin\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\
              Content-Length: 7\r\n\r\ngo away"
                .to_vec(),
        )
    })
    .await;
    let error = refused(Builder::new(format!("ws://{addr}/"))).await;
    assert_eq!(error.status(), Some(http::StatusCode::FORBIDDEN));
    assert_eq!(error.headers().unwrap()["x-why"], "origin");
    assert!(!error.is_timeout());
    let client::Error::Refused(response) = error else {
        panic!("expected Refused, got {error:?}");
    };
    assert_eq!(response.status(), 403);
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(response.body().as_ref(), b"go away");
}

#[tokio::test]
async fn a_chunked_refusal_body_is_decoded() {
    let (addr, _seen) = raw_server(|_| {
        Reply::Send(
            b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nX-Why: token\r\n\r\n\
              3\r\ngo \r\n4;ext=1\r\naway\r\n0\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let error = refused(Builder::new(format!("ws://{addr}/"))).await;
    let client::Error::Refused(response) = error else {
        panic!("expected Refused, got {error:?}");
    };
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["x-why"], "token");
    assert_eq!(response.body().as_ref(), b"go away");
}

#[tokio::test]
async fn a_refusal_without_a_length_has_the_body_up_to_the_close() {
    let (addr, _seen) = raw_server(|_| {
        Reply::SendAndClose(b"HTTP/1.1 500 Internal Server Error\r\n\r\nbroken".to_vec())
    })
    .await;
    let error = refused(Builder::new(format!("ws://{addr}/"))).await;
    let client::Error::Refused(response) = error else {
        panic!("expected Refused, got {error:?}");
    };
    assert_eq!(response.status(), 500);
    assert_eq!(response.body().as_ref(), b"broken");
}

/// One broken `101`: how the client is built, the answer's extra or replacing header lines,
/// and the error expected.
struct Case {
    name: &'static str,
    builder: fn(Builder) -> Builder,
    answer: fn(&Seen) -> String,
    expected: Option<AnswerError>,
}

fn status_line() -> &'static str {
    "HTTP/1.1 101 Switching Protocols\r\nX-Case: kept\r\n"
}

fn accept_line(seen: &Seen) -> String {
    format!(
        "Sec-WebSocket-Accept: {}\r\n",
        accept_for(seen.one("sec-websocket-key"))
    )
}

fn good(seen: &Seen) -> String {
    format!(
        "{}Upgrade: websocket\r\nConnection: Upgrade\r\n{}",
        status_line(),
        accept_line(seen)
    )
}

fn cases() -> Vec<Case> {
    let same = |b: Builder| b;
    let deflate = |b: Builder| b.deflate(DeflateConfig::new());
    vec![
        // Positive controls: the same server, answering right.
        Case {
            name: "correct",
            builder: same,
            answer: good,
            expected: None,
        },
        Case {
            name: "offered subprotocol",
            builder: |b| b.protocols(["a", "b"]),
            answer: |s| format!("{}Sec-WebSocket-Protocol: b\r\n", good(s)),
            expected: None,
        },
        Case {
            name: "deflate as offered",
            builder: deflate,
            answer: |s| {
                format!(
                    "{}Sec-WebSocket-Extensions: permessage-deflate\r\n",
                    good(s)
                )
            },
            expected: None,
        },
        Case {
            name: "tokens in any case, in lists",
            builder: same,
            answer: |s| {
                format!(
                    "{}upgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n{}",
                    status_line(),
                    accept_line(s)
                )
            },
            expected: None,
        },
        // Upgrade and Connection.
        Case {
            name: "no Upgrade",
            builder: same,
            answer: |s| format!("{}Connection: Upgrade\r\n{}", status_line(), accept_line(s)),
            expected: Some(AnswerError::MissingUpgrade),
        },
        Case {
            name: "Upgrade to something else",
            builder: same,
            answer: |s| {
                format!(
                    "{}Upgrade: h2c\r\nConnection: Upgrade\r\n{}",
                    status_line(),
                    accept_line(s)
                )
            },
            expected: Some(AnswerError::MissingUpgrade),
        },
        Case {
            name: "no Connection",
            builder: same,
            answer: |s| format!("{}Upgrade: websocket\r\n{}", status_line(), accept_line(s)),
            expected: Some(AnswerError::MissingConnection),
        },
        // Sec-WebSocket-Accept.
        Case {
            name: "no accept",
            builder: same,
            answer: |_| {
                format!(
                    "{}Upgrade: websocket\r\nConnection: Upgrade\r\n",
                    status_line()
                )
            },
            expected: Some(AnswerError::BadAccept),
        },
        Case {
            name: "the accept of another key",
            builder: same,
            answer: |_| {
                format!(
                    "{}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
                    status_line(),
                    support::ACCEPT
                )
            },
            expected: Some(AnswerError::BadAccept),
        },
        Case {
            name: "the key itself as accept",
            builder: same,
            answer: |s| {
                format!(
                    "{}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
                    status_line(),
                    s.one("sec-websocket-key")
                )
            },
            expected: Some(AnswerError::BadAccept),
        },
        Case {
            name: "the right accept twice",
            builder: same,
            answer: |s| format!("{}{}", good(s), accept_line(s)),
            expected: Some(AnswerError::BadAccept),
        },
        // Sec-WebSocket-Protocol.
        Case {
            name: "a subprotocol not offered",
            builder: |b| b.protocols(["a"]),
            answer: |s| format!("{}Sec-WebSocket-Protocol: b\r\n", good(s)),
            expected: Some(AnswerError::UnofferedProtocol),
        },
        Case {
            name: "a subprotocol when none was offered",
            builder: same,
            answer: |s| format!("{}Sec-WebSocket-Protocol: a\r\n", good(s)),
            expected: Some(AnswerError::UnofferedProtocol),
        },
        Case {
            name: "two subprotocols",
            builder: |b| b.protocols(["a", "b"]),
            answer: |s| format!("{}Sec-WebSocket-Protocol: a, b\r\n", good(s)),
            expected: Some(AnswerError::UnofferedProtocol),
        },
        // Sec-WebSocket-Extensions.
        Case {
            name: "extensions when none were offered",
            builder: same,
            answer: |s| {
                format!(
                    "{}Sec-WebSocket-Extensions: permessage-deflate\r\n",
                    good(s)
                )
            },
            expected: Some(AnswerError::Extensions(DeflateResponseError::NotOffered)),
        },
        Case {
            name: "an extension other than the one offered",
            builder: deflate,
            answer: |s| {
                format!(
                    "{}Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n",
                    good(s)
                )
            },
            expected: Some(AnswerError::Extensions(DeflateResponseError::NotOffered)),
        },
        Case {
            name: "deflate without the server_no_context_takeover asked for",
            builder: |b| b.deflate(DeflateConfig::new().server_context_takeover(false)),
            answer: |s| {
                format!(
                    "{}Sec-WebSocket-Extensions: permessage-deflate\r\n",
                    good(s)
                )
            },
            expected: Some(AnswerError::Extensions(
                DeflateResponseError::DoesNotMatchOffer,
            )),
        },
        Case {
            name: "deflate with a window outside 8-15",
            builder: deflate,
            answer: |s| {
                format!(
                    "{}Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\r\n",
                    good(s)
                )
            },
            expected: Some(AnswerError::Extensions(
                DeflateResponseError::InvalidParameter,
            )),
        },
    ]
}

#[tokio::test]
async fn a_101_that_breaks_the_rules_is_a_bad_answer_keeping_status_and_headers() {
    for case in cases() {
        let answer = case.answer;
        let (addr, _seen) =
            raw_server(move |seen| Reply::Send(format!("{}\r\n", answer(seen)).into_bytes())).await;
        let builder = (case.builder)(Builder::new(format!("ws://{addr}/")));
        let result = within(case.name, builder.connect()).await;
        match (result, &case.expected) {
            (Ok(conn), None) => {
                assert_eq!(conn.response().unwrap().status, 101, "{}", case.name);
                assert_eq!(conn.response().unwrap().headers["x-case"], "kept");
            }
            (Ok(_), Some(expected)) => panic!("{}: connected, expected {expected:?}", case.name),
            (Err(error), expected) => {
                assert_eq!(error.status(), Some(http::StatusCode::SWITCHING_PROTOCOLS));
                assert_eq!(error.headers().unwrap()["x-case"], "kept", "{}", case.name);
                let client::Error::BadAnswer { error, response } = error else {
                    panic!("{}: expected BadAnswer, got {error:?}", case.name);
                };
                assert_eq!(Some(&error), expected.as_ref(), "{}", case.name);
                assert_eq!(response.status(), 101);
                assert_eq!(response.headers()["x-case"], "kept");
            }
        }
    }
}

#[tokio::test]
async fn something_that_is_not_http_is_an_http_error() {
    let (addr, _seen) = raw_server(|_| Reply::Send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec())).await;
    let error = http_io_error(refused(Builder::new(format!("ws://{addr}/"))).await);
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
}

#[tokio::test]
async fn a_head_over_64_kib_is_an_http_error() {
    // An unfinished head that keeps growing...
    let endless = [
        b"HTTP/1.1 101 Switching Protocols\r\nX-Big: ".as_slice(),
        &vec![b'a'; 70 * 1024],
    ]
    .concat();
    // ... and a complete one, sent in one write, whose end lies past 64 KiB.
    let complete = [
        b"HTTP/1.1 403 Forbidden\r\nX-Big: ".as_slice(),
        &vec![b'a'; 70 * 1024],
        b"\r\nContent-Length: 0\r\n\r\n",
    ]
    .concat();
    for (name, bytes) in [("endless", endless), ("complete", complete)] {
        let (addr, _seen) = raw_server(move |_| Reply::Send(bytes.clone())).await;
        let error = match within(name, Builder::new(format!("ws://{addr}/")).connect()).await {
            Ok(_) => panic!("{name}: connected"),
            Err(error) => error,
        };
        let error = match error {
            client::Error::Http(e) => e,
            other => panic!("{name}: expected Error::Http, got {other:?}"),
        };
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{name}: {error}");
        assert!(error.to_string().contains("64 KiB"), "{name}: {error}");
    }
}

#[tokio::test]
async fn a_complete_head_over_64_kib_arriving_at_once_is_an_http_error() {
    // Over a duplex the whole answer is there for every read, so each read fills what the
    // buffer has room for: the limit must hold for a head that is complete past it too.
    let (client_io, mut server_io) = tokio::io::duplex(256 * 1024);
    let server = tokio::spawn(async move {
        let seen = Seen::parse(&read_head(&mut server_io).await.unwrap());
        let big = "a".repeat(70 * 1024);
        let answer = accept_101(&seen, &format!("X-Big: {big}\r\n"));
        server_io.write_all(&answer).await.unwrap();
        server_io
    });
    let error = match within(
        "connect_on",
        Builder::new("ws://example.com/").connect_on(client_io),
    )
    .await
    {
        Ok(_) => panic!("a 70 KiB head was accepted"),
        Err(error) => http_io_error(error),
    };
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
    assert!(error.to_string().contains("64 KiB"), "{error}");
    drop(within("server", server).await.unwrap());
}

#[tokio::test]
async fn a_server_that_closes_before_answering_is_an_http_error() {
    for (name, bytes) in [
        ("nothing", b"".as_slice()),
        (
            "half a head",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
        ),
    ] {
        let (addr, _seen) = raw_server(move |_| Reply::SendAndClose(bytes.to_vec())).await;
        let error = match within(name, Builder::new(format!("ws://{addr}/")).connect()).await {
            Ok(_) => panic!("{name}: connected"),
            Err(error) => error,
        };
        let error = match error {
            client::Error::Http(e) => e,
            other => panic!("{name}: expected Error::Http, got {other:?}"),
        };
        assert_eq!(
            error.kind(),
            io::ErrorKind::UnexpectedEof,
            "{name}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Frames in the same write as the 101.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn frames_right_behind_the_101_are_the_first_received() {
    let (addr, _seen) = raw_server(|seen| {
        let mut bytes = accept_101(seen, "");
        bytes.extend(unmasked_frame(true, OpCode::Text, b"early"));
        bytes.extend(unmasked_frame(true, OpCode::Binary, &[1, 2, 3]));
        Reply::Send(bytes)
    })
    .await;
    let mut conn = within("connect", client::connect(format!("ws://{addr}/")))
        .await
        .unwrap();
    let first = within("first", conn.recv()).await.unwrap().unwrap();
    assert_eq!(first, Message::text("early"));
    let second = within("second", conn.recv()).await.unwrap().unwrap();
    assert_eq!(second, Message::binary(vec![1u8, 2, 3]));
}

// ---------------------------------------------------------------------------------------------
// 3. Redirects.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_redirect_is_refused_by_default() {
    let (addr, mut seen) = raw_server(|_| redirect(302, "/elsewhere")).await;
    let error = refused(Builder::new(format!("ws://{addr}/"))).await;
    assert_eq!(error.status(), Some(http::StatusCode::FOUND));
    assert_eq!(error.headers().unwrap()["location"], "/elsewhere");
    assert!(matches!(error, client::Error::Refused(_)), "{error:?}");
    next_seen(&mut seen).await;
    assert!(seen.try_recv().is_err(), "the redirect was followed");
}

#[tokio::test]
async fn redirects_are_followed_to_a_real_server_when_allowed() {
    let real = spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await;
    for status in [301, 302, 303, 307, 308] {
        let location = format!("ws://{real}/ws");
        let (addr, mut seen) = raw_server(move |_| redirect(status, &location)).await;
        let mut conn = within(
            "connect",
            Builder::new(format!("ws://{addr}/start"))
                .max_redirects(2)
                .connect(),
        )
        .await
        .unwrap_or_else(|e| panic!("{status}: {e:?}"));
        assert_eq!(next_seen(&mut seen).await.target(), "/start");
        assert_eq!(conn.request().uri.path(), "/ws", "{status}");
        assert_eq!(conn.peer_addr(), Some(real));
        echoes(&mut conn, "after a redirect").await;
    }
}

#[tokio::test]
async fn two_redirects_through_raw_servers_are_followed_and_a_third_is_too_many() {
    let (last, mut last_seen) = raw_server(|seen| Reply::Send(accept_101(seen, ""))).await;
    let to_last = format!("ws://{last}/last");
    let (middle, mut middle_seen) = raw_server(move |_| redirect(307, &to_last)).await;
    let to_middle = format!("ws://{middle}/middle");
    let (first, mut first_seen) = raw_server(move |_| redirect(308, &to_middle)).await;

    let conn = within(
        "connect",
        Builder::new(format!("ws://{first}/first"))
            .max_redirects(2)
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(conn.peer_addr(), Some(last));
    assert_eq!(next_seen(&mut first_seen).await.target(), "/first");
    assert_eq!(next_seen(&mut middle_seen).await.target(), "/middle");
    let seen = next_seen(&mut last_seen).await;
    assert_eq!(seen.target(), "/last");
    assert_eq!(seen.one("host"), format!("127.0.0.1:{}", last.port()));

    let error = refused(Builder::new(format!("ws://{first}/first")).max_redirects(1)).await;
    assert!(
        matches!(error, client::Error::TooManyRedirects),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_redirect_loop_is_too_many_redirects() {
    let (addr, mut seen) = raw_server(|_| redirect(302, "/again")).await;
    let error = refused(Builder::new(format!("ws://{addr}/")).max_redirects(2)).await;
    assert!(
        matches!(error, client::Error::TooManyRedirects),
        "{error:?}"
    );
    // The first request and the two redirects allowed.
    for _ in 0..3 {
        next_seen(&mut seen).await;
    }
    assert!(seen.try_recv().is_err(), "more requests than allowed");
}

#[tokio::test]
async fn relative_locations_resolve_against_the_current_url() {
    let (addr, mut seen) = raw_server(|seen| match seen.target() {
        "/rooms/lobby?x=1" => redirect(302, "kitchen"),
        "/rooms/kitchen" => redirect(301, "/final?y=2"),
        "/final?y=2" => Reply::Send(accept_101(seen, "")),
        other => panic!("unexpected request for {other}"),
    })
    .await;
    let conn = within(
        "connect",
        Builder::new(format!("ws://{addr}/rooms/lobby?x=1"))
            .max_redirects(2)
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(conn.request().uri, "/final?y=2");
    let targets = [
        next_seen(&mut seen).await,
        next_seen(&mut seen).await,
        next_seen(&mut seen).await,
    ];
    let targets: Vec<_> = targets.iter().map(Seen::target).collect();
    assert_eq!(
        targets,
        ["/rooms/lobby?x=1", "/rooms/kitchen", "/final?y=2"]
    );
}

#[tokio::test]
async fn credentials_follow_a_redirect_to_the_same_origin_only() {
    let (other, mut other_seen) = raw_server(|seen| Reply::Send(accept_101(seen, ""))).await;
    let to_other = format!("ws://127.0.0.1:{}/other", other.port());
    let (addr, mut seen) = raw_server(move |seen| match seen.target() {
        "/" => redirect(302, "/same"),
        "/same" => redirect(307, &to_other),
        other => panic!("unexpected request for {other}"),
    })
    .await;
    let conn = within(
        "connect",
        Builder::new(format!("ws://{addr}/"))
            .header("authorization", "Bearer secret")
            .header("cookie", "session=1")
            .header("x-plain", "kept")
            .max_redirects(2)
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(conn.peer_addr(), Some(other));
    for expected_target in ["/", "/same"] {
        let same = next_seen(&mut seen).await;
        assert_eq!(same.target(), expected_target);
        assert_eq!(same.one("authorization"), "Bearer secret");
        assert_eq!(same.one("cookie"), "session=1");
        assert_eq!(same.one("x-plain"), "kept");
    }
    let across = next_seen(&mut other_seen).await;
    assert_eq!(across.target(), "/other");
    assert!(!across.has("authorization"), "{across:?}");
    assert!(!across.has("cookie"), "{across:?}");
    assert_eq!(across.one("x-plain"), "kept");
    assert_eq!(across.one("host"), format!("127.0.0.1:{}", other.port()));
    assert!(!conn.request().headers.contains_key("authorization"));
}

#[tokio::test]
async fn connect_on_does_not_follow_redirects() {
    let (client_io, mut server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        read_head(&mut server_io).await.unwrap();
        server_io
            .write_all(b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        server_io
    });
    let builder = Builder::new("ws://example.com/").max_redirects(3);
    let error = match within("connect_on", builder.connect_on(client_io)).await {
        Ok(_) => panic!("connected"),
        Err(error) => error,
    };
    assert!(matches!(error, client::Error::Refused(_)), "{error:?}");
    assert_eq!(error.status(), Some(http::StatusCode::FOUND));
    drop(within("server", server).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// 4. A CONNECT proxy.
// ---------------------------------------------------------------------------------------------

/// A tiny CONNECT proxy: reads `CONNECT host:port HTTP/1.1` and its headers, sends the head on
/// the channel, connects to the target, answers `200`, then copies both ways.
async fn connect_proxy() -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen_tx = seen_tx.clone();
            tokio::spawn(async move {
                let Some(raw) = read_head(&mut client).await else {
                    return;
                };
                let seen = Seen::parse(&raw);
                let mut parts = seen.line.split(' ');
                assert_eq!(parts.next(), Some("CONNECT"), "{seen:?}");
                let target = parts.next().expect("CONNECT target").to_owned();
                let _ = seen_tx.send(seen);
                let Ok(mut upstream) = TcpStream::connect(&target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, seen_rx)
}

#[tokio::test]
async fn a_connect_proxy_tunnels_to_the_server_with_its_credentials() {
    let real = spawn_server(WebSocketUpgradeLayer::new(echo)).await;
    let (proxy, mut proxy_seen) = connect_proxy().await;
    let proxy_url = format!("http://user:pw@127.0.0.1:{}", proxy.port());
    let mut conn = within(
        "connect",
        Builder::new(format!("ws://127.0.0.1:{}/", real.port()))
            .proxy(Proxy::http(&proxy_url).unwrap())
            .connect(),
    )
    .await
    .unwrap();
    echoes(&mut conn, "through the tunnel").await;
    let seen = next_seen(&mut proxy_seen).await;
    assert_eq!(
        seen.line,
        format!("CONNECT 127.0.0.1:{} HTTP/1.1", real.port())
    );
    assert_eq!(seen.one("host"), format!("127.0.0.1:{}", real.port()));
    assert_eq!(seen.one("proxy-authorization"), "Basic dXNlcjpwdw==");

    // The proxy's credentials are for the proxy: the server behind it does not see them.
    let (target, mut target_seen) = raw_server(|seen| Reply::Send(accept_101(seen, ""))).await;
    let conn = within(
        "connect",
        Builder::new(format!("ws://{target}/"))
            .proxy(Proxy::http(&proxy_url).unwrap())
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(conn.response().unwrap().status, 101);
    let request = next_seen(&mut target_seen).await;
    assert!(!request.has("proxy-authorization"), "{request:?}");
    assert_eq!(request.one("host"), format!("127.0.0.1:{}", target.port()));
}

#[tokio::test]
async fn a_proxy_that_refuses_the_tunnel_is_proxy_refused() {
    let (proxy, mut proxy_seen) = raw_server(|_| {
        Reply::Send(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\
              Content-Length: 0\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let error = refused(
        Builder::new("ws://127.0.0.1:9/").proxy(Proxy::http(&format!("http://{proxy}")).unwrap()),
    )
    .await;
    assert!(
        matches!(error, client::Error::ProxyRefused(status) if status == 407),
        "{error:?}"
    );
    assert_eq!(
        error.status(),
        Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
    let seen = next_seen(&mut proxy_seen).await;
    assert_eq!(seen.line, "CONNECT 127.0.0.1:9 HTTP/1.1");
    assert!(!seen.has("proxy-authorization"), "{seen:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. Timeouts, in paused time.
// ---------------------------------------------------------------------------------------------

/// Asserts `elapsed` is `expected`, give or take the timer wheel's millisecond.
fn assert_about(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected && elapsed < expected + Duration::from_millis(50),
        "took {elapsed:?}, expected {expected:?}"
    );
}

// Paused time over real sockets: the test's own future is woken by its socket events, which
// keeps the clock from jumping while it waits for them; it jumps only when nothing but a timer
// can make progress, which is the point of these tests.

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_is_a_handshake_timeout() {
    let (silent, _seen) = raw_server(|_| Reply::Silent).await;
    // And one that starts an answer, then stalls.
    let (stalled, _stalled_seen) = raw_server(|_| {
        Reply::Send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n".to_vec())
    })
    .await;
    let timeout = Duration::from_secs(3);
    for addr in [silent, stalled] {
        let start = Instant::now();
        let builder = Builder::new(format!("ws://{addr}/")).handshake_timeout(timeout);
        let error = within("connect", builder.connect())
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(error, client::Error::HandshakeTimeout),
            "{error:?}"
        );
        assert!(error.is_timeout());
        assert_about(start.elapsed(), timeout);
    }
}

#[tokio::test(start_paused = true)]
async fn a_proxy_that_never_answers_connect_is_a_connect_timeout() {
    let (proxy, _seen) = raw_server(|_| Reply::Silent).await;
    let timeout = Duration::from_secs(2);
    let start = Instant::now();
    let builder = Builder::new("ws://127.0.0.1:9/")
        .proxy(Proxy::http(&format!("http://{proxy}")).unwrap())
        .connect_timeout(timeout);
    let error = within("connect", builder.connect())
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(error, client::Error::ConnectTimeout), "{error:?}");
    assert!(error.is_timeout());
    assert_eq!(error.status(), None);
    assert_about(start.elapsed(), timeout);
}

#[tokio::test(start_paused = true)]
async fn connect_on_a_stream_that_never_answers_is_a_handshake_timeout() {
    let (client_io, mut server_io) = tokio::io::duplex(4096);
    let timeout = Duration::from_secs(3);
    let start = Instant::now();
    let builder = Builder::new("ws://example.com/").handshake_timeout(timeout);
    let result = within("connect_on", builder.connect_on(client_io)).await;
    let error = result.map(|_| ()).unwrap_err();
    assert!(
        matches!(error, client::Error::HandshakeTimeout),
        "{error:?}"
    );
    assert_about(start.elapsed(), timeout);
    // The request did go out.
    let head = read_head(&mut server_io).await.unwrap();
    assert!(head.starts_with(b"GET / HTTP/1.1\r\n"));

    // The default bound applies too.
    let (client_io, _server_io) = tokio::io::duplex(4096);
    let start = Instant::now();
    let result = tokio::time::timeout(
        DEFAULT_HANDSHAKE_TIMEOUT * 2,
        Builder::new("ws://example.com/").connect_on(client_io),
    )
    .await
    .expect("the default handshake timeout did not fire");
    let error = result.map(|_| ()).unwrap_err();
    assert!(
        matches!(error, client::Error::HandshakeTimeout),
        "{error:?}"
    );
    assert_about(start.elapsed(), DEFAULT_HANDSHAKE_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_zero_handshake_timeout_waits_as_long_as_the_server_takes() {
    let (client_io, mut server_io) = tokio::io::duplex(4096);
    let client = tokio::spawn(async move {
        Builder::new("ws://example.com/")
            .handshake_timeout(Duration::ZERO)
            .connect_on(client_io)
            .await
    });
    let raw = within("request", read_head(&mut server_io)).await.unwrap();
    let seen = Seen::parse(&raw);
    tokio::time::sleep(DEFAULT_HANDSHAKE_TIMEOUT * 3).await;
    assert!(!client.is_finished(), "gave up without a bound");
    server_io.write_all(&accept_101(&seen, "")).await.unwrap();
    let conn = within("client", client).await.unwrap().unwrap();
    assert_eq!(conn.response().unwrap().status, 101);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_refusal_body_does_not_turn_the_refusal_into_a_timeout() {
    // The head arrives at once; the body announced is never finished.
    let (addr, _seen) = raw_server(|_| {
        Reply::Send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\npartial".to_vec())
    })
    .await;
    // The body is waited for 2 s at most, and never past the handshake's deadline.
    for (timeout, waited) in [
        (Duration::from_secs(1), Duration::from_secs(1)),
        (Duration::from_secs(5), Duration::from_secs(2)),
        (Duration::ZERO, Duration::from_secs(2)),
    ] {
        let start = Instant::now();
        let builder = Builder::new(format!("ws://{addr}/")).handshake_timeout(timeout);
        let error = within("connect", builder.connect())
            .await
            .map(|_| ())
            .unwrap_err();
        let client::Error::Refused(response) = error else {
            panic!("{timeout:?}: expected Refused, got {error:?}");
        };
        assert_eq!(response.status(), 403);
        assert_eq!(response.body().as_ref(), b"partial");
        assert_about(start.elapsed(), waited);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. connect_on over a duplex.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn connect_on_a_duplex_with_a_hand_written_101() {
    let (client_io, mut server_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let seen = Seen::parse(&read_head(&mut server_io).await.unwrap());
        assert_eq!(seen.line, "GET /path?q=1 HTTP/1.1");
        // The port is left out of Host when it is the scheme's default.
        assert_eq!(seen.one("host"), "example.com");
        let mut answer = accept_101(&seen, "Sec-WebSocket-Protocol: chat\r\n");
        answer.extend(unmasked_frame(true, OpCode::Text, b"welcome"));
        server_io.write_all(&answer).await.unwrap();
        // The client's frame: masked, as every client frame must be.
        let mut head = [0u8; 2];
        server_io.read_exact(&mut head).await.unwrap();
        assert_eq!(head[0], 0x81, "FIN + text");
        assert_eq!(head[1] & 0x80, 0x80, "client frames are masked");
        let len = usize::from(head[1] & 0x7f);
        let mut mask = [0u8; 4];
        server_io.read_exact(&mut mask).await.unwrap();
        let mut payload = vec![0u8; len];
        server_io.read_exact(&mut payload).await.unwrap();
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        assert_eq!(payload, b"hi there");
        server_io
            .write_all(&unmasked_frame(true, OpCode::Text, b"bye"))
            .await
            .unwrap();
        server_io
    });
    let builder = Builder::new("ws://example.com/path?q=1").protocols(["chat"]);
    let mut conn: Conn<DuplexStream> = within("connect_on", builder.connect_on(client_io))
        .await
        .unwrap();
    assert_eq!(conn.protocol(), Some("chat"));
    assert_eq!(conn.peer_addr(), None);
    let welcome = within("welcome", conn.recv()).await.unwrap().unwrap();
    assert_eq!(welcome, Message::text("welcome"));
    conn.send(Message::text("hi there")).await.unwrap();
    let bye = within("bye", conn.recv()).await.unwrap().unwrap();
    assert_eq!(bye, Message::text("bye"));
    drop(within("server", server).await.unwrap());
}
