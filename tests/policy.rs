//! Handshake policy over a real server: the origin check (default, allowlist, custom, opt-out),
//! subprotocol selection, the accept hooks (refusals, extra response headers; the async one's
//! wait, timeout, shutdown and departing clients) and custom rejection responses.

// Without the `http2` feature the HTTP/2 tests are out, and some imports with them.
#![cfg_attr(not(feature = "http2"), allow(unused_imports))]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::{Layer, ServiceExt, service_fn};
use tower_websocket::handshake::{HandshakeRejection, OriginPolicy};
use tower_websocket::{
    CloseCode, Conn, GracefulShutdown, Handler, Message, Rejection, WebSocketUpgradeLayer,
};

use support::h2::{connect_request, h2_client, h2_websocket};
use support::{
    ACCEPT, KEY, ResponseHead, connect, echo, handshake_request, http_exchange, inner,
    spawn_server, spawn_service, within, ws_url,
};

/// The response head and body to a handshake for `/ws` with `extra` headers.
async fn handshake(addr: std::net::SocketAddr, extra: &[(&str, &str)]) -> (ResponseHead, String) {
    let mut stream = connect(addr).await;
    support::write_raw(&mut stream, handshake_request("/ws", extra).as_bytes()).await;
    let head = support::read_response_head(&mut stream).await;
    if head.status == 101 {
        return (head, String::new());
    }
    let body = support::read_body(&mut stream, &head).await;
    (head, body)
}

async fn status_for_origin<H: Handler>(
    layer: WebSocketUpgradeLayer<H>,
    origins: &[&str],
) -> Vec<u16> {
    let addr = spawn_server(layer).await;
    let mut statuses = Vec::new();
    for origin in origins {
        statuses.push(handshake(addr, &[("Origin", origin)]).await.0.status);
    }
    statuses
}

#[tokio::test]
async fn origin_default_is_the_same_host() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await;

    // A browser on the same host (the raw client sends `Host: localhost`).
    let (head, _) = handshake(addr, &[("Origin", "http://localhost")]).await;
    assert_eq!(head.status, 101, "{head:?}");
    // tungstenite sends `Host: 127.0.0.1:PORT`; the page's origin matches it.
    let mut request = ws_url(addr, "/ws").into_client_request().unwrap();
    let origin = HeaderValue::from_str(&format!("http://{addr}")).unwrap();
    request.headers_mut().insert("origin", origin);
    assert!(within("same origin", connect_async(request)).await.is_ok());
    // No Origin: not a browser.
    assert_eq!(handshake(addr, &[]).await.0.status, 101);

    for origin in [
        "https://evil.example",
        "http://localhost:8080",
        "http://localhost.evil.example",
        "null",
    ] {
        let (head, body) = handshake(addr, &[("Origin", origin)]).await;
        assert_eq!(head.status, 403, "{origin}: {head:?}");
        assert_eq!(
            head.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(body.contains("Origin"), "{body}");
    }
}

#[tokio::test]
async fn origin_allowlist_custom_predicate_and_opt_out() {
    let origins = [
        "http://localhost",
        "https://app.example",
        "https://a.trusted.example",
        "https://evil.example",
    ];
    let allowlist = OriginPolicy::same_host()
        .allow_origins(["https://app.example"])
        .unwrap();
    let layer = WebSocketUpgradeLayer::new(echo).origin(allowlist);
    assert_eq!(
        status_for_origin(layer, &origins).await,
        [101, 101, 403, 403]
    );

    // A custom predicate replaces the same-host rule (and sees the request too).
    let custom = OriginPolicy::custom(|origin, request| {
        origin.ends_with(".trusted.example") && request.uri.path() == "/ws"
    });
    let layer = WebSocketUpgradeLayer::new(echo).origin(custom);
    assert_eq!(
        status_for_origin(layer, &origins).await,
        [403, 403, 101, 403]
    );

    let layer = WebSocketUpgradeLayer::new(echo).origin(OriginPolicy::allow_any_origin());
    assert_eq!(
        status_for_origin(layer, &origins).await,
        [101, 101, 101, 101]
    );
}

/// Sends the negotiated subprotocol (or `-`) and closes.
async fn tell_protocol(mut conn: Conn) {
    let protocol = conn.protocol().unwrap_or("-").to_owned();
    if conn.send(Message::text(protocol)).await.is_ok() {
        let _ = conn.close_with(CloseCode::NORMAL, "").await;
    }
}

#[tokio::test]
async fn subprotocols_preference_list_and_selection_hook() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let layer = WebSocketUpgradeLayer::new(tell_protocol)
        .protocols(["a", "b"])
        .on_handshake(move |handshake| {
            let offered: Vec<String> = handshake.offered_protocols().map(str::to_owned).collect();
            let preselected = handshake.protocol().map(str::to_owned);
            record.lock().unwrap().push((offered, preselected));
            let request = handshake.request();
            if request.headers.contains_key("x-client-order") {
                // The client's order among the server's protocols, instead of the server's.
                let choice = handshake
                    .offered_protocols()
                    .find(|p| *p == "a" || *p == "b");
                if let Some(choice) = choice {
                    handshake.set_protocol(choice).unwrap();
                }
            }
            if request.headers.contains_key("x-try-unoffered") {
                assert!(handshake.set_protocol("c").is_err());
            }
            Ok(())
        });
    let addr = spawn_server(layer).await;

    // Extra request headers, and the subprotocol expected in the answer.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
    let cases: [Case<'_>; 4] = [
        (&[("Sec-WebSocket-Protocol", "b, a")], Some("a")),
        (
            &[("Sec-WebSocket-Protocol", "b, a"), ("X-Client-Order", "1")],
            Some("b"),
        ),
        (
            &[("Sec-WebSocket-Protocol", "x, b"), ("X-Try-Unoffered", "1")],
            Some("b"),
        ),
        (&[("X-Client-Order", "1")], None),
    ];
    for (extra, expected) in cases {
        let mut request = ws_url(addr, "/ws").into_client_request().unwrap();
        for (name, value) in extra {
            request
                .headers_mut()
                .insert(*name, HeaderValue::from_static(value));
        }
        let (mut ws, response) = within("handshake", connect_async(request)).await.unwrap();
        let answered = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap());
        assert_eq!(answered, expected, "{extra:?}");
        let told = within("protocol", ws.next()).await.unwrap().unwrap();
        assert_eq!(told, WsMessage::text(expected.unwrap_or("-")), "{extra:?}");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0],
        (vec!["b".to_owned(), "a".to_owned()], Some("a".to_owned()))
    );
    assert_eq!(seen[3], (vec![], None));
}

#[tokio::test]
async fn accept_hook_refuses_with_any_status_and_the_handler_never_runs() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let handler = move |conn: Conn| {
        counted.fetch_add(1, Ordering::SeqCst);
        echo(conn)
    };
    let layer = WebSocketUpgradeLayer::new(handler).on_handshake(|handshake| {
        let headers = &handshake.request().headers;
        if headers.contains_key("x-busy") {
            let refusal = handshake.reject(StatusCode::TOO_MANY_REQUESTS, "slow down");
            return Err(refusal.header(RETRY_AFTER, "5"));
        }
        if !headers.contains_key("x-token") {
            // Any response will do, not only `reject`'s.
            let mut response = http::Response::new(Bytes::from_static(b"log in first"));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Err(response.into());
        }
        if headers.contains_key("x-confused") {
            // Not a refusal: the layer answers 500 instead.
            return Err(handshake.reject(StatusCode::OK, "fine?"));
        }
        Ok(())
    });
    let addr = spawn_server(layer).await;

    let (head, body) = handshake(addr, &[]).await;
    assert_eq!(head.status, 401, "{head:?}");
    assert_eq!(head.header("www-authenticate"), Some("Bearer"));
    assert_eq!(body, "log in first");
    let (head, body) = handshake(addr, &[("X-Token", "t"), ("X-Busy", "1")]).await;
    assert_eq!((head.status, head.header("retry-after")), (429, Some("5")));
    assert_eq!(body, "slow down");
    let (head, _) = handshake(addr, &[("X-Token", "t"), ("X-Confused", "1")]).await;
    assert_eq!(head.status, 500, "{head:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 0, "the handler ran");

    let (head, _) = handshake(addr, &[("X-Token", "t")]).await;
    assert_eq!(head.status, 101, "{head:?}");
    within("the handler to start", async {
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[cfg(feature = "http2")]
#[tokio::test]
async fn accept_hook_adds_headers_to_the_101_and_the_http2_200() {
    let layer = WebSocketUpgradeLayer::new(echo).on_handshake(|handshake| {
        let headers = handshake.headers_mut();
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("session=abc; HttpOnly"),
        );
        headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
        headers.insert("x-served-by", HeaderValue::from_static("policy-test"));
        // Headers of the handshake itself are not the hook's to set: ignored.
        headers.insert("sec-websocket-accept", HeaderValue::from_static("forged"));
        headers.insert("connection", HeaderValue::from_static("close"));
        Ok(())
    });
    let addr = spawn_server(layer).await;

    let (head, _) = handshake(addr, &[]).await;
    assert_eq!(head.status, 101, "{head:?}");
    let cookies: Vec<_> = head
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(cookies, ["session=abc; HttpOnly", "theme=dark"]);
    assert_eq!(head.header("x-served-by"), Some("policy-test"));
    assert_eq!(head.header("sec-websocket-accept"), Some(ACCEPT));
    assert!(
        head.header("connection")
            .unwrap()
            .eq_ignore_ascii_case("upgrade")
    );

    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let (head, _ws) = h2_websocket(&mut h2, request).await.expect("200");
    assert_eq!(head.headers.get_all(SET_COOKIE).iter().count(), 2);
    assert_eq!(head.headers["x-served-by"], "policy-test");
    assert!(head.headers.get("sec-websocket-accept").is_none());
}

#[tokio::test]
async fn what_the_accept_hook_learns_reaches_the_handler_in_the_request_extensions() {
    let layer = WebSocketUpgradeLayer::new(tell_protocol_and_user).on_handshake(|handshake| {
        let known = handshake.request().headers.contains_key("authorization");
        handshake
            .extensions_mut()
            .insert(User(if known { "bob" } else { "guest" }));
        Ok(())
    });
    let addr = spawn_server(layer).await;
    let mut request = ws_url(addr, "/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_static("Bearer bob-token"),
    );
    let (mut ws, _) = within("handshake", connect_async(request)).await.unwrap();
    let told = within("user", ws.next()).await.unwrap().unwrap();
    assert_eq!(told, WsMessage::text("- bob"));
}

#[tokio::test]
async fn rejection_hook_replaces_the_layers_responses() {
    let layer = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .on_rejection(|rejection, request| {
            let body = format!(
                r#"{{"status":{},"reason":{:?},"path":{:?}}}"#,
                rejection.status().as_u16(),
                rejection.reason(),
                request.uri.path()
            );
            let mut response = http::Response::new(Bytes::from(body));
            *response.status_mut() = rejection.status();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        });
    let addr = spawn_server(layer).await;

    let (head, body) = handshake(addr, &[("Origin", "https://evil.example")]).await;
    assert_eq!(head.status, 403, "{head:?}");
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert!(
        body.starts_with(r#"{"status":403,"reason":"WebSocket connections"#),
        "{body}"
    );
    assert!(body.ends_with(r#""path":"/ws"}"#), "{body}");

    let request = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let (head, body) = http_exchange(addr, request).await;
    assert_eq!(head.status, 400, "{head:?}");
    assert!(body.contains("Sec-WebSocket-Key"), "{body}");
}

#[tokio::test]
async fn rejections_ride_along_in_the_response_extensions() {
    let service = WebSocketUpgradeLayer::new(echo).layer(service_fn(inner::<Empty<Bytes>>));
    let request = Request::get("/ws")
        .header("host", "localhost")
        .header("origin", "https://evil.example")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", KEY)
        .header("sec-websocket-version", "13")
        .body(Empty::new())
        .unwrap();
    let response = within("oneshot", service.oneshot(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.extensions().get::<Rejection>(),
        Some(&Rejection::Handshake(HandshakeRejection::OriginNotAllowed))
    );
}

#[tokio::test]
async fn a_rejection_hook_cannot_turn_a_refusal_into_an_acceptance() {
    // A 101 (or any 2xx) from the rejection hook would tell the client it was accepted, with
    // nobody taking the connection over: answered 500 instead, as for the accept hook.
    for status in [StatusCode::SWITCHING_PROTOCOLS, StatusCode::OK] {
        let layer = WebSocketUpgradeLayer::new(echo).on_rejection(move |_rejection, _request| {
            let mut response = http::Response::new(Bytes::from_static(b"welcome"));
            *response.status_mut() = status;
            response
        });
        let addr = spawn_server(layer).await;
        let (head, body) = handshake(addr, &[("Origin", "https://evil.example")]).await;
        assert_eq!(head.status, 500, "{status}: {head:?}");
        assert!(!body.contains("welcome"), "{body}");
    }
}

/// An extension put in the request by middleware before the layer.
#[derive(Clone, Debug, PartialEq)]
struct Tenant(&'static str);

/// A token service behind a channel, as a hook would call one over the network: it answers
/// after a short wait with the user a token belongs to, if any.
fn token_service() -> mpsc::Sender<(String, oneshot::Sender<Option<&'static str>>)> {
    let (requests, mut incoming) = mpsc::channel::<(String, oneshot::Sender<_>)>(8);
    tokio::spawn(async move {
        while let Some((token, reply)) = incoming.recv().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = reply.send((token == "Bearer alice-token").then_some("alice"));
        }
    });
    requests
}

/// Sets `flag` when dropped: tells whether a hook's future was dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Waits until `flag` is set.
async fn until_set(what: &str, flag: &AtomicBool) {
    within(what, async {
        while !flag.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
}

/// What the accept hook learned about the client, for the handler.
#[derive(Clone, Debug)]
struct User(&'static str);

/// Sends the negotiated subprotocol and the user the accept hook found (or `-`), and closes.
async fn tell_protocol_and_user(mut conn: Conn) {
    let protocol = conn.protocol().unwrap_or("-");
    let user = conn
        .request()
        .extensions
        .get::<User>()
        .map_or("-", |user| user.0);
    let told = Message::text(format!("{protocol} {user}"));
    if conn.send(told).await.is_ok() {
        let _ = conn.close_with(CloseCode::NORMAL, "").await;
    }
}

#[tokio::test]
async fn async_accept_hook_asks_a_token_service_then_accepts_or_refuses() {
    let tokens = token_service();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let handler = move |conn: Conn| {
        counted.fetch_add(1, Ordering::SeqCst);
        tell_protocol_and_user(conn)
    };
    let layer = WebSocketUpgradeLayer::new(handler)
        .protocols(["a", "b"])
        .on_handshake_async(move |mut handshake| {
            let tokens = tokens.clone();
            async move {
                let headers = &handshake.request().headers;
                let token = headers.get("authorization").and_then(|v| v.to_str().ok());
                let token = token.unwrap_or_default().to_owned();
                let (reply, user) = oneshot::channel();
                let asked = tokens.send((token, reply)).await;
                let Some(user) = asked.ok().and(user.await.ok()).flatten() else {
                    let refusal = handshake.reject(StatusCode::UNAUTHORIZED, "log in first");
                    return Err(refusal.header(WWW_AUTHENTICATE, "Bearer"));
                };
                // What the sync hook can do, after the wait: the request's extensions, the
                // client's order among the server's protocols, response headers.
                let tenant = handshake.request().extensions.get::<Tenant>().cloned();
                assert_eq!(handshake.protocol(), Some("a"));
                let choice = handshake
                    .offered_protocols()
                    .find(|p| ["a", "b"].contains(p));
                if let Some(choice) = choice.map(str::to_owned) {
                    handshake.set_protocol(&choice).unwrap();
                }
                assert!(handshake.set_protocol("unoffered").is_err());
                let headers = handshake.headers_mut();
                headers.insert("x-user", HeaderValue::from_static(user));
                if let Some(Tenant(tenant)) = tenant {
                    headers.insert("x-tenant", HeaderValue::from_static(tenant));
                }
                // And for the handler: who this is.
                handshake.extensions_mut().insert(User(user));
                Ok(handshake)
            }
        });
    let service =
        layer
            .layer(service_fn(inner::<Incoming>))
            .map_request(|mut request: Request<Incoming>| {
                request.extensions_mut().insert(Tenant("acme"));
                request
            });
    let addr = spawn_service(service).await;

    let mut request = ws_url(addr, "/ws").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "authorization",
        HeaderValue::from_static("Bearer alice-token"),
    );
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("b, a"));
    let (mut ws, response) = within("handshake", connect_async(request)).await.unwrap();
    assert_eq!(response.headers()["x-user"], "alice");
    assert_eq!(response.headers()["x-tenant"], "acme");
    assert_eq!(response.headers()["sec-websocket-protocol"], "b");
    let told = within("protocol", ws.next()).await.unwrap().unwrap();
    assert_eq!(told, WsMessage::text("b alice"));

    let (head, body) = handshake(addr, &[("Authorization", "Bearer mallory")]).await;
    assert_eq!(head.status, 401, "{head:?}");
    assert_eq!(head.header("www-authenticate"), Some("Bearer"));
    assert_eq!(body, "log in first");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the handler ran for a refusal"
    );
}

#[tokio::test]
async fn async_accept_hook_that_never_decides_hits_the_handshake_timeout() {
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = dropped.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let layer = WebSocketUpgradeLayer::new(echo)
        .max_connections(1)
        .handshake_timeout(Duration::from_millis(100))
        .on_handshake_async(move |_handshake| {
            let _guard = SetOnDrop(guard.clone());
            async move {
                let _guard = _guard;
                std::future::pending().await
            }
        })
        .on_rejection(move |rejection, request| {
            record.lock().unwrap().push(*rejection);
            rejection.response_for(request.version)
        });
    let addr = spawn_server(layer).await;

    let started = Instant::now();
    let (head, body) = handshake(addr, &[]).await;
    assert_eq!(head.status, 503, "{head:?}");
    assert!(body.starts_with("WebSocket handshake timed out"), "{body}");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(dropped.load(Ordering::SeqCst), "the hook's future was kept");
    // The place under the cap was given back: the next one times out too, not "too many".
    let (head, body) = handshake(addr, &[]).await;
    assert_eq!(head.status, 503, "{head:?}");
    assert!(body.starts_with("WebSocket handshake timed out"), "{body}");
    assert_eq!(
        *seen.lock().unwrap(),
        [Rejection::HandshakeTimeout, Rejection::HandshakeTimeout]
    );
}

#[tokio::test]
async fn a_shutdown_during_the_async_hook_answers_503_at_once() {
    let shutdown = GracefulShutdown::new();
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let layer = WebSocketUpgradeLayer::new(echo)
        .graceful_shutdown(&shutdown)
        .handshake_timeout(Duration::from_secs(60))
        .on_handshake_async(move |_handshake| {
            flag.store(true, Ordering::SeqCst);
            std::future::pending()
        });
    let addr = spawn_server(layer).await;

    let answer = tokio::spawn(async move { handshake(addr, &[]).await });
    until_set("the hook to start", &started).await;
    // The waiting handshake counts as live, so the shutdown waits for it; it ends at once.
    assert_eq!(shutdown.live_connections(), 1);
    assert!(within("shutdown", shutdown.shutdown(Duration::from_secs(5))).await);
    let (head, body) = within("the 503", answer).await.unwrap();
    assert_eq!(head.status, 503, "{head:?}");
    assert!(body.starts_with("server shutting down"), "{body}");
}

#[tokio::test]
async fn a_client_that_leaves_mid_hook_drops_the_hook_and_its_place() {
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (guard, flag) = (dropped.clone(), started.clone());
    let layer = WebSocketUpgradeLayer::new(echo)
        .max_connections(1)
        .handshake_timeout(Duration::from_secs(60))
        .on_handshake_async(move |handshake| {
            let wait = handshake.request().headers.contains_key("x-wait");
            let guard = wait.then(|| SetOnDrop(guard.clone()));
            flag.store(wait, Ordering::SeqCst);
            async move {
                let _guard = guard;
                if wait {
                    std::future::pending::<()>().await;
                }
                Ok(handshake)
            }
        });
    let addr = spawn_server(layer).await;

    let mut stream = connect(addr).await;
    let request = handshake_request("/ws", &[("X-Wait", "1")]);
    support::write_raw(&mut stream, request.as_bytes()).await;
    until_set("the hook to start", &started).await;
    drop(stream);
    until_set("the hook's future to be dropped", &dropped).await;
    // Its place under the cap of one is free again.
    let (head, _) = handshake(addr, &[]).await;
    assert_eq!(head.status, 101, "{head:?}");
}

#[cfg(feature = "http2")]
#[tokio::test]
async fn async_accept_hook_over_http2_adds_headers_to_the_200() {
    let layer = WebSocketUpgradeLayer::new(echo).on_handshake_async(|mut handshake| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(handshake.is_extended_connect());
        let headers = handshake.headers_mut();
        headers.insert(SET_COOKIE, HeaderValue::from_static("session=abc"));
        Ok(handshake)
    });
    let addr = spawn_server(layer).await;
    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let (head, mut ws) = h2_websocket(&mut h2, request).await.expect("200");
    assert_eq!(head.headers[SET_COOKIE], "session=abc");
    within("send", ws.send(WsMessage::text("over h2")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("over h2"));
}

/// hyper's HTTP/2 can be compiled in by another crate while this one is built without its
/// `http2` feature: an extended CONNECT is then refused with a clear 501, not passed to the
/// inner service (whose 2xx would look like an accepted tunnel).
#[cfg(not(feature = "http2"))]
#[tokio::test]
async fn without_the_http2_feature_an_http2_websocket_is_refused_with_501() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo)).await;
    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let refused = h2_websocket(&mut h2, request).await.expect_err("refused");
    assert_eq!(refused.status(), StatusCode::NOT_IMPLEMENTED);
}
