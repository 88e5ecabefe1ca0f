//! The HTTP/1.1 exchange of the handshake: the request written as bytes, the answer read and
//! parsed (with `httparse`, hyper's own parser), every read bounded.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::{Error, deadline};

/// The largest answer head read (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The most headers an answer may have.
const MAX_HEADERS: usize = 128;
/// The most of a refusal's body kept.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Writes `request` as an HTTP/1.1 request head (the request has no body).
pub(crate) async fn write_request<T>(io: &mut T, request: &Request<()>) -> Result<(), Error>
where
    T: AsyncWrite + Unpin,
{
    let mut head = Vec::with_capacity(256);
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    head.extend_from_slice(request.method().as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    write_headers(&mut head, request.headers());
    io.write_all(&head).await.map_err(Error::Http)?;
    io.flush().await.map_err(Error::Http)
}

pub(crate) fn write_headers(head: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
}

/// Reads an answer's head. Returns it and the bytes read past it (frames the server sent right
/// behind its `101`, which belong to the WebSocket).
pub(crate) async fn read_head<T>(io: &mut T) -> Result<(Response<()>, BytesMut), Error>
where
    T: AsyncRead + Unpin,
{
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if let Some((response, len)) = parse_head(&buf)? {
            buf.advance(len);
            return Ok((response, buf));
        }
        if buf.len() >= MAX_HEAD {
            return Err(http_error("the answer's head is over 64 KiB"));
        }
        buf.reserve(4096.min(MAX_HEAD - buf.len()));
        let read = io.read_buf(&mut buf).await.map_err(Error::Http)?;
        if read == 0 {
            return Err(Error::Http(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before answering the handshake",
            )));
        }
    }
}

/// Parses a complete head at the start of `buf`: the response and the head's length, or
/// `None` if more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<(Response<()>, usize)>, Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(http_error("the answer has over 128 headers"));
        }
        Err(_) => return Err(http_error("the answer is not HTTP/1.1")),
    };
    let status = parsed
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| http_error("invalid status code"))?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| http_error("invalid header name"))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|_| http_error("invalid header value"))?;
        response.headers_mut().append(name, value);
    }
    Ok(Some((response, len)))
}

/// Reads what there is of a refusal's body: `Content-Length` bytes, a chunked body decoded,
/// or everything until the server closes; at most [`MAX_BODY`], for at most 2 s and never
/// past `deadline` (the handshake's).
pub(crate) async fn read_body<T>(
    io: &mut T,
    head: &HeaderMap,
    mut buf: BytesMut,
    deadline: Option<Instant>,
) -> Bytes
where
    T: AsyncRead + Unpin,
{
    let chunked = head
        .get_all(TRANSFER_ENCODING)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    let length = head
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let wanted = length.unwrap_or(usize::MAX).min(MAX_BODY);
    let read = async {
        loop {
            let done = if chunked {
                dechunk(&buf).is_some()
            } else {
                buf.len() >= wanted
            };
            if done || buf.len() >= MAX_BODY + 1024 {
                break;
            }
            buf.reserve(4096);
            match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline::body_wait(deadline), read).await;
    let mut body = if chunked {
        dechunk(&buf).unwrap_or_else(|| partial_dechunk(&buf))
    } else {
        buf.to_vec()
    };
    body.truncate(wanted);
    Bytes::from(body)
}

/// A complete chunked body decoded, or `None` if it has not all arrived.
fn dechunk(mut buf: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&buf[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        buf = &buf[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        // A size near `usize::MAX` must not overflow: the body is the server's.
        let chunk_end = size.checked_add(2)?;
        if buf.len() < chunk_end || body.len().saturating_add(size) > MAX_BODY {
            return None;
        }
        body.extend_from_slice(&buf[..size]);
        buf = &buf[size + 2..];
    }
}

/// The chunks of a chunked body that did arrive whole.
fn partial_dechunk(mut buf: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") {
        let Some(size) = std::str::from_utf8(&buf[..line_end])
            .ok()
            .and_then(|t| t.split(';').next())
            .and_then(|t| usize::from_str_radix(t.trim(), 16).ok())
        else {
            break;
        };
        let rest = &buf[line_end + 2..];
        let take = size
            .min(rest.len())
            .min(MAX_BODY - body.len().min(MAX_BODY));
        body.extend_from_slice(&rest[..take]);
        match size.checked_add(2) {
            Some(chunk_end) if size != 0 && rest.len() >= chunk_end => buf = &rest[chunk_end..],
            _ => break,
        }
    }
    body
}

fn http_error(why: &'static str) -> Error {
    Error::Http(io::Error::new(io::ErrorKind::InvalidData, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_with_what_follows() {
        let wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi";
        for split in 0..wire.len() {
            let partial = parse_head(&wire[..split]).unwrap();
            let complete = wire[..split].windows(4).any(|w| w == b"\r\n\r\n");
            assert_eq!(partial.is_some(), complete, "{split}");
        }
        let (response, len) = parse_head(wire).unwrap().unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["upgrade"], "websocket");
        assert_eq!(&wire[len..], b"\x81\x02hi");
    }

    #[test]
    fn garbage_is_an_http_error() {
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(Error::Http(_))
        ));
        let many: String = (0..200).map(|i| format!("x-{i}: v\r\n")).collect();
        let head = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert!(matches!(parse_head(head.as_bytes()), Err(Error::Http(_))));
    }

    #[test]
    fn chunked_bodies_decode() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nd"), None);
        assert_eq!(partial_dechunk(b"3\r\nabc\r\n2\r\nd"), b"abcd");
        // Sizes that would overflow are not trusted, nor do they panic.
        for huge in [
            &b"ffffffffffffffff\r\nabc\r\n"[..],
            b"fffffffffffffffe\r\nab",
        ] {
            assert_eq!(dechunk(huge), None);
            // What arrived of the chunk is kept, as of any chunk cut short.
            assert_eq!(partial_dechunk(huge), &huge[18..]);
        }
    }

    #[tokio::test]
    async fn bodies_are_bounded() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
        let mut io: &[u8] = b"lo, and more";
        let body = read_body(&mut io, &headers, BytesMut::from(&b"hel"[..]), None).await;
        assert_eq!(body, "hello");
        let big = vec![b'x'; 200_000];
        let body = read_body(&mut &big[..], &HeaderMap::new(), BytesMut::new(), None).await;
        assert_eq!(body.len(), MAX_BODY);
    }
}
