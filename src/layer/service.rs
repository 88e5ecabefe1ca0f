//! [`WebSocketUpgrade`]: the service the layer produces.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::SEC_WEBSOCKET_EXTENSIONS;
use http::request::Parts;
use http::{Method, Request, Response};
use hyper::upgrade::OnUpgrade;
use tower_service::Service;

use super::body::UpgradeBody;
use super::filter::Filter;
use super::future::{PendingResponse, ResponseFuture};
use super::handler::Handler;
use super::hooks::{Answer, FailedUpgrade, OwnedHandshake, merge_headers, run_accept_hook};
use super::pending;
use super::policy::{AcceptHook, AsyncAcceptHook, Policy};
use super::rejection::Rejection;
use super::upgrade::{Accepted, spawn_connection};
use crate::conn::Config;
use crate::conn::tracking::{GracefulShutdown, Registration, Slot};
use crate::handshake::{self, Accept, extensions};

/// Wraps an inner service: WebSocket handshakes that match the filter are answered here (101,
/// HTTP/2 `200`, or a 4xx with a reason), everything else is passed to `inner` as it is.
#[derive(Clone)]
pub struct WebSocketUpgrade<S, H> {
    inner: S,
    handler: H,
    filter: Filter,
    config: Arc<Config>,
    policy: Arc<Policy>,
}

impl<S, H> WebSocketUpgrade<S, H> {
    pub(crate) fn new(
        inner: S,
        handler: H,
        filter: Filter,
        config: Arc<Config>,
        policy: Arc<Policy>,
    ) -> Self {
        Self {
            inner,
            handler,
            filter,
            config,
            policy,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, H, ReqBody, ResBody> Service<Request<ReqBody>> for WebSocketUpgrade<S, H>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    H: Handler,
{
    type Response = Response<UpgradeBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    /// Forwards to the inner service; a handshake answered here leaves the reserved slot
    /// unused, as `tower::filter` does.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        if !self.is_handshake(&parts) {
            return ResponseFuture::inner(self.inner.call(Request::from_parts(parts, body)));
        }
        drop(body);
        let checked = match self.check(&mut parts) {
            Ok(checked) => checked,
            Err(rejection) => return ResponseFuture::ready(self.refuse(rejection, parts)),
        };
        let answer = match &self.policy.accept {
            None => None,
            Some(AcceptHook::Sync(hook)) => {
                match run_accept_hook(hook, &parts, checked.accept.protocol()) {
                    Ok(answer) => Some(answer),
                    Err(refusal) => {
                        return ResponseFuture::ready(refusal.into_response().map(Some));
                    }
                }
            }
            Some(AcceptHook::Async(hook)) => {
                return ResponseFuture::pending(self.decide_later(hook, checked, parts));
            }
        };
        let registration = checked.register();
        let handler = self.handler.clone();
        let response = accept(
            checked,
            registration,
            parts,
            answer,
            handler,
            &self.config,
            &self.policy,
        );
        ResponseFuture::ready(response)
    }
}

/// A handshake that passed the RFC checks and every check of the layer, with what accepting it
/// takes.
pub(super) struct Checked {
    /// The accepting response to be, with the subprotocol chosen so far.
    pub(super) accept: Accept,
    /// hyper's handle on the connection, resolved once the `101` (or `200`) is written.
    on_upgrade: OnUpgrade,
    /// The connection's place under the layer's cap, if it has one.
    slot: Option<Slot>,
    /// The shutdown the connection is tracked by, if any.
    shutdown: Option<GracefulShutdown>,
}

impl Checked {
    /// Counts the connection as live in its shutdown, if any, from now on.
    pub(super) fn register(&self) -> Registration {
        match &self.shutdown {
            Some(shutdown) => shutdown.register(),
            None => Registration::default(),
        }
    }
}

impl<S, H> WebSocketUpgrade<S, H> {
    /// Whether the layer answers this request: a WebSocket handshake attempt that matches the
    /// filter. A CONNECT is someone else's tunnel unless it is an RFC 8441 WebSocket.
    fn is_handshake(&self, parts: &Parts) -> bool {
        let attempt = if parts.method == Method::CONNECT {
            #[cfg(feature = "http2")]
            let attempt = handshake::is_extended_connect(parts, extended_protocol(parts));
            // Without hyper's `:protocol`, a WebSocket CONNECT tells itself by its version
            // header (RFC 8441 §5); a proxy tunnel has none and goes to the inner service.
            #[cfg(not(feature = "http2"))]
            let attempt = parts
                .headers
                .contains_key(http::header::SEC_WEBSOCKET_VERSION);
            attempt
        } else {
            handshake::is_upgrade_attempt(parts)
        };
        attempt && self.filter.matches(parts)
    }

    /// The RFC checks, the origin policy, the shutdown, the connection cap and hyper's upgrade
    /// handle, in that order; takes the shutdown handle and the upgrade handle out of the
    /// request (the connection keeps the request for its whole life).
    fn check(&self, parts: &mut Parts) -> Result<Checked, Rejection> {
        #[cfg(not(feature = "http2"))]
        if parts.method == Method::CONNECT {
            warn_once_without_http2();
            return Err(Rejection::ExtendedConnectUnavailable);
        }
        let validated = if parts.method == Method::CONNECT {
            handshake::validate_connect(parts, extended_protocol(parts), &self.policy.protocols)
        } else {
            handshake::validate(parts, &self.policy.protocols)
        };
        // The layer's own shutdown handle, or the one `server::serve` puts in the request.
        let served = parts.extensions.remove::<GracefulShutdown>();
        let shutdown = self.policy.shutdown.clone().or(served);
        let accept = validated?;
        self.policy.origin.check(parts)?;
        if shutdown
            .as_ref()
            .is_some_and(GracefulShutdown::is_triggered)
        {
            return Err(Rejection::ShuttingDown);
        }
        let slot = match &self.policy.limit {
            Some(limit) => Some(limit.try_acquire().ok_or(Rejection::TooManyConnections)?),
            None => None,
        };
        let on_upgrade =
            (parts.extensions.remove::<OnUpgrade>()).ok_or(Rejection::UpgradeUnavailable)?;
        Ok(Checked {
            accept,
            on_upgrade,
            slot,
            shutdown,
        })
    }

    /// The response to a handshake the layer refuses. A server without upgrades is the
    /// operator's mistake (error level, and the failed-upgrade hook); anything else is the
    /// client's (debug level).
    fn refuse(&self, rejection: Rejection, parts: Parts) -> Response<Option<Bytes>> {
        if rejection != Rejection::UpgradeUnavailable {
            return rejected(&self.policy, rejection, &parts);
        }
        let response = self.policy.rejection_response(rejection, &parts);
        tracing::error!(path = parts.uri.path(), "{rejection}");
        self.policy
            .failed_upgrade(FailedUpgrade::unavailable(parts));
        response.map(Some)
    }
}

/// The response to a handshake refused for the client's reasons (or the server's state: a
/// shutdown, the cap, a hook too slow), logged at debug.
pub(super) fn rejected(
    policy: &Policy,
    rejection: Rejection,
    parts: &Parts,
) -> Response<Option<Bytes>> {
    let origin = parts.headers.get(http::header::ORIGIN);
    let path = parts.uri.path();
    tracing::debug!(path, ?origin, %rejection, "WebSocket handshake rejected");
    policy.rejection_response(rejection, parts).map(Some)
}

impl<S, H: Handler> WebSocketUpgrade<S, H> {
    /// Hands a checked handshake to the asynchronous accept hook: the layer's answer, once the
    /// hook's future has decided.
    fn decide_later(
        &self,
        hook: &AsyncAcceptHook,
        checked: Checked,
        parts: Parts,
    ) -> PendingResponse {
        let request = Arc::new(parts);
        let protocol = checked.accept.protocol().cloned();
        let decided = hook(OwnedHandshake::new(request.clone(), protocol));
        let handler = self.handler.clone();
        let (config, policy) = (self.config.clone(), self.policy.clone());
        Box::pin(pending::decide(
            decided, checked, request, handler, config, policy,
        ))
    }
}

/// Accepts a checked handshake, tracked by `registration`: the accepting response (with the
/// accept hook's `answer`, if there is a hook, and the negotiated compression), and the task
/// that takes the connection over once it is written and runs `handler` on it.
pub(super) fn accept<H: Handler>(
    checked: Checked,
    registration: Registration,
    mut parts: Parts,
    answer: Option<Answer>,
    handler: H,
    config: &Arc<Config>,
    policy: &Arc<Policy>,
) -> Response<Option<Bytes>> {
    let Checked {
        mut accept,
        on_upgrade,
        slot,
        shutdown: _,
    } = checked;
    let extra_headers = answer.map(|answer| {
        accept.set_protocol(answer.protocol);
        parts.extensions.extend(answer.extensions);
        answer.headers
    });
    let mut response = accept.response();
    if let Some(extra_headers) = extra_headers {
        merge_headers(response.headers_mut(), extra_headers);
    }
    let deflate = (policy.deflate.as_ref())
        .and_then(|deflate| extensions::negotiate_deflate(&parts.headers, deflate));
    if let Some((_, value)) = &deflate {
        response
            .headers_mut()
            .insert(SEC_WEBSOCKET_EXTENSIONS, value.clone());
    }
    let accepted = Accepted {
        protocol: accept.protocol().cloned(),
        deflate: deflate.map(|(params, _)| params),
        registration: registration.with_slot(slot),
    };
    spawn_connection(
        on_upgrade,
        parts,
        accepted,
        handler,
        config.clone(),
        policy.clone(),
    );
    response.map(|()| None)
}

// By hand: the handler is usually a closure or an `async fn`, which is not `Debug`.
impl<S: fmt::Debug, H> fmt::Debug for WebSocketUpgrade<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("inner", &self.inner)
            .field("filter", &self.filter)
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The `:protocol` of an HTTP/2 extended CONNECT, as hyper passes it on.
#[cfg(feature = "http2")]
fn extended_protocol(parts: &Parts) -> Option<&str> {
    parts
        .extensions
        .get::<hyper::ext::Protocol>()
        .map(hyper::ext::Protocol::as_str)
}

/// Without the `http2` feature hyper's `:protocol` cannot be read: a WebSocket CONNECT is
/// refused with 501, and the operator is told once.
#[cfg(not(feature = "http2"))]
fn extended_protocol(_parts: &Parts) -> Option<&str> {
    None
}

#[cfg(not(feature = "http2"))]
fn warn_once_without_http2() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "a WebSocket handshake over HTTP/2 arrived, but tower-websocket was built without \
             its `http2` feature; answering 501 (enable the feature to accept them)"
        );
    });
}
