//! A real HTTP/2 WebSocket client (RFC 8441): hyper's HTTP/2 client sends the extended CONNECT,
//! and tokio-tungstenite frames the WebSocket over the CONNECT stream it upgrades to.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, Version};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper::ext::Protocol;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::within;

/// A WebSocket client over one HTTP/2 stream.
pub type H2WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// Runs the HTTP/2 handshake over `io` (h2c, or TLS after ALPN `h2`), then waits until the
/// server's SETTINGS enabled extended CONNECT: without that the client may not send
/// `:protocol`, and a server that never enables it fails this wait.
pub async fn h2_client<T>(io: T) -> SendRequest<Empty<Bytes>>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = http2::Builder::new(TokioExecutor::new()).handshake(TokioIo::new(io));
    let (send, connection) = within("HTTP/2 handshake", handshake)
        .await
        .expect("HTTP/2 handshake");
    // hyper runs the HTTP/2 connection in a task of its own: the SETTINGS arrive meanwhile.
    within("SETTINGS_ENABLE_CONNECT_PROTOCOL = 1", async {
        while !connection.is_extended_connect_protocol_enabled() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    tokio::spawn(connection);
    send
}

/// An extended CONNECT for `uri` (`scheme://authority/path`): `:protocol websocket` and
/// `sec-websocket-version: 13`; add headers before `.body(..)`.
pub fn connect_request(uri: &str) -> http::request::Builder {
    Request::builder()
        .method(Method::CONNECT)
        .uri(uri)
        .version(Version::HTTP_2)
        .header("sec-websocket-version", "13")
        .extension(Protocol::from_static("websocket"))
}

/// Sends `request`. A `200` gives the response head and a WebSocket over the stream; any other
/// response comes back as it is, as the error.
pub async fn h2_websocket(
    send: &mut SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
) -> Result<(http::response::Parts, H2WebSocket), Response<Incoming>> {
    within("ready to send", send.ready())
        .await
        .expect("connection ready");
    let mut response = within("CONNECT response", send.send_request(request))
        .await
        .expect("CONNECT response");
    if response.status() != 200 {
        return Err(response);
    }
    let upgraded = within("CONNECT stream", hyper::upgrade::on(&mut response))
        .await
        .expect("upgrade to the CONNECT stream");
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
    Ok((response.into_parts().0, ws))
}

/// Reads a whole response body as text.
pub async fn body_text(response: Response<Incoming>) -> String {
    use http_body_util::BodyExt;
    let body = within("response body", response.into_body().collect())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("UTF-8 body")
}
