//! An accept hook that has to wait
//! ([`on_handshake_async`](crate::WebSocketUpgradeLayer::on_handshake_async)): the layer's
//! answer once the hook's future decides, within the handshake timeout and not past the start of
//! a graceful shutdown.
//!
//! The handshake counts as live from here on (its place under the connection cap is held, and a
//! shutdown waits for it): a shutdown that starts meanwhile answers `503` at once, and a client
//! that leaves drops this future, and with it the hook's.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};

use super::handler::Handler;
use super::hooks::refused;
use super::policy::{AsyncAcceptFuture, Policy};
use super::rejection::Rejection;
use super::service::{Checked, accept, rejected};
use crate::conn::Config;

/// The hook's name, in the log.
const HOOK: &str = "on_handshake_async";

/// Awaits the hook's `decided` future for the handshake of `request`, then accepts the
/// handshake as the hook left it, or answers the hook's refusal, the shutdown's `503` or the
/// timeout's `503`.
pub(super) async fn decide<H: Handler>(
    decided: AsyncAcceptFuture,
    checked: Checked,
    request: Arc<Parts>,
    handler: H,
    config: Arc<Config>,
    policy: Arc<Policy>,
) -> Response<Option<Bytes>> {
    let mut registration = checked.register();
    let timeout = policy.handshake_timeout;
    let decision = {
        let mut shutdown = std::pin::pin!(registration.triggered());
        let mut decided = std::pin::pin!(tokio::time::timeout(timeout, decided));
        // The shutdown first: a handshake decided as the shutdown starts is refused.
        std::future::poll_fn(|cx| {
            if shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Rejection::ShuttingDown));
            }
            decided
                .as_mut()
                .poll(cx)
                .map(|decided| decided.map_err(|_elapsed| Rejection::HandshakeTimeout))
        })
        .await
    };
    let handshake = match decision {
        Ok(Ok(handshake)) => handshake,
        Ok(Err(refusal)) => return refused(refusal, &request, HOOK).into_response().map(Some),
        Err(rejection) => return rejected(&policy, rejection, &request),
    };
    if !handshake.is_for(&request) {
        tracing::error!(
            path = request.uri.path(),
            "the {HOOK} hook accepted with the handshake of another request; answering 500"
        );
        let mut response = Response::new(Some(Bytes::from_static(b"WebSocket handshake failed\n")));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return response;
    }
    let answer = handshake.into_answer();
    // The handshake was the only other owner of the request: no copy.
    let parts = Arc::unwrap_or_clone(request);
    accept(
        checked,
        registration,
        parts,
        Some(answer),
        handler,
        &config,
        &policy,
    )
}
