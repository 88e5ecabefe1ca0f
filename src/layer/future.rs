//! [`ResponseFuture`]: the inner service's future, or a response the layer made itself (at once,
//! or once an asynchronous accept hook has decided).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use super::body::UpgradeBody;

/// The layer's answer to a handshake whose accept hook has to wait: boxed, as the hook's future
/// is the user's type (only this path pays for it).
pub(crate) type PendingResponse = Pin<Box<dyn Future<Output = Response<Option<Bytes>>> + Send>>;

pin_project! {
    /// Resolves to the inner service's response (its body wrapped in [`UpgradeBody`]), or to
    /// the layer's own `101` or rejection response (once the
    /// [`on_handshake_async`](crate::WebSocketUpgradeLayer::on_handshake_async) hook has
    /// decided, if there is one). Dropping it before then drops the hook's future.
    ///
    /// It is `Send` but not `Sync` (the async hook's boxed future is only `Send`); hyper,
    /// axum and tonic ask for `Send` only.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Ready { response: Option<Response<UpgradeBody<B>>> },
        Pending { future: PendingResponse },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn ready(response: Response<Option<Bytes>>) -> Self {
        let response = Some(response.map(UpgradeBody::full));
        Self {
            kind: Kind::Ready { response },
        }
    }

    pub(crate) fn pending(future: PendingResponse) -> Self {
        Self {
            kind: Kind::Pending { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<UpgradeBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(UpgradeBody::inner)))
            }
            KindProj::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => panic!("ResponseFuture polled after completion"),
            },
            KindProj::Pending { future } => {
                let response = ready!(future.as_mut().poll(cx));
                Poll::Ready(Ok(response.map(UpgradeBody::full)))
            }
        }
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::Ready { .. } => "Ready",
            Kind::Pending { .. } => "Pending",
        };
        f.debug_tuple("ResponseFuture").field(&kind).finish()
    }
}
