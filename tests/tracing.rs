//! What a connection logs: a `websocket` span with path, subprotocol and peer; debug events for
//! close codes and protocol errors; never message contents. A small recording subscriber
//! stands in for tracing-subscriber.

mod support;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tower_websocket::WebSocketUpgradeLayer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use support::{
    OpCode, echo, masked_frame, raw_handshake, read_frame, spawn_server, unmasked_frame, within,
};

#[derive(Default)]
struct Recorded {
    /// (span name, "field=value" pairs) for every span created or recorded into.
    spans: Vec<(String, Vec<String>)>,
    /// "field=value" pairs of every event.
    events: Vec<Vec<String>>,
}

#[derive(Clone, Default)]
struct Recorder {
    recorded: Arc<Mutex<Recorded>>,
    next_id: Arc<AtomicU64>,
}

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(Vec::new());
        span.record(&mut fields);
        let mut recorded = self.recorded.lock().unwrap();
        recorded
            .spans
            .push((span.metadata().name().to_owned(), fields.0));
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut fields = Fields(Vec::new());
        values.record(&mut fields);
        let mut recorded = self.recorded.lock().unwrap();
        recorded.spans.push(("(recorded)".to_owned(), fields.0));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        self.recorded.lock().unwrap().events.push(fields.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn connections_have_a_span_and_log_close_codes_but_never_contents() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).unwrap();

    let layer = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .protocols(["chat"]);
    let addr = spawn_server(layer).await;
    let mut stream = raw_handshake(addr, "/ws").await;
    let secret = b"SECRET-PAYLOAD-42";
    stream
        .write_all(&masked_frame(true, OpCode::Text, secret))
        .await
        .unwrap();
    let echoed = within("echo", read_frame(&mut stream)).await;
    assert_eq!(&echoed.payload[..], secret);
    // A protocol error: an unmasked client frame, closed with 1002.
    stream
        .write_all(&unmasked_frame(true, OpCode::Text, b"x"))
        .await
        .unwrap();
    let close = within("close", read_frame(&mut stream)).await;
    assert_eq!(close.close_code(), 1002);
    within("connection end", async {
        loop {
            let ended = recorder
                .recorded
                .lock()
                .unwrap()
                .events
                .iter()
                .any(|e| e.iter().any(|f| f.contains("WebSocket connection ended")));
            if ended {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;

    let recorded = recorder.recorded.lock().unwrap();
    let span = recorded
        .spans
        .iter()
        .find(|(name, _)| name == "websocket")
        .expect("a websocket span");
    assert!(span.1.contains(&"path=/ws".to_owned()), "{:?}", span.1);
    let peer = recorded
        .spans
        .iter()
        .flat_map(|(_, fields)| fields)
        .find(|f| f.starts_with("peer="))
        .expect("the peer address is recorded");
    assert!(peer.starts_with("peer=127.0.0.1:"), "{peer}");
    let error_event = recorded
        .events
        .iter()
        .find(|e| e.iter().any(|f| f.contains("WebSocket protocol error")))
        .expect("a protocol error event");
    assert!(
        error_event.iter().any(|f| f.contains("1002")),
        "{error_event:?}"
    );
    let everything = format!("{:?} {:?}", recorded.spans, recorded.events);
    assert!(
        !everything.contains("SECRET-PAYLOAD"),
        "message contents were logged: {everything}"
    );
}
