//! [`Policy`]: everything the layer decides a handshake by, besides the RFC checks: the
//! subprotocols and compression it offers, the origin rule, the hooks, the shutdown handle, the
//! connection cap, and the handshake and upgrade timeouts.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use http::Response;
use http::request::Parts;

use super::hooks::{FailedUpgrade, Handshake, OwnedHandshake, Refusal, checked_refusal};
use super::rejection::Rejection;
use crate::conn::tracking::{ConnectionLimit, GracefulShutdown};
use crate::handshake::OriginPolicy;
use crate::proto::DeflateConfig;

pub(crate) type SyncAcceptHook =
    Arc<dyn Fn(&mut Handshake<'_>) -> Result<(), Refusal> + Send + Sync>;
/// What [`on_handshake_async`](crate::WebSocketUpgradeLayer::on_handshake_async)'s future
/// yields.
pub(crate) type AsyncAcceptOutput = Result<OwnedHandshake, Refusal>;
pub(crate) type AsyncAcceptFuture = Pin<Box<dyn Future<Output = AsyncAcceptOutput> + Send>>;
pub(crate) type AsyncAcceptHook = Arc<dyn Fn(OwnedHandshake) -> AsyncAcceptFuture + Send + Sync>;
pub(crate) type RejectionHook = Arc<dyn Fn(&Rejection, &Parts) -> Response<Bytes> + Send + Sync>;
pub(crate) type FailedUpgradeHook = Arc<dyn Fn(FailedUpgrade) + Send + Sync>;

/// The accept hook: one that decides at once, or one that returns a future.
#[derive(Clone)]
pub(crate) enum AcceptHook {
    Sync(SyncAcceptHook),
    Async(AsyncAcceptHook),
}

impl fmt::Debug for AcceptHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sync(_) => "on_handshake",
            Self::Async(_) => "on_handshake_async",
        })
    }
}

/// The handshake policy the layer applies after the RFC checks.
#[derive(Clone)]
pub(crate) struct Policy {
    /// The subprotocols the server speaks, most preferred first.
    pub(crate) protocols: Arc<[HeaderValue]>,
    /// The permessage-deflate settings, if compression is offered.
    pub(crate) deflate: Option<DeflateConfig>,
    pub(crate) origin: OriginPolicy,
    pub(crate) accept: Option<AcceptHook>,
    pub(crate) rejection: Option<RejectionHook>,
    pub(crate) failed_upgrade: Option<FailedUpgradeHook>,
    pub(crate) shutdown: Option<GracefulShutdown>,
    pub(crate) limit: Option<ConnectionLimit>,
    /// How long the layer waits for hyper to hand over a connection it answered `101` (or
    /// `200`) for.
    pub(crate) upgrade_timeout: Duration,
    /// How long the layer waits for an asynchronous accept hook to decide.
    pub(crate) handshake_timeout: Duration,
}

impl Policy {
    /// Default [`upgrade_timeout`](crate::WebSocketUpgradeLayer::upgrade_timeout): 10 seconds.
    pub(crate) const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`handshake_timeout`](crate::WebSocketUpgradeLayer::handshake_timeout): 10
    /// seconds.
    pub(crate) const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

    /// The response for a handshake the layer refuses: the rejection hook's, or the default;
    /// the rejection itself rides along in the response extensions.
    pub(crate) fn rejection_response(
        &self,
        rejection: Rejection,
        request: &Parts,
    ) -> Response<Bytes> {
        let mut response = match &self.rejection {
            Some(hook) => checked_refusal(hook(&rejection, request), "on_rejection"),
            None => rejection.response_for(request.version),
        };
        response.extensions_mut().insert(rejection);
        response
    }

    /// Tells the failed-upgrade hook, if any.
    pub(crate) fn failed_upgrade(&self, failure: FailedUpgrade) {
        if let Some(hook) = &self.failed_upgrade {
            hook(failure);
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            protocols: Arc::new([]),
            deflate: None,
            origin: OriginPolicy::default(),
            accept: None,
            rejection: None,
            failed_upgrade: None,
            shutdown: None,
            limit: None,
            upgrade_timeout: Self::DEFAULT_UPGRADE_TIMEOUT,
            handshake_timeout: Self::DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("protocols", &self.protocols)
            .field("deflate", &self.deflate)
            .field("origin", &self.origin)
            .field("accept_hook", &self.accept)
            .field("on_rejection", &self.rejection.is_some())
            .field("on_failed_upgrade", &self.failed_upgrade.is_some())
            .field("graceful_shutdown", &self.shutdown)
            .field("max_connections", &self.limit)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish()
    }
}
