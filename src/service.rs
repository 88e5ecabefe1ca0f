//! [`WebSocketUpgrade`]: the service the layer produces.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::upgrade::OnUpgrade;
use tower_service::Service;

use crate::Config;
use crate::body::UpgradeBody;
use crate::future::ResponseFuture;
use crate::handler::Handler;
use crate::handshake::{self, HandshakeRejection};
use crate::layer::Filter;
use crate::upgrade::spawn_connection;

/// Wraps an inner service: WebSocket handshakes that match the filter are answered here (101,
/// or a 4xx with a reason), everything else is passed to `inner` as it is.
#[derive(Clone, Debug)]
pub struct WebSocketUpgrade<S, H> {
    inner: S,
    handler: H,
    filter: Filter,
    config: Arc<Config>,
}

impl<S, H> WebSocketUpgrade<S, H> {
    pub(crate) fn new(inner: S, handler: H, filter: Filter, config: Arc<Config>) -> Self {
        Self {
            inner,
            handler,
            filter,
            config,
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
        if !self.filter.matches(&parts) || !handshake::is_upgrade_attempt(&parts) {
            return ResponseFuture::inner(self.inner.call(Request::from_parts(parts, body)));
        }
        drop(body);
        let accept = match handshake::validate(&parts, &self.config.protocols) {
            Ok(accept) => accept,
            Err(rejection) => {
                tracing::debug!(path = parts.uri.path(), %rejection, "WebSocket handshake rejected");
                return ResponseFuture::ready(rejection.response().map(Some));
            }
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            let rejection = HandshakeRejection::UpgradeUnavailable;
            tracing::error!(path = parts.uri.path(), "{rejection}");
            return ResponseFuture::ready(rejection.response().map(Some));
        };
        let response = accept.response();
        let protocol = accept.protocol().cloned();
        spawn_connection(
            on_upgrade,
            parts,
            protocol,
            self.handler.clone(),
            self.config.clone(),
        );
        ResponseFuture::ready(response.map(|()| None))
    }
}
