//! The client's time bounds: a timeout turned into a deadline once, and work bounded by it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::Error;

/// How long a refusal's body is waited for once its head has arrived: the status and headers
/// are what matter, and a server that stalls its body must not hold the error back.
const BODY_WAIT: Duration = Duration::from_secs(2);

/// The deadline `timeout` from now: `None` (no bound) for zero, as the builder documents,
/// and for a timeout too large for an `Instant`.
pub(crate) fn after(timeout: Duration) -> Option<Instant> {
    if timeout.is_zero() {
        return None;
    }
    Instant::now().checked_add(timeout)
}

/// `future` by `deadline` (`None`: unbounded), else `error`.
pub(crate) async fn by<T>(
    deadline: Option<Instant>,
    error: Error,
    future: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future)
            .await
            .unwrap_or(Err(error)),
        None => future.await,
    }
}

/// Until when a refusal's body is read: [`BODY_WAIT`] from now, and never past the
/// handshake's `deadline`.
pub(crate) fn body_wait(deadline: Option<Instant>) -> Instant {
    let wait = Instant::now() + BODY_WAIT;
    deadline.map_or(wait, |deadline| deadline.min(wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn zero_and_unrepresentable_timeouts_are_no_bound() {
        assert_eq!(after(Duration::ZERO), None);
        assert_eq!(after(Duration::MAX), None);
        let start = Instant::now();
        assert_eq!(
            after(Duration::from_secs(3)),
            Some(start + Duration::from_secs(3))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn work_past_its_deadline_is_the_given_error() {
        let never = std::future::pending::<Result<(), Error>>();
        let bounded = by(
            after(Duration::from_secs(1)),
            Error::HandshakeTimeout,
            never,
        )
        .await;
        assert!(matches!(bounded, Err(Error::HandshakeTimeout)));
        let done = by(None, Error::HandshakeTimeout, async { Ok(7) }).await;
        assert!(matches!(done, Ok(7)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_is_waited_for_2_s_or_until_the_deadline() {
        let now = Instant::now();
        assert_eq!(body_wait(None), now + BODY_WAIT);
        assert_eq!(
            body_wait(Some(now + Duration::from_secs(1))),
            now + Duration::from_secs(1)
        );
        assert_eq!(
            body_wait(Some(now + Duration::from_secs(9))),
            now + BODY_WAIT
        );
    }
}
