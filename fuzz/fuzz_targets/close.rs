//! Close frame payloads (RFC 6455 §5.5.1, §7.4): a Close frame with an arbitrary payload, fed
//! to the `Decoder` at once and in chunks, must be accepted exactly when an independent reading
//! of the RFC accepts it (empty, or a valid code and a UTF-8 reason, at most 125 bytes), and
//! rejected with the matching error otherwise. Accepted frames, and frames the crate's own
//! `Encoder` writes from an arbitrary code and reason, must survive a round trip.
#![no_main]

use bytes::Bytes;
use fuzz_support::{
    LenForm, MAX_CONTROL, Outcome, check_outcome, close_code_valid, decode_at_once, decode_chunked,
    first_byte, peer, truncate_str, write_frame,
};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use tower_websocket::fuzzing::{Decoder, Encoder, OpCode, WriteBuffer, parse_close_payload};
use tower_websocket::{CloseCode, CloseFrame, Limits, Message, ProtocolError, Role};

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});

/// What RFC 6455 says of a Close payload, written without the crate's code.
fn expected(payload: &[u8]) -> std::result::Result<Option<(u16, &str)>, ProtocolError> {
    match payload {
        p if p.len() > MAX_CONTROL => Err(ProtocolError::ControlFrameTooLong),
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close_code_valid(code) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            match std::str::from_utf8(reason) {
                Ok(reason) => Ok(Some((code, reason))),
                Err(_) => Err(ProtocolError::InvalidUtf8),
            }
        }
    }
}

fn decode_both(role: Role, wire: &[u8], seed: u64) -> Outcome {
    let limits = Limits::default();
    let at_once = decode_at_once(Decoder::new(role, limits), wire);
    let chunked = decode_chunked(Decoder::new(role, limits), wire, seed);
    check_outcome(&at_once, &limits);
    assert_eq!(at_once, chunked, "fed at once vs in chunks");
    at_once
}

fn encoded(role: Role, message: Message) -> Vec<u8> {
    let mut out = WriteBuffer::new();
    Encoder::new(peer(role)).encode(&mut out, message);
    let mut wire = Vec::new();
    while !out.is_empty() {
        let chunk = out.first_chunk();
        let n = chunk.len();
        wire.extend_from_slice(chunk);
        out.advance(n);
    }
    wire
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let role = if u.arbitrary()? {
        Role::Server
    } else {
        Role::Client
    };
    let seed: u64 = u.arbitrary()?;
    // Plain bytes throughout (role, chunk seed, length, payload, mask, then the code and reason
    // for the send side), so that the seed corpus can be written by hand.
    let payload_len = usize::from(u.arbitrary::<u8>()?).min(200).min(u.len());
    let payload = u.bytes(payload_len)?;
    let mask = match role {
        Role::Server => Some(u.arbitrary()?),
        Role::Client => None,
    };
    let mut wire = Vec::new();
    write_frame(
        &mut wire,
        first_byte(true, false, OpCode::Close),
        mask,
        payload,
        LenForm::Minimal,
    );
    let outcome = decode_both(role, &wire, seed);
    let want = expected(payload);
    match (&want, &outcome.error, outcome.messages.as_slice()) {
        (Ok(None), None, [Message::Close(None)]) => {}
        (Ok(Some((code, reason))), None, [Message::Close(Some(frame))]) => {
            assert_eq!(frame.code.as_u16(), *code);
            assert_eq!(frame.reason.as_str(), *reason);
            // What was accepted goes back out unchanged.
            let again = decode_both(role, &encoded(role, outcome.messages[0].clone()), seed);
            assert_eq!(again.messages, outcome.messages);
            assert_eq!(again.error, None);
        }
        (Err(e), Some(got), []) => assert_eq!(e, got),
        _ => panic!("payload {payload:x?}: expected {want:?}, decoder gave {outcome:?}"),
    }
    if payload.len() <= MAX_CONTROL {
        let direct = parse_close_payload(Bytes::copy_from_slice(payload));
        let via_decoder = match (&outcome.error, outcome.messages.first()) {
            (Some(e), _) => Err(*e),
            (None, Some(Message::Close(frame))) => Ok(frame.clone()),
            _ => unreachable!("checked above"),
        };
        assert_eq!(direct, via_decoder);
    }

    // The send side: any code and reason (the reason cut to 123 bytes on a char boundary).
    let code: u16 = u.arbitrary()?;
    let reason = String::from_utf8_lossy(u.bytes(u.len())?).into_owned();
    let frame = CloseFrame::new(CloseCode::new(code), reason.as_str());
    let again = decode_both(role, &encoded(role, Message::Close(Some(frame))), seed);
    if close_code_valid(code) {
        let sent = CloseFrame::new(CloseCode::new(code), truncate_str(&reason, MAX_CONTROL - 2));
        assert_eq!(again.messages, [Message::Close(Some(sent))]);
    } else {
        assert_eq!(again.error, Some(ProtocolError::InvalidCloseCode(code)));
    }
    Ok(())
}
