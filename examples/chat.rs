//! A chat room on plain hyper: `GET /` serves the page, `/ws` is the room.
//!
//! ```sh
//! cargo run --release --example chat -- 127.0.0.1:3000
//! ```
//!
//! Open `http://127.0.0.1:3000/?name=alice` in one tab and `?name=bob` in another (or pick a
//! name in the form). Joins, leaves and every message are shown to everyone, the sender too.
//!
//! The protocol, so any WebSocket client can join:
//!
//! - The name comes from `/ws?name=…` or, without that parameter, from the first text message.
//!   Control, bidi-override and zero-width characters are removed, whitespace runs become one
//!   space, and it is cut to [`MAX_NAME_CHARS`]; a name that ends up empty is refused with close
//!   code 1008.
//! - Every later text message is a chat line, at most [`MAX_TEXT_CHARS`] characters; a longer
//!   one is refused with an `error` event to its sender alone, and the connection stays open.
//!   A message over [`MAX_MESSAGE_BYTES`] breaks the protocol limit instead, and the connection
//!   is closed with 1009.
//! - The server sends JSON text frames: `{"type":"welcome","name":…}` to the newcomer, then to
//!   everyone `{"type":"join"|"leave","name":…,"online":…}` and
//!   `{"type":"message","name":…,"text":…}`; to one connection only, `{"type":"error","text":…}`
//!   and `{"type":"lagged","missed":…}`.
//!
//! One `tokio::sync::broadcast` channel carries the room's events, each encoded once and shared
//! by every connection (a clone is a reference count). A connection that falls more than
//! [`ROOM_CAPACITY`] events behind (a slow reader) skips ahead to the oldest one still kept and
//! is told how many it missed, instead of holding the room back or being dropped silently. One
//! that does not take a write for [`SEND_TIMEOUT`] is disconnected.

mod support;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tower::util::ServiceFn;
use tower::{Layer, service_fn};
use tower_websocket::{
    CloseCode, Config, Conn, DeflateConfig, Error, Handler, Message, PreparedMessage,
    WebSocketUpgrade, WebSocketUpgradeLayer, server,
};

/// Longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 24;
/// Longest chat line accepted, in characters; longer ones are refused.
pub const MAX_TEXT_CHARS: usize = 500;
/// The protocol limit on any incoming message: well above [`MAX_TEXT_CHARS`] of 4-byte
/// characters, so that only clients that ignore the protocol hit it.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// Events the room keeps for connections that are behind.
pub const ROOM_CAPACITY: usize = 256;
/// How long a connection may take to accept a write before it is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client without `?name=` has to send its name.
pub const NAME_TIMEOUT: Duration = Duration::from_secs(30);
/// Most queued events written with one flush.
const BATCH: usize = 64;

/// What one connection gets from the room's channel: a frame encoded once (and compressed
/// once, for clients that negotiated permessage-deflate), shared by all.
pub type Frame = PreparedMessage;

/// Something everyone in the room is told.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// `name` joined; `online` people are in the room now.
    Join { name: &'a str, online: usize },
    /// `name` left; `online` people remain.
    Leave { name: &'a str, online: usize },
    /// `name` said `text`.
    Message { name: &'a str, text: &'a str },
}

impl Event<'_> {
    fn to_json(self) -> Value {
        match self {
            Event::Join { name, online } => json!({"type": "join", "name": name, "online": online}),
            Event::Leave { name, online } => {
                json!({"type": "leave", "name": name, "online": online})
            }
            Event::Message { name, text } => json!({"type": "message", "name": name, "text": text}),
        }
    }
}

/// Encodes `event` once, as the frame every connection will send.
///
/// The only place that decides what the room's channel carries: the encoded JSON as a text
/// message, whose clones share one buffer.
pub fn broadcast_frame(event: Event<'_>) -> Frame {
    PreparedMessage::new(Message::text(event.to_json().to_string()))
}

/// A frame for one connection only (welcome, error, lagged).
fn private_frame(value: Value) -> Message {
    Message::text(value.to_string())
}

/// The chat room: one broadcast channel and a head count. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Room {
    events: broadcast::Sender<Frame>,
    /// Held while a join or leave is counted and published, so that the counts arrive in order.
    online: Arc<Mutex<usize>>,
}

impl Room {
    /// An empty room that keeps up to `capacity` events for connections that are behind.
    pub fn new(capacity: usize) -> Self {
        Self {
            events: broadcast::Sender::new(capacity),
            online: Arc::new(Mutex::new(0)),
        }
    }

    /// Tells everyone in the room.
    pub fn publish(&self, event: Event<'_>) {
        // No receivers means nobody is there to tell.
        let _ = self.events.send(broadcast_frame(event));
    }

    /// Announces `name` and returns the guard that announces the leave when dropped (when the
    /// connection's task ends, however it ends).
    fn enter(&self, name: String) -> Presence {
        let mut online = self.online.lock().unwrap_or_else(PoisonError::into_inner);
        *online += 1;
        self.publish(Event::Join {
            name: &name,
            online: *online,
        });
        drop(online);
        Presence {
            room: self.clone(),
            name,
        }
    }
}

/// One person in the room; dropping it announces that they left.
struct Presence {
    room: Room,
    name: String,
}

impl Drop for Presence {
    fn drop(&mut self) {
        let room = &self.room;
        let mut online = room.online.lock().unwrap_or_else(PoisonError::into_inner);
        *online = online.saturating_sub(1);
        room.publish(Event::Leave {
            name: &self.name,
            online: *online,
        });
    }
}

/// Characters that are never shown: invisible ones and those that reorder the text around them
/// (bidi overrides and isolates), which would let a name or message disguise itself. The
/// zero-width joiners that emoji sequences and some scripts need are kept.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// `raw` without hidden characters, with runs of whitespace (control whitespace included)
/// turned into one space and trimmed.
fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for word in raw.split(|c: char| c.is_whitespace() || c.is_control()) {
        let end = out.len();
        if end > 0 {
            out.push(' ');
        }
        let start = out.len();
        out.extend(word.chars().filter(|&c| !is_hidden(c)));
        if out.len() == start {
            out.truncate(end); // nothing visible: no word, no separator
        }
    }
    out
}

/// A displayable name from what the user sent: cleaned and cut to [`MAX_NAME_CHARS`]; `None`
/// if nothing is left.
pub fn sanitize_name(raw: &str) -> Option<String> {
    let cleaned = clean(raw);
    let name: String = cleaned.chars().take(MAX_NAME_CHARS).collect();
    let name = name.trim_end();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Why a chat line is not passed on.
fn check_text(raw: &str) -> Result<Option<String>, String> {
    let chars = raw.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(format!(
            "message refused: {chars} characters, the limit is {MAX_TEXT_CHARS}"
        ));
    }
    let text = clean(raw);
    Ok((!text.is_empty()).then_some(text))
}

/// The value of the first `name=` parameter of a query string, percent-decoded (`+` is a
/// space); `Some(Err)` if it is not valid percent-encoded UTF-8.
fn name_param(query: Option<&str>) -> Option<Result<String, ()>> {
    let raw = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("name="))?;
    Some(percent_decode(raw))
}

fn percent_decode(raw: &str) -> Result<String, ()> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = rest.get(..2).ok_or(())?;
                let hex = std::str::from_utf8(hex).map_err(|_| ())?;
                bytes.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
                rest = &rest[2..];
            }
            _ => bytes.push(b),
        }
    }
    String::from_utf8(bytes).map_err(|_| ())
}

/// How the name step ended.
enum Named {
    Yes(String),
    Refused(&'static str),
    Gone,
}

/// The name from the query string or, without one, from the first text message.
async fn read_name(conn: &mut Conn) -> Named {
    let raw = match name_param(conn.request().uri.query()) {
        Some(Ok(raw)) => raw,
        Some(Err(())) => return Named::Refused("the name is not valid percent-encoded UTF-8"),
        None => match tokio::time::timeout(NAME_TIMEOUT, first_text(conn)).await {
            Ok(Ok(text)) => text,
            Ok(Err(named)) => return named,
            Err(_elapsed) => return Named::Refused("no name was sent in time"),
        },
    };
    match sanitize_name(&raw) {
        Some(name) => Named::Yes(name),
        None => Named::Refused("a name is required"),
    }
}

/// The first text message; otherwise how the name step ends.
async fn first_text(conn: &mut Conn) -> Result<String, Named> {
    loop {
        match conn.recv().await {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Binary(_))) => {
                return Err(Named::Refused("the name must be a text message"));
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(Named::Gone),
            // Pings (already answered), pongs, and any kind of message added later.
            Some(Ok(_)) => {}
        }
    }
}

/// One connection: pick the name, join, then relay both ways until either side goes.
pub async fn chat(room: Room, mut conn: Conn) -> Result<(), Error> {
    let name = match read_name(&mut conn).await {
        Named::Yes(name) => name,
        Named::Refused(reason) => {
            return conn.close_with(CloseCode::POLICY_VIOLATION, reason).await;
        }
        Named::Gone => return Ok(()),
    };
    // Subscribe before joining, so that the newcomer sees its own join too.
    let mut events = room.events.subscribe();
    conn.feed(private_frame(json!({"type": "welcome", "name": name})))?;
    let presence = room.enter(name);
    loop {
        tokio::select! {
            // Both are cancel safe: whichever loses the race keeps its message for next time.
            incoming = conn.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match check_text(&text) {
                    Ok(Some(text)) => room.publish(Event::Message {
                        name: &presence.name,
                        text: &text,
                    }),
                    Ok(None) => {}
                    Err(reason) => send(&mut conn, error_frame(&reason)).await?,
                },
                Some(Ok(Message::Binary(_))) => {
                    send(&mut conn, error_frame("binary messages are not supported")).await?;
                }
                // The peer closed (the reply is already sent), or broke the protocol.
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Err(e)) => return Err(e),
                // Pings (already answered), pongs, and any kind of message added later.
                Some(Ok(_)) => {}
            },
            event = events.recv() => {
                if !deliver(&mut conn, &mut events, event).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Queues `event` and whatever else the room already has waiting (up to [`BATCH`]), then writes
/// them all with one flush. `false` once the room is gone.
async fn deliver(
    conn: &mut Conn,
    events: &mut broadcast::Receiver<Frame>,
    mut event: Result<Frame, RecvError>,
) -> Result<bool, Error> {
    for queued in 1.. {
        match event {
            Ok(frame) => conn.feed_prepared(&frame)?,
            // Skipped ahead to the oldest event still kept: say how many were lost.
            Err(RecvError::Lagged(missed)) => {
                conn.feed(private_frame(json!({"type": "lagged", "missed": missed})))?;
            }
            Err(RecvError::Closed) => return Ok(false),
        }
        if queued == BATCH {
            break; // the rest waits for the next turn, after the client's messages
        }
        event = match events.try_recv() {
            Ok(frame) => Ok(frame),
            Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
            Err(TryRecvError::Empty) => break,
        };
    }
    flush(conn).await?;
    Ok(true)
}

fn error_frame(text: &str) -> Message {
    private_frame(json!({"type": "error", "text": text}))
}

async fn send(conn: &mut Conn, message: Message) -> Result<(), Error> {
    conn.feed(message)?;
    flush(conn).await
}

/// Writes everything queued; a peer that does not read for [`SEND_TIMEOUT`] gets
/// `Error::WriteTimeout` (the config's write timeout).
async fn flush(conn: &mut Conn) -> Result<(), Error> {
    conn.flush().await
}

type PageResult = Result<Response<Full<Bytes>>, Infallible>;
/// The plain hyper service behind the layer.
type Pages = ServiceFn<fn(Request<Incoming>) -> Ready<PageResult>>;

/// The page at `/`; 404 for everything else.
fn page(request: Request<Incoming>) -> Ready<PageResult> {
    let response = if request.uri().path() == "/" {
        Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::new(Bytes::from_static(PAGE.as_bytes())))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found\n")))
    };
    ready(Ok(response.unwrap_or_default()))
}

/// The page, with the room on `/ws`.
pub fn app(room: Room) -> WebSocketUpgrade<Pages, impl Handler> {
    // Keepalive (pings after 30 s of silence, dropped after 60 s) is on by default, so a
    // dead peer does not stay "online".
    let config = Config::new()
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .write_timeout(Some(SEND_TIMEOUT));
    WebSocketUpgradeLayer::new(move |conn| chat(room.clone(), conn))
        .path("/ws")
        .config(config)
        // Browsers offer permessage-deflate; compress chat lines over 256 bytes.
        .deflate(DeflateConfig::new().threshold(256))
        .layer(service_fn(page as fn(_) -> _))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = support::listen("127.0.0.1:3000", "chat server: open http://").await?;
    let app = app(Room::new(ROOM_CAPACITY));
    server::serve(listener, app)
        .with_graceful_shutdown(support::ctrl_c())
        .await
}

/// The page: every piece of user text goes into the document through `textContent`.
pub const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tower-websocket chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  #messages { list-style: none; border: 1px solid #ccc; height: 20rem; overflow-y: auto;
              margin: .5rem 0; padding: .5rem; white-space: pre-wrap; overflow-wrap: anywhere; }
  .name { font-weight: bold; } .mine .name { color: #064; }
  .join, .leave, .info { color: #888; font-style: italic; } .error { color: #a00; }
  form { display: flex; gap: .5rem; } form input { flex: 1; }
  #status { color: #555; } [hidden] { display: none !important; }
</style>
<h1>tower-websocket chat</h1>
<form id="join">
  <input id="name" maxlength="24" placeholder="Pick a name" autocomplete="off" required autofocus>
  <button id="join-button">Join</button>
</form>
<div id="room" hidden>
  <div id="status">connecting…</div>
  <ul id="messages"></ul>
  <form id="send">
    <input id="text" maxlength="500" placeholder="Type a message" autocomplete="off">
    <button id="send-button">Send</button>
  </form>
</div>
<script>
  "use strict";
  const $ = (id) => document.getElementById(id);
  const messages = $("messages");
  let me = null;

  // Appends a line; user text only ever goes in through textContent.
  function show(kind, text, name) {
    const line = document.createElement("li");
    line.className = kind;
    if (name !== undefined) {
      if (name === me) line.classList.add("mine");
      const who = document.createElement("span");
      who.className = "name";
      who.textContent = name;
      line.append(who, ": ");
    }
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    line.append(body);
    messages.append(line);
    messages.scrollTop = messages.scrollHeight;
  }

  function join(name) {
    $("join").hidden = true;
    $("room").hidden = false;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws?name=${encodeURIComponent(name)}`);
    ws.onmessage = (e) => {
      let event;
      try { event = JSON.parse(e.data); } catch { return; }
      switch (event.type) {
        case "welcome":
          me = event.name;
          $("status").textContent = `You are ${me}.`;
          history.replaceState(null, "", `?name=${encodeURIComponent(me)}`);
          break;
        case "join": show("join", `${event.name} joined (${event.online} online)`); break;
        case "leave": show("leave", `${event.name} left (${event.online} online)`); break;
        case "message": show("message", event.text, event.name); break;
        case "lagged": show("info", `(missed ${event.missed} events)`); break;
        case "error": show("error", event.text); break;
      }
    };
    // What the browser and the server agreed (e.g. permessage-deflate), for the curious.
    ws.onopen = () => { document.body.dataset.extensions = ws.extensions; };
    ws.onclose = (e) => {
      $("status").textContent = `Disconnected (${e.code}${e.reason ? ": " + e.reason : ""}).`;
      $("text").disabled = $("send-button").disabled = true;
    };
    $("send").onsubmit = (e) => {
      e.preventDefault();
      const input = $("text");
      if (input.value.trim() && ws.readyState === WebSocket.OPEN) {
        ws.send(input.value);
        input.value = "";
      }
      input.focus();
    };
    $("text").focus();
  }

  const fromUrl = new URLSearchParams(location.search).get("name");
  if (fromUrl && fromUrl.trim()) {
    join(fromUrl);
  } else {
    $("join").onsubmit = (e) => {
      e.preventDefault();
      if ($("name").value.trim()) join($("name").value);
    };
  }
</script>
</html>
"#;
