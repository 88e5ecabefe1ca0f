//! RFC 8441 on the client: a WebSocket as one stream of an HTTP/2 connection, opened with an
//! extended CONNECT (`:protocol websocket`) once the server's SETTINGS have enabled it.

use std::io;
use std::time::Duration;

use tokio::time::Instant;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::Empty;
use hyper::client::conn::http2::{self, SendRequest};
use hyper::ext::Protocol;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::handshake::{self, Prepared};
use super::target::Target;
use super::{Builder, Error, deadline};
use crate::conn::{BoxedIo, Conn};

/// The HTTP/2 connection's preface exchange over `io`, then the wait for the server's
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3), by `deadline` (the end of the
/// connect timeout, which the TCP connect and TLS used part of; `None`: no bound): a server
/// that speaks HTTP/2 but does not enable it gives [`Error::ExtendedConnectUnavailable`].
/// The connection then runs in a task of its own, as hyper's HTTP/2 client needs.
pub(crate) async fn open(
    io: BoxedIo,
    deadline: Option<Instant>,
) -> Result<SendRequest<Empty<Bytes>>, Error> {
    let setup = async {
        let (send, mut connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
            .await
            .map_err(hyper_error)?;
        extended_connect(&mut connection).await?;
        tokio::spawn(connection);
        Ok(send)
    };
    deadline::by(deadline, Error::ExtendedConnectUnavailable, setup).await
}

/// The longest pause between two looks at the server's settings.
const MAX_SETTINGS_PAUSE: Duration = Duration::from_millis(10);

/// Waits until the server's SETTINGS have enabled extended CONNECT, driving `connection`
/// meanwhile so that its end (a GOAWAY, the server closing) is seen at once.
///
/// Nothing in hyper wakes a task when SETTINGS arrive: the HTTP/2 connection itself runs in
/// a task hyper spawned at the handshake, and `Connection` (the request dispatcher) is only
/// woken by requests and by that task's end. So the flag is looked at again after a pause,
/// 1 ms at first (the SETTINGS are the server's first frame, a round trip away), doubling up
/// to [`MAX_SETTINGS_PAUSE`]. The caller's bound ends the wait for a server that never
/// enables it.
async fn extended_connect<T>(
    connection: &mut http2::Connection<T, Empty<Bytes>, TokioExecutor>,
) -> Result<(), Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut pause = Duration::from_millis(1);
    while !connection.is_extended_connect_protocol_enabled() {
        match tokio::time::timeout(pause, &mut *connection).await {
            Err(_) => pause = (pause * 2).min(MAX_SETTINGS_PAUSE),
            Ok(Ok(())) => {
                return Err(Error::Http(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the HTTP/2 connection ended before the handshake",
                )));
            }
            Ok(Err(e)) => return Err(hyper_error(e)),
        }
    }
    Ok(())
}

/// Opens the WebSocket stream: the extended CONNECT, a 2xx answer judged as strictly as a
/// `101` (subprotocol and extensions as offered), and the `Conn` over the stream. As over
/// HTTP/1.1, the handshake timeout bounds the exchange up to the answer's head; a refusal's
/// body is then read until that deadline at most, and only cut short by it.
pub(crate) async fn handshake(
    builder: &Builder,
    target: &Target,
    headers: &HeaderMap,
    mut send: SendRequest<Empty<Bytes>>,
) -> Result<Conn, Error> {
    let Prepared { request, offer } =
        handshake::prepare(builder, target, headers, http::Version::HTTP_2)?;
    let (mut parts, ()) = request.into_parts();
    parts.extensions.insert(Protocol::from_static("websocket"));
    let hyper_request = http::Request::from_parts(parts.clone(), Empty::<Bytes>::new());
    let deadline = deadline::after(builder.handshake_timeout);
    let exchange = async {
        send.ready().await.map_err(hyper_error)?;
        send.send_request(hyper_request).await.map_err(hyper_error)
    };
    let mut response = deadline::by(deadline, Error::HandshakeTimeout, exchange).await?;
    if !response.status().is_success() {
        let (head, body) = response.into_parts();
        let body = read_body(body, deadline).await;
        return Err(Error::Refused(Box::new(http::Response::from_parts(
            head, body,
        ))));
    }
    let head = handshake::head_of(&response);
    let agreed = handshake::judge(&head, &offer)?;
    let upgrade = async { hyper::upgrade::on(&mut response).await.map_err(hyper_error) };
    let upgraded = deadline::by(deadline, Error::HandshakeTimeout, upgrade).await?;
    parts.extensions.remove::<Protocol>();
    let request = http::Request::from_parts(parts, ());
    let io = BoxedIo::new(TokioIo::new(upgraded));
    Ok(handshake::conn(
        builder,
        io,
        request,
        head,
        agreed,
        BytesMut::new(),
    ))
}

/// What there is of a refusal's body, at most 64 KiB, waiting at most 2 s for it and never
/// past the handshake's `deadline`.
async fn read_body(body: hyper::body::Incoming, deadline: Option<Instant>) -> Bytes {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, super::http1::MAX_BODY);
    match tokio::time::timeout_at(deadline::body_wait(deadline), limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        _ => Bytes::new(),
    }
}

/// hyper's error as the client's: the HTTP exchange failed.
fn hyper_error(error: hyper::Error) -> Error {
    Error::Http(io::Error::other(error))
}
