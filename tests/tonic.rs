//! The `tonic` example's service on one port, served as `examples/support` serves it
//! (hyper-util's auto builder, upgrades and extended CONNECT on): a standard gRPC client calls
//! the health service, and WebSocket clients echo on `/ws` over HTTP/1.1 and HTTP/2.

mod support;

// The example itself: its `app()` (its `main` and `support` module go unused here).
#[path = "../examples/tonic.rs"]
#[allow(dead_code)]
mod example;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower_websocket::WebSocketUpgradeLayer;

use support::h2::{connect_request, h2_client, h2_websocket};
use support::{connect, spawn_service, within, ws_url};

#[tokio::test]
async fn grpc_and_websockets_on_one_port() {
    let addr = spawn_service(example::app()).await;

    // gRPC: tonic's own client, over HTTP/2.
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap();
    let channel = within("gRPC connect", channel.connect())
        .await
        .expect("gRPC channel");
    let mut health = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let response = within("Health/Check", health.check(request))
        .await
        .expect("Health/Check");
    assert_eq!(response.into_inner().status(), ServingStatus::Serving);
    // An unknown service is a gRPC error (NOT_FOUND), not an HTTP one.
    let request = HealthCheckRequest {
        service: "nope".to_owned(),
    };
    let status = within("Health/Check", health.check(request))
        .await
        .expect_err("unknown service");
    assert_eq!(status.code(), tonic::Code::NotFound);

    // WebSocket over HTTP/1.1 on the same port.
    let (mut ws, _) = within("handshake", connect_async(ws_url(addr, "/ws")))
        .await
        .unwrap();
    within("send", ws.send(WsMessage::text("next to gRPC")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("next to gRPC"));

    // WebSocket over HTTP/2 (RFC 8441) on the same port, still answering gRPC.
    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let (_, mut ws) = h2_websocket(&mut h2, request).await.expect("200");
    within("send", ws.send(WsMessage::text("h2 too")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("h2 too"));
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let response = within("Health/Check", health.check(request))
        .await
        .expect("Health/Check while WebSockets are open");
    assert_eq!(response.into_inner().status(), ServingStatus::Serving);
}

/// The alternative the crate docs mention for apps that already use axum: tonic's routes as an
/// axum `Router`, the layer on it, and `axum::serve`.
#[tokio::test]
async fn axum_serve_works_for_tonic_routes_too() {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let app = tonic::service::Routes::new(health)
        .prepare()
        .into_axum_router()
        .layer(WebSocketUpgradeLayer::new(support::echo).path("/ws"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let channel = Channel::from_shared(format!("http://{addr}")).unwrap();
    let channel = within("gRPC connect", channel.connect())
        .await
        .expect("gRPC channel");
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let response = within("Health/Check", HealthClient::new(channel).check(request))
        .await
        .expect("Health/Check");
    assert_eq!(response.into_inner().status(), ServingStatus::Serving);

    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let (_, mut ws) = h2_websocket(&mut h2, request).await.expect("200");
    within("send", ws.send(WsMessage::text("via axum::serve")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("via axum::serve"));
}
