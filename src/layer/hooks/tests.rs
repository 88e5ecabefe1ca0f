//! The hooks' types on their own: protocol choice, reserved headers, refusals, Debug.

use http::Request;

use super::*;

fn parts(protocols: &str) -> Parts {
    Request::get("/ws")
        .header("sec-websocket-protocol", protocols)
        .body(())
        .unwrap()
        .into_parts()
        .0
}

#[test]
fn debug_shows_header_names_but_no_credentials() {
    let mut request = parts("chat");
    let secret = HeaderValue::from_static("Bearer s3cret-token");
    request.headers.insert(header::AUTHORIZATION, secret);
    let mut handshake = Handshake::new(&request, None);
    let cookie = HeaderValue::from_static("session=s3cret-cookie");
    handshake.headers_mut().insert(header::SET_COOKIE, cookie);
    let failure = FailedUpgrade::unavailable(request.clone());
    let owned = OwnedHandshake::new(Arc::new(request.clone()), None);
    for shown in [
        format!("{handshake:?}"),
        format!("{failure:?}"),
        format!("{owned:?}"),
    ] {
        assert!(shown.contains("authorization"), "{shown}");
        assert!(shown.contains("/ws"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}

#[test]
fn set_protocol_only_accepts_offered_protocols() {
    let request = parts("chat.v2, chat.v1");
    let mut handshake = Handshake::new(&request, None);
    let offered: Vec<_> = handshake.offered_protocols().collect();
    assert_eq!(offered, ["chat.v2", "chat.v1"]);
    assert!(handshake.set_protocol("chat.v1").is_ok());
    assert_eq!(handshake.protocol(), Some("chat.v1"));
    let error = handshake.set_protocol("chat.v3").unwrap_err();
    assert!(error.to_string().contains("chat.v3"));
    assert!(handshake.set_protocol("CHAT.V1").is_err(), "exact match");
    assert_eq!(handshake.protocol(), Some("chat.v1"));
    handshake.clear_protocol();
    assert_eq!(handshake.protocol(), None);
    assert!(!handshake.is_extended_connect());
    let mut connect = request.clone();
    connect.method = Method::CONNECT;
    assert!(Handshake::new(&connect, None).is_extended_connect());
}

#[test]
fn the_owned_handshake_decides_as_the_borrowed_one_does() {
    let request = Arc::new(parts("chat.v2, chat.v1"));
    let mut handshake = OwnedHandshake::new(request.clone(), None);
    assert!(handshake.is_for(&request));
    assert!(!handshake.is_for(&Arc::new(parts("chat.v2"))));
    let offered: Vec<_> = handshake.offered_protocols().collect();
    assert_eq!(offered, ["chat.v2", "chat.v1"]);
    assert!(handshake.set_protocol("chat.v3").is_err());
    assert!(handshake.set_protocol("chat.v1").is_ok());
    assert_eq!(handshake.protocol(), Some("chat.v1"));
    handshake
        .headers_mut()
        .insert("x-user", HeaderValue::from_static("alice"));
    assert!(!handshake.is_extended_connect());
    let refusal = handshake.reject(StatusCode::FORBIDDEN, "no");
    assert_eq!(
        refusal.response().headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let answer = handshake.into_answer();
    assert_eq!(answer.protocol.unwrap(), "chat.v1");
    assert_eq!(answer.headers["x-user"], "alice");
    // The handshake gave its share of the request back.
    assert_eq!(Arc::strong_count(&request), 1);
}

#[test]
fn merge_skips_the_handshake_headers_and_keeps_repeats() {
    let mut extra = HeaderMap::new();
    extra.append("set-cookie", HeaderValue::from_static("a=1"));
    extra.append("set-cookie", HeaderValue::from_static("b=2"));
    extra.append("sec-websocket-accept", HeaderValue::from_static("forged"));
    extra.append("x-server", HeaderValue::from_static("demo"));
    let mut headers = HeaderMap::new();
    headers.insert("sec-websocket-accept", HeaderValue::from_static("real"));
    merge_headers(&mut headers, extra);
    let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(headers["sec-websocket-accept"], "real");
    assert_eq!(headers["x-server"], "demo");
}

#[test]
fn hook_rejections_below_300_become_500() {
    let request = parts("x");
    let handshake = Handshake::new(&request, None);
    let ok = handshake.reject(StatusCode::OK, "fine?");
    assert_eq!(
        check_hook_rejection(ok, "on_handshake").response().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let denied = handshake
        .reject(StatusCode::UNAUTHORIZED, "log in first")
        .header("www-authenticate", "Bearer")
        .header("bad name", "x");
    let denied = check_hook_rejection(denied, "on_handshake").into_response();
    assert_eq!(denied.headers()["www-authenticate"], "Bearer");
    assert_eq!(denied.headers().len(), 2, "{:?}", denied.headers());
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(denied.body(), "log in first");
}

#[test]
fn failed_upgrade_names_the_fix_and_keeps_the_source() {
    let request = parts("x");
    let failure = FailedUpgrade::after_response(request.clone(), "manual upgrade");
    assert!(failure.is_after_response());
    assert!(failure.to_string().contains("with_upgrades"), "{failure}");
    assert!(failure.source().is_some());
    let failure = FailedUpgrade::unavailable(request);
    assert!(!failure.is_after_response());
    assert!(
        failure
            .to_string()
            .contains("serve_connection_with_upgrades")
    );
    assert_eq!(failure.request().uri.path(), "/ws");
}
