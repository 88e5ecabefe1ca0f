//! Every log event at any level, captured for the whole test binary (it installs the only
//! global subscriber) as `LEVEL field=value ...` lines: for tests that check what is logged,
//! and at which level.

use std::fmt::{self, Write as _};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::time::Duration;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct CaptureAll;

impl tracing::Subscriber for CaptureAll {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(
            &mut |field: &tracing::field::Field, value: &dyn fmt::Debug| {
                let _ = write!(line, " {}={value:?}", field.name());
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
        tracing::subscriber::set_global_default(CaptureAll).expect("no other subscriber");
    });
}

/// The lines captured so far (lock held while the guard lives).
pub fn lines() -> MutexGuard<'static, Vec<String>> {
    LINES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The error-level lines captured so far: for tests that check what is, and what is not,
/// logged at error level.
pub fn errors() -> Vec<String> {
    lines()
        .iter()
        .filter(|line| line.starts_with("ERROR "))
        .cloned()
        .collect()
}

/// Waits (at most [`super::TIMEOUT`]) for a line that contains `needle`, and returns it.
pub async fn wait_for(needle: &str) -> String {
    super::within(needle, async {
        loop {
            if let Some(line) = lines().iter().find(|line| line.contains(needle)) {
                return line.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}
