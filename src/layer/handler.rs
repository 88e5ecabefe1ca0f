//! What the layer runs for each accepted connection.

use std::fmt::Display;
use std::future::Future;

use crate::conn::Conn;

/// A connection handler: an `async fn(Conn)` or a closure `|conn| async move { .. }`,
/// returning `()` or a `Result<(), E: Display>` (an `Err` is logged at debug level).
///
/// Implemented for every `Fn(Conn) -> impl Future` that is `Clone + Send + Sync + 'static`;
/// there is no need to implement it by hand.
pub trait Handler: Clone + Send + Sync + 'static {
    /// What the handler's future yields.
    type Output: HandlerOutput;
    /// The handler's future, run in its own task.
    type Future: Future<Output = Self::Output> + Send + 'static;

    /// Starts handling `conn`.
    fn call(&self, conn: Conn) -> Self::Future;
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

/// What a handler may return: `()` or `Result<(), E>` with a displayable error.
pub trait HandlerOutput: Send + 'static {
    /// The error to log, if any.
    fn into_error(self) -> Option<String>;
}

impl HandlerOutput for () {
    fn into_error(self) -> Option<String> {
        None
    }
}

impl<E: Display + Send + 'static> HandlerOutput for Result<(), E> {
    fn into_error(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}
