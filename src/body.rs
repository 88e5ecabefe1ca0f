//! [`UpgradeBody`]: the response body of the layered service.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The inner service's body, or the layer's own (empty for 101, a short reason for 4xx).
    #[project = UpgradeBodyProj]
    pub enum UpgradeBody<B> {
        /// The inner service's body, untouched.
        Inner { #[pin] body: B },
        /// A body the layer wrote: sent once, then done.
        Full { data: Option<Bytes> },
    }
}

impl<B> UpgradeBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self::Inner { body }
    }

    pub(crate) fn full(data: Option<Bytes>) -> Self {
        Self::Full {
            data: data.filter(|d| !d.is_empty()),
        }
    }
}

impl<B> Body for UpgradeBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project() {
            UpgradeBodyProj::Inner { body } => body.poll_frame(cx),
            UpgradeBodyProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Inner { body } => body.is_end_stream(),
            Self::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Inner { body } => body.size_hint(),
            Self::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
