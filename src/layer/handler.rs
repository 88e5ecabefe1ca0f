//! What the layer runs for each accepted connection.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use crate::conn::Conn;

/// A handler's error, boxed to be logged with its sources.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// A connection handler: an `async fn(Conn)` or a closure `|conn| async move { .. }`,
/// returning `()` or a `Result<(), E>` (see [`HandlerOutput`]; an `Err` is logged at debug
/// level with its whole chain of causes).
///
/// Implemented for every `Fn(Conn) -> impl Future` that is `Clone + Send + Sync + 'static`,
/// and sealed: it cannot be implemented by hand (there is no need to), so it can grow without
/// breaking anyone.
pub trait Handler: sealed::Handler + Clone + Send + Sync + 'static {
    /// What the handler's future yields.
    type Output: HandlerOutput;
    /// The handler's future, run in its own task.
    type Future: Future<Output = Self::Output> + Send + 'static;

    /// Starts handling `conn`.
    fn call(&self, conn: Conn) -> Self::Future;
}

impl<F, Fut> sealed::Handler for F
where
    F: Fn(Conn) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
}

impl<F, Fut> Handler for F
where
    F: Fn(Conn) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, conn: Conn) -> Fut {
        self(conn)
    }
}

/// What a handler may return: `()`, or `Result<(), E>` with any error that converts into
/// `Box<dyn Error + Send + Sync>`: [`crate::Error`], `std::io::Error`, `anyhow::Error`, any
/// `std::error::Error + Send + Sync`, `String`, `&'static str`.
///
/// An `Err` is logged at debug level (a handler's error usually is the peer's doing) as the
/// error and its sources, `outer: cause: root cause`, so the reason a connection ended is
/// not cut short at the first line. Sealed: implemented for those two shapes only.
pub trait HandlerOutput: sealed::Output + Send + 'static {}

impl sealed::Output for () {
    fn into_error(self) -> Option<BoxError> {
        None
    }
}

impl HandlerOutput for () {}

impl<E> sealed::Output for Result<(), E>
where
    E: Into<BoxError> + Send + 'static,
{
    fn into_error(self) -> Option<BoxError> {
        self.err().map(Into::into)
    }
}

impl<E> HandlerOutput for Result<(), E> where E: Into<BoxError> + Send + 'static {}

/// The supertraits that keep [`Handler`] and [`HandlerOutput`] closed to other impls, and
/// what the layer needs of an output without making it public.
pub(crate) mod sealed {
    use super::BoxError;

    /// [`super::Handler`]'s seal.
    pub trait Handler {}

    /// [`super::HandlerOutput`]'s seal: the error to log, if any.
    pub trait Output {
        /// The handler's error, if it returned one.
        fn into_error(self) -> Option<BoxError>;
    }
}

/// Displays an error and its sources, `outer: cause: root cause`. A source whose message the
/// previous one already ends with (many errors print their cause in their own message too) is
/// not repeated; at most 16 levels are followed.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        f.write_str(&previous)?;
        let mut source = self.0.source();
        for _ in 0..16 {
            let Some(error) = source else { break };
            let message = error.to_string();
            if !previous.ends_with(&message) {
                write!(f, ": {message}")?;
            }
            previous = message;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::sealed::Output;
    use super::*;

    #[derive(Debug)]
    struct Layered(&'static str, Option<Box<dyn StdError + Send + Sync>>);

    impl fmt::Display for Layered {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Layered {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn the_chain_has_every_source_once() {
        let root = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
        let cause = Layered("token service unreachable", Some(Box::new(root)));
        let outer = Layered("session refresh failed", Some(Box::new(cause)));
        assert_eq!(
            Chain(&outer).to_string(),
            "session refresh failed: token service unreachable: connection refused"
        );
        // This crate's Error prints its IO cause itself: not twice.
        let error = crate::conn::Error::Io(io::Error::other("broken pipe"));
        assert_eq!(Chain(&error).to_string(), "WebSocket IO error: broken pipe");
    }

    #[test]
    fn outputs_convert_strings_and_errors() {
        assert!(().into_error().is_none());
        assert!(Ok::<(), String>(()).into_error().is_none());
        let error = Err::<(), _>("gone".to_owned()).into_error().unwrap();
        assert_eq!(Chain(&*error).to_string(), "gone");
        let error = Err::<(), _>("static").into_error().unwrap();
        assert_eq!(error.to_string(), "static");
        let error = Err::<(), _>(crate::conn::Error::Closed)
            .into_error()
            .unwrap();
        assert!(error.downcast_ref::<crate::conn::Error>().is_some());
    }
}
