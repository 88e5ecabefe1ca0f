//! What the layer's hooks see and return: the accept hooks' [`Handshake`] and
//! [`OwnedHandshake`], and [`Refusal`], and the report of an upgrade that could not happen
//! ([`FailedUpgrade`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Extensions, Method, Response, StatusCode};

use super::policy::SyncAcceptHook;
use super::rejection::Rejection;
use crate::handshake;

/// A handshake that passed the RFC checks and the origin policy, as the
/// [`on_handshake`](crate::WebSocketUpgradeLayer::on_handshake) hook sees it: the request, the
/// client's subprotocol offer, the subprotocol chosen so far, and headers to add to the
/// accepting response (`101`, or `200` over HTTP/2).
///
/// The hook accepts with `Ok(())` or refuses with `Err(`[`Refusal`]`)`, any status, headers and
/// body (see [`reject`](Self::reject)); the handler never runs for a refused handshake.
/// [`OwnedHandshake`] is the same, owned, for a hook that has to wait.
pub struct Handshake<'a> {
    request: &'a Parts,
    answer: Answer,
}

impl<'a> Handshake<'a> {
    pub(super) fn new(request: &'a Parts, protocol: Option<HeaderValue>) -> Self {
        Self {
            request,
            answer: Answer::new(protocol),
        }
    }

    /// The handshake request: method, URI, headers, and the extensions earlier middleware
    /// inserted (e.g. an authenticated user).
    pub fn request(&self) -> &'a Parts {
        self.request
    }

    /// Whether this is an HTTP/2 extended CONNECT (RFC 8441) rather than an HTTP/1.1 upgrade.
    pub fn is_extended_connect(&self) -> bool {
        self.request.method == Method::CONNECT
    }

    /// The subprotocols the client offered, most preferred first.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        handshake::offered_protocols(self.request)
    }

    /// The subprotocol that will be answered: the first of
    /// [`protocols`](crate::WebSocketUpgradeLayer::protocols) the client offered, unless the hook
    /// changes it.
    pub fn protocol(&self) -> Option<&str> {
        self.answer.protocol()
    }

    /// Answers `protocol`, which must be one the client offered (compared exactly): a server
    /// may never answer a subprotocol that was not offered (RFC 6455 §4.2.2).
    pub fn set_protocol(&mut self, protocol: &str) -> Result<(), ProtocolNotOffered> {
        self.answer.set_protocol(self.request, protocol)
    }

    /// Answers no subprotocol.
    pub fn clear_protocol(&mut self) {
        self.answer.protocol = None;
    }

    /// Headers added to the accepting response, e.g. `Set-Cookie`. Those the handshake itself
    /// sets (`Upgrade`, `Connection`, `Sec-WebSocket-*`, `Content-Length`,
    /// `Transfer-Encoding`) are ignored, with a warning in the log.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.answer.headers
    }

    /// Values for the connection's request extensions: what the hook learned (the
    /// authenticated user, a tenant) is in [`Conn::request`](crate::Conn::request)`.extensions`
    /// for the handler, next to what earlier middleware put there (a value of the same type
    /// replaces theirs).
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.answer.extensions
    }

    /// A refusal with `status` and `reason` as a plain-text body, to return as `Err`; add
    /// headers with [`Refusal::header`], or build any response and convert it with `into()`.
    pub fn reject(&self, status: StatusCode, reason: impl Into<Bytes>) -> Refusal {
        Refusal::plain_text(status, reason.into())
    }

    pub(super) fn into_answer(self) -> Answer {
        self.answer
    }
}

/// A handshake as the [`on_handshake_async`](crate::WebSocketUpgradeLayer::on_handshake_async)
/// hook sees it: what [`Handshake`] offers (the request with its extensions, the client's
/// subprotocol offer, the choice of subprotocol, headers for the accepting response,
/// [`reject`](Self::reject)), owned, so that the hook's future can keep it across `.await`s.
/// The hook gives it back to accept: `Ok(handshake)`.
///
/// The request is shared with the layer, not copied; it goes on to the connection
/// ([`Conn::request`](crate::Conn::request)) once the hook has given the handshake back.
///
/// Unlike [`Handshake::offered_protocols`], the offer borrows the handshake: to answer one of
/// its protocols, copy it out first (`.map(str::to_owned)`), then
/// [`set_protocol`](Self::set_protocol).
pub struct OwnedHandshake {
    request: Arc<Parts>,
    answer: Answer,
}

impl OwnedHandshake {
    pub(super) fn new(request: Arc<Parts>, protocol: Option<HeaderValue>) -> Self {
        Self {
            request,
            answer: Answer::new(protocol),
        }
    }

    /// The handshake request: method, URI, headers, and the extensions earlier middleware
    /// inserted (e.g. an authenticated user).
    pub fn request(&self) -> &Parts {
        &self.request
    }

    /// Whether this is an HTTP/2 extended CONNECT (RFC 8441) rather than an HTTP/1.1 upgrade.
    pub fn is_extended_connect(&self) -> bool {
        self.request.method == Method::CONNECT
    }

    /// The subprotocols the client offered, most preferred first.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &str> {
        handshake::offered_protocols(&self.request)
    }

    /// The subprotocol that will be answered: the first of
    /// [`protocols`](crate::WebSocketUpgradeLayer::protocols) the client offered, unless the hook
    /// changes it.
    pub fn protocol(&self) -> Option<&str> {
        self.answer.protocol()
    }

    /// Answers `protocol`, which must be one the client offered (compared exactly): a server
    /// may never answer a subprotocol that was not offered (RFC 6455 §4.2.2).
    pub fn set_protocol(&mut self, protocol: &str) -> Result<(), ProtocolNotOffered> {
        self.answer.set_protocol(&self.request, protocol)
    }

    /// Answers no subprotocol.
    pub fn clear_protocol(&mut self) {
        self.answer.protocol = None;
    }

    /// Headers added to the accepting response, e.g. `Set-Cookie`. Those the handshake itself
    /// sets (`Upgrade`, `Connection`, `Sec-WebSocket-*`, `Content-Length`,
    /// `Transfer-Encoding`) are ignored, with a warning in the log.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.answer.headers
    }

    /// Values for the connection's request extensions: what the hook learned (the
    /// authenticated user, a tenant) is in [`Conn::request`](crate::Conn::request)`.extensions`
    /// for the handler, next to what earlier middleware put there (a value of the same type
    /// replaces theirs).
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.answer.extensions
    }

    /// A refusal with `status` and `reason` as a plain-text body, to return as `Err`; add
    /// headers with [`Refusal::header`], or build any response and convert it with `into()`.
    pub fn reject(&self, status: StatusCode, reason: impl Into<Bytes>) -> Refusal {
        Refusal::plain_text(status, reason.into())
    }

    /// Whether this is the handshake of `request` (and not one the hook kept from another).
    pub(super) fn is_for(&self, request: &Arc<Parts>) -> bool {
        Arc::ptr_eq(&self.request, request)
    }

    pub(super) fn into_answer(self) -> Answer {
        self.answer
    }
}

/// What an accept hook decided: the subprotocol to answer, the headers to add to the
/// response, the extensions to add to the connection's request.
#[derive(Default)]
pub(super) struct Answer {
    pub(super) protocol: Option<HeaderValue>,
    pub(super) headers: HeaderMap,
    pub(super) extensions: Extensions,
}

impl Answer {
    fn new(protocol: Option<HeaderValue>) -> Self {
        Self {
            protocol,
            ..Self::default()
        }
    }

    fn protocol(&self) -> Option<&str> {
        self.protocol.as_ref().and_then(|p| p.to_str().ok())
    }

    /// Answers `protocol` if `request` offered it.
    fn set_protocol(&mut self, request: &Parts, protocol: &str) -> Result<(), ProtocolNotOffered> {
        let offered = handshake::offered_protocols(request).any(|p| p == protocol);
        match HeaderValue::from_str(protocol) {
            Ok(value) if offered => {
                self.protocol = Some(value);
                Ok(())
            }
            _ => Err(ProtocolNotOffered(protocol.to_owned())),
        }
    }
}

/// The headers of the handshake itself, which the accept hook may not set.
const RESERVED: [HeaderName; 9] = [
    header::UPGRADE,
    header::CONNECTION,
    header::SEC_WEBSOCKET_ACCEPT,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::SEC_WEBSOCKET_EXTENSIONS,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_KEY,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
];

/// Adds the accept hook's `extra` headers to the accepting response's `headers`, except those
/// of the handshake itself.
pub(super) fn merge_headers(headers: &mut HeaderMap, extra: HeaderMap) {
    let mut name = None;
    for (next, value) in extra {
        // Repeated values of one header come with `None` after the first.
        if next.is_some() {
            name = next;
        }
        let Some(name) = &name else { continue };
        if RESERVED.contains(name) {
            tracing::warn!(header = %name, "on_handshake may not set this header; ignored");
            continue;
        }
        headers.append(name.clone(), value);
    }
}

/// The response the accept hook refused a handshake with: any status, headers and body. A
/// status below 300 would not refuse anything, so the layer answers `500` instead (and logs it).
///
/// ```
/// use bytes::Bytes;
/// use http::{Response, StatusCode};
/// use tower_websocket::Refusal;
///
/// let mut response = Response::new(Bytes::from_static(br#"{"error":"banned"}"#));
/// *response.status_mut() = StatusCode::FORBIDDEN;
/// let refusal = Refusal::from(response).header("content-type", "application/json");
/// assert_eq!(refusal.response().status(), StatusCode::FORBIDDEN);
/// ```
// Boxed: the hook returns `Result<(), Refusal>`, which stays one pointer wide.
#[derive(Debug)]
pub struct Refusal(Box<Response<Bytes>>);

impl Refusal {
    /// `status`, with `reason` as a plain-text body.
    fn plain_text(status: StatusCode, reason: Bytes) -> Self {
        let mut response = Response::new(reason);
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Self(Box::new(response))
    }

    /// Adds a header to the response; a name or value that is not valid is ignored, with a
    /// warning in the log.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.0.headers_mut().append(name, value);
            }
            _ => tracing::warn!("invalid header name or value in a handshake refusal; ignored"),
        }
        self
    }

    /// The response.
    pub fn response(&self) -> &Response<Bytes> {
        &self.0
    }

    /// The response, to change.
    pub fn response_mut(&mut self) -> &mut Response<Bytes> {
        &mut self.0
    }

    /// The response, by value.
    pub fn into_response(self) -> Response<Bytes> {
        *self.0
    }
}

impl From<Response<Bytes>> for Refusal {
    fn from(response: Response<Bytes>) -> Self {
        Self(Box::new(response))
    }
}

/// Runs the accept hook on a checked handshake whose subprotocol so far is `protocol`: `Ok`
/// with its answer, or `Err` with the refusal.
pub(super) fn run_accept_hook(
    hook: &SyncAcceptHook,
    request: &Parts,
    protocol: Option<&HeaderValue>,
) -> Result<Answer, Refusal> {
    let mut pending = Handshake::new(request, protocol.cloned());
    if let Err(refusal) = hook(&mut pending) {
        return Err(refused(refusal, request, "on_handshake"));
    }
    Ok(pending.into_answer())
}

/// An accept hook's refusal, checked (see [`check_hook_rejection`]) and logged at debug.
pub(super) fn refused(refusal: Refusal, request: &Parts, hook: &str) -> Refusal {
    let refusal = check_hook_rejection(refusal, hook);
    let status = refusal.response().status();
    let path = request.uri.path();
    tracing::debug!(path, %status, "WebSocket handshake refused by {hook}");
    refusal
}

/// A refusal from the accept hook with a status that would not refuse anything (below 300)
/// becomes a `500`, logged.
pub(super) fn check_hook_rejection(refusal: Refusal, hook: &str) -> Refusal {
    if refusal.0.status().as_u16() >= 300 {
        return refusal;
    }
    Refusal::from(checked_refusal(refusal.into_response(), hook))
}

/// A hook's refusal must be a refusal: a `1xx` (a `101` would switch protocols!) or `2xx`
/// answer is a bug in the hook, answered `500` and logged at error level.
pub(super) fn checked_refusal(response: Response<Bytes>, hook: &str) -> Response<Bytes> {
    if response.status().as_u16() >= 300 {
        return response;
    }
    tracing::error!(
        status = %response.status(),
        "the {hook} hook refused a handshake with a status below 300; answering 500"
    );
    let mut response = Response::new(Bytes::from_static(b"WebSocket handshake refused\n"));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// [`Handshake::set_protocol`] with a subprotocol the client did not offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolNotOffered(String);

impl fmt::Display for ProtocolNotOffered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the client did not offer subprotocol {:?}", self.0)
    }
}

impl StdError for ProtocolNotOffered {}

/// A handshake was accepted, but the HTTP server gave no way to take the connection over; what
/// the [`on_failed_upgrade`](crate::WebSocketUpgradeLayer::on_failed_upgrade) hook receives.
///
/// It happens when connections are served without upgrade support: hyper's
/// `http1::Builder::serve_connection` without `.with_upgrades()`, hyper-util's
/// `auto::Builder::serve_connection` instead of `serve_connection_with_upgrades`, a server that
/// is not hyper, or a client that went away before the upgrade completed. The handler does not
/// run. The layer also logs it at error level.
pub struct FailedUpgrade {
    request: Parts,
    after_response: bool,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl FailedUpgrade {
    /// The request had no upgrade handle at all: the client was answered `500`.
    pub(super) fn unavailable(request: Parts) -> Self {
        Self {
            request,
            after_response: false,
            source: None,
        }
    }

    /// The accepting response went out, then taking the connection over failed.
    pub(super) fn after_response(
        request: Parts,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            request,
            after_response: true,
            source: Some(source.into()),
        }
    }

    /// The handshake request.
    pub fn request(&self) -> &Parts {
        &self.request
    }

    /// The handshake request, by value.
    pub fn into_request(self) -> Parts {
        self.request
    }

    /// Whether the accepting response (`101`, or `200` over HTTP/2) was already sent: the
    /// server resolved the upgrade with an error (typically connections served without
    /// upgrades, or a client that left). If not, the request carried no upgrade handle at all
    /// and the client was answered `500`.
    pub fn is_after_response(&self) -> bool {
        self.after_response
    }
}

impl fmt::Display for FailedUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) if self.after_response => write!(
                f,
                "WebSocket upgrade failed after the handshake response was sent ({source}); if \
                 the server does not enable upgrades, serve connections with hyper-util's \
                 `auto::Builder::serve_connection_with_upgrades` or hyper's \
                 `http1::Builder::serve_connection(..).with_upgrades()`"
            ),
            _ => f.write_str(Rejection::UpgradeUnavailable.reason()),
        }
    }
}

impl StdError for FailedUpgrade {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

// By hand: a derived `Debug` would print every header value of the request, `Cookie` and
// `Authorization` included (hyper does not mark incoming headers sensitive), into whatever
// log a hook writes. Header names only, as `Conn`'s `Debug` does.
impl fmt::Debug for Handshake<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("request", &RequestSummary(self.request))
            .field("answer", &self.answer)
            .finish()
    }
}

impl fmt::Debug for OwnedHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedHandshake")
            .field("request", &RequestSummary(&self.request))
            .field("answer", &self.answer)
            .finish()
    }
}

impl fmt::Debug for FailedUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailedUpgrade")
            .field("request", &RequestSummary(&self.request))
            .field("after_response", &self.after_response)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("protocol", &self.protocol)
            .field("headers", &HeaderNames(&self.headers))
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// A request for `Debug`: method, path, version and header names, no values.
struct RequestSummary<'a>(&'a Parts);

impl fmt::Debug for RequestSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parts")
            .field("method", &self.0.method)
            .field("path", &self.0.uri.path())
            .field("version", &self.0.version)
            .field("headers", &HeaderNames(&self.0.headers))
            .finish_non_exhaustive()
    }
}

/// The names of `headers`, without their values.
struct HeaderNames<'a>(&'a HeaderMap);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests;
