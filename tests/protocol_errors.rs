//! Every protocol violation fails the connection the RFC 6455 way: the server sends one Close
//! frame with the matching code (1002 protocol error, 1007 invalid payload, 1009 too big) and
//! then closes the TCP connection.

mod support;

use std::net::SocketAddr;

use tower_websocket::{Config, WebSocketUpgradeLayer};

use support::{
    OpCode, close_payload, echo, expect_eof, frame_header, masked_frame, raw_handshake, read_frame,
    spawn_server, unmasked_frame, write_raw,
};

const PROTOCOL_ERROR: u16 = 1002;
const INVALID_PAYLOAD: u16 = 1007;
const MESSAGE_TOO_BIG: u16 = 1009;

/// Completes a handshake with the server at `addr`, writes `wire` in one write, and asserts
/// that the server answers with exactly one Close frame carrying `code`, then closes TCP.
async fn assert_fails_with_on(addr: SocketAddr, wire: &[u8], code: u16) {
    let mut stream = raw_handshake(addr, "/ws").await;
    write_raw(&mut stream, wire).await;
    let close = read_frame(&mut stream).await;
    assert!(close.fin);
    assert_eq!(
        close.close_code(),
        code,
        "reason {:?}",
        close.close_reason()
    );
    expect_eof(&mut stream).await;
}

/// [`assert_fails_with_on`] against an echo server with the default config.
async fn assert_fails_with(wire: &[u8], code: u16) {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await;
    assert_fails_with_on(addr, wire, code).await;
}

#[tokio::test]
async fn rsv1_without_extension_is_1002() {
    let mut wire = masked_frame(true, OpCode::Text, b"compressed?");
    wire[0] |= 0x40;
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn reserved_opcode_3_is_1002() {
    let mut wire = masked_frame(true, OpCode::Binary, b"data");
    wire[0] = (wire[0] & 0xF0) | 0x3;
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn unmasked_client_frame_is_1002() {
    assert_fails_with(&unmasked_frame(true, OpCode::Text, b"hi"), PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn ping_with_126_byte_payload_is_1002() {
    let wire = masked_frame(true, OpCode::Ping, &[b'p'; 126]);
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn fragmented_ping_is_1002() {
    let wire = masked_frame(false, OpCode::Ping, b"part");
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn continuation_without_a_message_is_1002() {
    let wire = masked_frame(true, OpCode::Continuation, b"orphan");
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn new_text_frame_inside_a_fragmented_message_is_1002() {
    let mut wire = masked_frame(false, OpCode::Text, b"first half");
    wire.extend(masked_frame(true, OpCode::Text, b"not a continuation"));
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn close_with_one_byte_payload_is_1002() {
    let wire = masked_frame(true, OpCode::Close, &[0x03]);
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn close_code_1005_on_the_wire_is_1002() {
    let wire = masked_frame(true, OpCode::Close, &close_payload(1005, b""));
    assert_fails_with(&wire, PROTOCOL_ERROR).await;
}

#[tokio::test]
async fn close_reason_with_invalid_utf8_is_1007() {
    let wire = masked_frame(
        true,
        OpCode::Close,
        &close_payload(1000, b"bad \xff reason"),
    );
    assert_fails_with(&wire, INVALID_PAYLOAD).await;
}

#[tokio::test]
async fn text_with_invalid_utf8_is_1007() {
    // A UTF-16 surrogate encoded as UTF-8 (ED A0 80) is never valid.
    let wire = masked_frame(true, OpCode::Text, b"hello \xed\xa0\x80 world");
    assert_fails_with(&wire, INVALID_PAYLOAD).await;
}

#[tokio::test]
async fn message_over_the_limit_is_1009_from_its_header_alone() {
    let layer = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .config(Config::new().max_message_size(1024));
    let addr = spawn_server(layer).await;
    // Only the header of a 2 KiB frame: the server must not wait for the payload.
    let wire = frame_header(true, OpCode::Binary, 2048, true);
    assert_fails_with_on(addr, &wire, MESSAGE_TOO_BIG).await;
}
