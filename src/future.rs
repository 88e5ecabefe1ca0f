//! [`ResponseFuture`]: the inner service's future, or a response the layer made itself.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use crate::body::UpgradeBody;

pin_project! {
    /// Resolves to the inner service's response (body wrapped in [`UpgradeBody::Inner`]), or to
    /// the layer's own 101 / 4xx response.
    #[project = ResponseFutureProj]
    pub enum ResponseFuture<F, B> {
        /// Waiting on the inner service.
        Inner { #[pin] future: F },
        /// The layer's response, taken on first poll.
        Ready { response: Option<Response<UpgradeBody<B>>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F) -> Self {
        Self::Inner { future }
    }

    pub(crate) fn ready<T>(response: Response<T>) -> Self
    where
        T: Into<Option<Bytes>>,
    {
        let response = response.map(|body| UpgradeBody::full(body.into()));
        Self::Ready {
            response: Some(response),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<UpgradeBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseFutureProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(UpgradeBody::inner)))
            }
            ResponseFutureProj::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => panic!("ResponseFuture polled after completion"),
            },
        }
    }
}
