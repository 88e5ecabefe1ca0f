//! [`WebSocketUpgrade`]: the service the layer produces.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::SEC_WEBSOCKET_EXTENSIONS;
use http::request::Parts;
use http::{Method, Request, Response};
use hyper::ext::Protocol;
use hyper::upgrade::OnUpgrade;
use tower_service::Service;

use super::body::UpgradeBody;
use super::filter::Filter;
use super::future::ResponseFuture;
use super::handler::Handler;
use super::hooks::{FailedUpgrade, Handshake, check_hook_rejection, merge_headers};
use super::policy::Policy;
use super::rejection::Rejection;
use super::upgrade::{Accepted, spawn_connection};
use crate::conn::Config;
use crate::conn::tracking::{GracefulShutdown, Registration};
use crate::handshake::{self, extensions};

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
        // A CONNECT is someone else's tunnel unless it is an RFC 8441 WebSocket.
        let attempt = if parts.method == Method::CONNECT {
            handshake::is_extended_connect(&parts, extended_protocol(&parts))
        } else {
            handshake::is_upgrade_attempt(&parts)
        };
        if !attempt || !self.filter.matches(&parts) {
            return ResponseFuture::inner(self.inner.call(Request::from_parts(parts, body)));
        }
        drop(body);
        let validated = if parts.method == Method::CONNECT {
            handshake::validate_connect(&parts, extended_protocol(&parts), &self.policy.protocols)
        } else {
            handshake::validate(&parts, &self.policy.protocols)
        };
        // The layer's own shutdown handle, or the one `server::serve` puts in the request
        // (taken out: the connection keeps the request for its whole life).
        let served = parts.extensions.remove::<GracefulShutdown>();
        let shutdown = self.policy.shutdown.clone().or(served);
        let checked = validated.map_err(Rejection::from).and_then(|accept| {
            self.policy.origin.check(&parts)?;
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
            Ok((accept, slot))
        });
        let (mut accept, slot) = match checked {
            Ok(checked) => checked,
            Err(rejection) => {
                let origin = parts.headers.get(http::header::ORIGIN);
                let path = parts.uri.path();
                tracing::debug!(path, ?origin, %rejection, "WebSocket handshake rejected");
                let response = self.policy.rejection_response(rejection, &parts);
                return ResponseFuture::ready(response.map(Some));
            }
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            let rejection = Rejection::UpgradeUnavailable;
            tracing::error!(path = parts.uri.path(), "{rejection}");
            let response = self.policy.rejection_response(rejection, &parts);
            self.policy
                .failed_upgrade(FailedUpgrade::unavailable(parts));
            return ResponseFuture::ready(response.map(Some));
        };
        let mut extra_headers = None;
        if let Some(hook) = &self.policy.accept {
            let mut pending = Handshake::new(&parts, accept.protocol().cloned());
            if let Err(response) = hook(&mut pending) {
                let response = check_hook_rejection(response);
                let status = response.status();
                let path = parts.uri.path();
                tracing::debug!(path, %status, "WebSocket handshake refused by on_handshake");
                return ResponseFuture::ready(response.map(Some));
            }
            let (protocol, headers) = pending.into_parts();
            accept.set_protocol(protocol);
            extra_headers = Some(headers);
        }
        let mut response = accept.response();
        if let Some(extra) = extra_headers {
            merge_headers(response.headers_mut(), extra);
        }
        let protocol = accept.protocol().cloned();
        let deflate = self
            .policy
            .deflate
            .as_ref()
            .and_then(|deflate| extensions::negotiate_deflate(&parts.headers, deflate));
        if let Some((_, value)) = &deflate {
            response
                .headers_mut()
                .insert(SEC_WEBSOCKET_EXTENSIONS, value.clone());
        }
        let params = deflate.map(|(params, _)| params);
        let registration = match &shutdown {
            Some(shutdown) => shutdown.register(),
            None => Registration::default(),
        };
        spawn_connection(
            on_upgrade,
            parts,
            Accepted {
                protocol,
                deflate: params,
                registration: registration.with_slot(slot),
            },
            self.handler.clone(),
            self.config.clone(),
            self.policy.clone(),
        );
        ResponseFuture::ready(response.map(|()| None))
    }
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
fn extended_protocol(parts: &Parts) -> Option<&str> {
    parts.extensions.get::<Protocol>().map(Protocol::as_str)
}
