//! Error-level log lines, captured for the whole test binary (it installs the only global
//! subscriber): for tests that check what is, and what is not, logged at error level.

use std::fmt::{self, Write as _};
use std::sync::{Mutex, Once};

static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct CaptureErrors;

impl tracing::Subscriber for CaptureErrors {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::ERROR
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::new();
        event.record(
            &mut |field: &tracing::field::Field, value: &dyn fmt::Debug| {
                let _ = write!(line, "{}={value:?} ", field.name());
            },
        );
        lines().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Starts capturing (once per test binary).
pub fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(CaptureErrors).expect("no other subscriber");
    });
}

/// The lines captured so far (lock held while the guard lives).
pub fn lines() -> std::sync::MutexGuard<'static, Vec<String>> {
    ERRORS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
