//! The handshake over a connected stream: the request made from the builder, written, the
//! answer read and judged, and the [`Conn`] built from what was agreed.

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, Version};
use tokio::io::{AsyncRead, AsyncWrite};

use super::target::Target;
use super::{Builder, Error, deadline, http1};
use crate::conn::Conn;
use crate::handshake::client::{Agreed, ClientOffer, check_answer, key_from_bytes};
use crate::proto::Role;

/// The request and what it offered.
pub(crate) struct Prepared {
    pub(crate) request: Request<()>,
    pub(crate) offer: ClientOffer,
}

/// The handshake request for `target`: the user's headers, then the handshake's own (a fresh
/// key, version 13, the subprotocol and extension offers). For HTTP/2 (RFC 8441) the request
/// is an extended CONNECT without key, `Upgrade` or `Connection`.
pub(crate) fn prepare(
    builder: &Builder,
    target: &Target,
    user_headers: &HeaderMap,
    version: Version,
) -> Result<Prepared, Error> {
    let mut headers = HeaderMap::with_capacity(user_headers.len() + 7);
    let mut offer = ClientOffer::default();
    let method = if version == Version::HTTP_2 {
        Method::CONNECT
    } else {
        if !user_headers.contains_key(header::HOST) {
            let host = HeaderValue::from_str(target.authority.as_str())
                .map_err(|_| Error::InvalidUrl("invalid host"))?;
            headers.insert(header::HOST, host);
        }
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        let key = key_from_bytes(rand::random());
        headers.insert(header::SEC_WEBSOCKET_KEY, key.clone());
        offer.key = Some(key);
        Method::GET
    };
    headers.insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    if !builder.protocols.is_empty() {
        let joined = builder
            .protocols
            .iter()
            .map(|p| p.to_str().map_err(|_| Error::InvalidHeader))
            .collect::<Result<Vec<_>, _>>()?
            .join(", ");
        let value = HeaderValue::from_str(&joined).map_err(|_| Error::InvalidHeader)?;
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
        offer.protocols = builder.protocols.clone();
    }
    #[cfg(feature = "deflate")]
    if let Some(config) = &builder.deflate {
        let value = crate::handshake::client::deflate_offer(config);
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value.clone());
        offer.extensions = Some(value);
    }
    for (name, value) in user_headers {
        headers.append(name.clone(), value.clone());
    }
    let uri = if version == Version::HTTP_2 {
        h2_uri(target)?
    } else {
        http::Uri::from(target.path.clone())
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Ok(Prepared { request, offer })
}

#[cfg(feature = "http2")]
fn h2_uri(target: &Target) -> Result<http::Uri, Error> {
    target.h2_uri()
}

#[cfg(not(feature = "http2"))]
fn h2_uri(_: &Target) -> Result<http::Uri, Error> {
    Err(Error::ExtendedConnectUnavailable)
}

/// The HTTP/1.1 handshake over `io`, under the builder's handshake timeout: a `Conn` on
/// success; a refusal with its answer and what there was of its body.
pub(crate) async fn http1<T>(
    builder: &Builder,
    target: &Target,
    user_headers: &HeaderMap,
    mut io: T,
) -> Result<Conn<T>, Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let Prepared { request, offer } = prepare(builder, target, user_headers, Version::HTTP_11)?;
    // The handshake timeout bounds the request and the answer's head. A refusal's body is
    // then waited for until the same deadline at most, and its end only cuts the body short:
    // a head that arrived in time is reported as the refusal it is, not as a timeout.
    let deadline = deadline::after(builder.handshake_timeout);
    let exchange = async {
        http1::write_request(&mut io, &request).await?;
        http1::read_head(&mut io).await
    };
    let (response, rest) = deadline::by(deadline, Error::HandshakeTimeout, exchange).await?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        let body = http1::read_body(&mut io, response.headers(), rest, deadline).await;
        let (parts, ()) = response.into_parts();
        return Err(Error::Refused(Box::new(Response::from_parts(parts, body))));
    }
    let agreed = judge(&response, &offer)?;
    Ok(conn(builder, io, request, response, agreed, rest))
}

/// The strict check of the answer, keeping the answer for the error.
pub(crate) fn judge(response: &Response<()>, offer: &ClientOffer) -> Result<Agreed, Error> {
    check_answer(
        if response.version() == Version::HTTP_2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        },
        response.status(),
        response.headers(),
        offer,
    )
    .map_err(|error| Error::BadAnswer {
        error,
        response: Box::new(head_of(response)),
    })
}

/// A copy of `response`'s head (status, version, headers), without its body.
pub(crate) fn head_of<B>(response: &Response<B>) -> Response<()> {
    let mut head = Response::new(());
    *head.status_mut() = response.status();
    *head.version_mut() = response.version();
    *head.headers_mut() = response.headers().clone();
    head
}

/// The client `Conn` for an accepted handshake.
pub(crate) fn conn<T>(
    builder: &Builder,
    io: T,
    request: Request<()>,
    response: Response<()>,
    agreed: Agreed,
    rest: BytesMut,
) -> Conn<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let conn = Conn::from_raw(io, Role::Client, &builder.config)
        .with_request(request.into_parts().0)
        .with_response(response.into_parts().0)
        .with_protocol(agreed.protocol)
        .with_read_buf(rest.freeze());
    #[cfg(feature = "deflate")]
    let conn = match (&agreed.deflate, &builder.deflate) {
        (Some(params), Some(config)) => conn.with_deflate(params, config),
        _ => conn,
    };
    conn
}
