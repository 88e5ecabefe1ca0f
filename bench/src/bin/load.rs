//! `load`: a loopback-only WebSocket echo load generator.
//!
//! The client side is kept cheap so that the server dominates what is measured: one pre-masked
//! frame is built once and written again and again (many queued copies per `writev`), and the
//! echoes are parsed by their headers only. The first echo on every connection is compared byte
//! for byte, and every handshake's `Sec-WebSocket-Accept` is checked.
//!
//! Prints one `RESULT key=value ...` line on stdout (`--idle` prints `READY ...` before it).
//! Run `load --help` for the options.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt as _;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tower_websocket_bench::{cpu_ticks, parse_number, parse_size};

const USAGE: &str = "\
load: loopback-only WebSocket echo load generator

USAGE: load --addr 127.0.0.1:PORT [options]

  --addr ADDR          server address; loopback only (required)
  --impl NAME          label for the RESULT line (default: ws, or raw with --raw)
  --path PATH          request path of the handshake (default /)
  -c N                 connections (default 1)
  -w N                 messages in flight per connection; 1 = ping-pong (default 1)
  -s SIZE              payload bytes: 16, 1k, 64k, 1m, 16m or any number (default 16)
  --text               text messages (default binary)
  -d SECS              measured seconds (default 5)
  --warmup SECS        seconds of traffic before measuring (default 1)
  -t N                 client threads, one single-threaded runtime each (default 1)
  --raw                the same frame bytes over plain TCP, no handshake (for the raw echo)
  --idle N             open N WebSocket connections, print READY, hold them --hold seconds
  --hold SECS          how long --idle holds the connections (default 30)
  --count M            exactly M round trips per connection, then close cleanly
  --connect-only N     N sequential cycles of connect + handshake + clean close
  --server-pid PID     sample the server's CPU time (/proc/PID/stat) over the measured window,
                       then count its syscalls with `perf stat` over a tail window
  --syscall-secs SECS  length of that tail window, after the measured one (default 1; 0 = off)
  --timeout SECS       watchdog (default: warmup + duration + tail + 60, + --hold with --idle)
  -h, --help           this text

RESULT fields: msgs_per_s and mib_per_s (payload, one direction) over the measured window;
p50/p99/p999 round-trip times; server_us_per_msg (server CPU µs per echoed message);
server_syscalls_per_msg (all server syscalls per message, from the raw_syscalls:sys_enter
tracepoint, counted in a separate tail window so tracing does not slow the measured one);
client_cpu_pct (% of one core). Figures that could not be measured are `na`.
";

/// Mixed with the time and pid into the seed of handshake keys and mask keys.
const MASK_SEED: u64 = 0x5eed_f00d_cafe_d00d;

/// How many connections are being set up at once, across all threads.
const CONNECT_CONCURRENCY: usize = 128;

/// Client read buffer, shared by all connections of a thread.
const READ_BUF: usize = 256 * 1024;

/// At most this many frames go into one `writev`.
const MAX_SLICES: usize = 64;

/// How long a clean close may take (close reply, then the server's FIN).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Clock ticks per second in /proc/PID/stat (USER_HZ, 100 on every Linux ABI that matters).
const CLK_TCK: f64 = 100.0;

// ------------------------------------------------------------------------------- options ---

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Warm up, then measure for a duration.
    Timed,
    /// Exactly this many round trips per connection, then a clean close.
    Count(u64),
    /// Open this many connections and hold them.
    Idle(usize),
    /// This many sequential connect + handshake + close cycles.
    ConnectOnly(u64),
}

#[derive(Clone, Debug)]
struct Options {
    addr: SocketAddr,
    label: String,
    path: String,
    conns: usize,
    inflight: usize,
    size: usize,
    text: bool,
    duration: f64,
    warmup: f64,
    threads: usize,
    raw: bool,
    mode: Mode,
    hold: f64,
    server_pid: Option<u32>,
    syscall_secs: f64,
    timeout: Option<f64>,
}

fn parse_options(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut addr = None;
    let mut o = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        label: String::new(),
        path: "/".into(),
        conns: 1,
        inflight: 1,
        size: 16,
        text: false,
        duration: 5.0,
        warmup: 1.0,
        threads: 1,
        raw: false,
        mode: Mode::Timed,
        hold: 30.0,
        server_pid: None,
        syscall_secs: 1.0,
        timeout: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--addr" => addr = Some(value()?),
            "--impl" => o.label = value()?,
            "--path" => o.path = value()?,
            "-c" => o.conns = parse_number(&flag, &value()?)?,
            "-w" => o.inflight = parse_number(&flag, &value()?)?,
            "-s" => o.size = parse_size(&value()?)?,
            "--text" => o.text = true,
            "-d" => o.duration = parse_number(&flag, &value()?)?,
            "--warmup" => o.warmup = parse_number(&flag, &value()?)?,
            "-t" => o.threads = parse_number(&flag, &value()?)?,
            "--raw" => o.raw = true,
            "--idle" => o.mode = Mode::Idle(parse_number(&flag, &value()?)?),
            "--hold" => o.hold = parse_number(&flag, &value()?)?,
            "--count" => o.mode = Mode::Count(parse_number(&flag, &value()?)?),
            "--connect-only" => o.mode = Mode::ConnectOnly(parse_number(&flag, &value()?)?),
            "--server-pid" => o.server_pid = Some(parse_number(&flag, &value()?)?),
            "--syscall-secs" => o.syscall_secs = parse_number(&flag, &value()?)?,
            "--timeout" => o.timeout = Some(parse_number(&flag, &value()?)?),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    let addr = addr.ok_or("--addr is required (see --help)")?;
    o.addr = tower_websocket_bench::loopback_addr(&addr)?;
    if let Mode::Idle(n) = o.mode {
        o.conns = n;
    }
    if o.conns == 0 || o.inflight == 0 || o.threads == 0 {
        return Err("-c, -w, -t and --idle must be at least 1".into());
    }
    if matches!(o.mode, Mode::Count(0) | Mode::ConnectOnly(0)) {
        return Err("--count and --connect-only must be at least 1".into());
    }
    if o.raw && matches!(o.mode, Mode::Idle(_) | Mode::ConnectOnly(_)) {
        return Err(
            "--raw has no handshake: it cannot be used with --idle or --connect-only".into(),
        );
    }
    if !(o.duration > 0.0 && o.warmup >= 0.0 && o.hold >= 0.0 && o.syscall_secs >= 0.0) {
        return Err("-d must be positive, --warmup, --hold and --syscall-secs not negative".into());
    }
    if o.server_pid.is_none() || o.mode != Mode::Timed {
        o.syscall_secs = 0.0;
    }
    o.threads = o.threads.min(o.conns);
    if o.label.is_empty() {
        o.label = if o.raw { "raw" } else { "ws" }.into();
    }
    Ok(o)
}

// -------------------------------------------------------------------------------- frames ---

/// A splitmix64 step: keys and masks need to vary, not to be secret.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Printable ASCII (valid UTF-8 for `--text`) that does not repeat every few bytes.
fn make_payload(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| b'!' + ((i * 7 + i / 94) % 94) as u8)
        .collect()
}

/// A final client frame (FIN, `opcode`) with `payload` masked by `mask`.
fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// A frame header as sent by the server (or, in raw mode, our own masked frame coming back).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Header {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    len: u64,
}

/// Header bytes announced by the second byte: 2, plus 2 or 8 for the extended length, plus 4
/// for a mask key.
fn header_len(second: u8) -> usize {
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + extended + if second & 0x80 != 0 { 4 } else { 0 }
}

impl Header {
    /// `bytes` is exactly `header_len(bytes[1])` long.
    fn parse(bytes: &[u8]) -> Header {
        let len = match bytes[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([bytes[2], bytes[3]])),
            127 => u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes")),
            n => u64::from(n),
        };
        Header {
            fin: bytes[0] & 0x80 != 0,
            rsv: (bytes[0] >> 4) & 0x7,
            opcode: bytes[0] & 0x0f,
            masked: bytes[1] & 0x80 != 0,
            len,
        }
    }
}

/// Collects a header that may arrive split across reads.
#[derive(Default)]
struct HeaderBuf {
    bytes: [u8; 14],
    have: usize,
}

impl HeaderBuf {
    /// Takes header bytes from the front of `data`; returns the header once it is complete.
    fn take(&mut self, data: &mut &[u8]) -> Option<Header> {
        if self.have == 0 && data.len() >= 2 {
            let len = header_len(data[1]);
            if data.len() >= len {
                let header = Header::parse(&data[..len]);
                *data = &data[len..];
                return Some(header);
            }
        }
        loop {
            let want = if self.have < 2 {
                2
            } else {
                header_len(self.bytes[1])
            };
            if self.have == want {
                self.have = 0;
                return Some(Header::parse(&self.bytes[..want]));
            }
            if data.is_empty() {
                return None;
            }
            let n = (want - self.have).min(data.len());
            self.bytes[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            *data = &data[n..];
        }
    }
}

/// Counts echoed messages by reading frame headers only; payload bytes are skipped.
#[derive(Default)]
struct EchoCounter {
    header: HeaderBuf,
    payload_left: u64,
    ends_message: bool,
}

impl EchoCounter {
    /// Consumes `data`; returns how many messages it completed.
    fn feed(&mut self, mut data: &[u8]) -> Result<u64, String> {
        let mut done = 0;
        while !data.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(data.len() as u64);
                self.payload_left -= n;
                data = &data[n as usize..];
                if self.payload_left == 0 && self.ends_message {
                    done += 1;
                }
                continue;
            }
            let Some(header) = self.header.take(&mut data) else {
                break;
            };
            if header.opcode == 0x8 {
                return Err("the server sent a Close frame".into());
            }
            // A data message ends with a FIN frame; continuation/text/binary only.
            self.ends_message = header.fin && header.opcode <= 0x2;
            if header.len == 0 {
                done += u64::from(self.ends_message);
            } else {
                self.payload_left = header.len;
            }
        }
        Ok(done)
    }
}

/// Checks the first echo byte for byte, as it streams in (nothing is buffered).
struct EchoVerifier<'a> {
    /// WebSocket: the unmasked payload; raw: the whole masked frame.
    expected: &'a [u8],
    raw: bool,
    opcode: u8,
    header: HeaderBuf,
    /// Bytes of `expected` matched so far.
    matched: usize,
    payload_left: u64,
    final_frame: bool,
    frames: usize,
    done: bool,
}

impl<'a> EchoVerifier<'a> {
    fn new(shared: &'a Shared) -> Self {
        EchoVerifier {
            expected: if shared.opts.raw {
                &shared.frame
            } else {
                &shared.payload
            },
            raw: shared.opts.raw,
            opcode: shared.opcode,
            header: HeaderBuf::default(),
            matched: 0,
            payload_left: 0,
            final_frame: false,
            frames: 0,
            done: false,
        }
    }

    fn compare(&mut self, chunk: &[u8]) -> Result<(), String> {
        let end = self.matched + chunk.len();
        if end > self.expected.len() {
            return Err(format!(
                "echo longer than the {} bytes sent",
                self.expected.len()
            ));
        }
        if let Some(i) = (0..chunk.len()).find(|&i| chunk[i] != self.expected[self.matched + i]) {
            return Err(format!(
                "echo differs at byte {}: got {:#04x}, sent {:#04x}",
                self.matched + i,
                chunk[i],
                self.expected[self.matched + i]
            ));
        }
        self.matched = end;
        Ok(())
    }

    fn feed(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            if self.done {
                return Err(format!("{} unexpected bytes after the echo", data.len()));
            }
            if self.raw {
                let n = data.len().min(self.expected.len() - self.matched);
                self.compare(&data[..n])?;
                data = &data[n..];
                self.done = self.matched == self.expected.len();
                continue;
            }
            if self.payload_left > 0 {
                let n = self.payload_left.min(data.len() as u64) as usize;
                self.compare(&data[..n])?;
                self.payload_left -= n as u64;
                data = &data[n..];
            } else {
                let Some(h) = self.header.take(&mut data) else {
                    break;
                };
                let want = if self.frames == 0 { self.opcode } else { 0 };
                if h.opcode == 0x8 {
                    return Err("the server sent a Close frame instead of the echo".into());
                }
                if h.opcode != want || h.rsv != 0 || h.masked {
                    return Err(format!("unexpected echo frame header {h:?}"));
                }
                self.frames += 1;
                self.final_frame = h.fin;
                self.payload_left = h.len;
            }
            if self.payload_left == 0 && self.final_frame {
                if self.matched != self.expected.len() {
                    return Err(format!(
                        "echo has {} payload bytes, sent {}",
                        self.matched,
                        self.expected.len()
                    ));
                }
                self.done = true;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------- histogram ---

/// Sub-buckets per power of two: 2^5 = 32, so a bucket is at most 1/32 (~3%) wide.
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// Log-bucketed histogram of nanoseconds: fixed size (15 KiB) whatever the sample count.
#[derive(Clone)]
struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    max: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            max: 0,
        }
    }

    fn index(value: u64) -> usize {
        if value < SUB as u64 {
            return value as usize;
        }
        let top = 63 - value.leading_zeros(); // >= SUB_BITS
        let shift = top - SUB_BITS;
        let sub = ((value >> shift) as usize) & (SUB - 1);
        (shift as usize + 1) * SUB + sub
    }

    /// The smallest value of bucket `index`.
    fn lower(index: usize) -> u64 {
        if index < SUB {
            return index as u64;
        }
        let shift = index / SUB - 1;
        ((SUB + index % SUB) as u64) << shift
    }

    fn record(&mut self, value: u64) {
        self.counts[Self::index(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile: the middle of the bucket holding it, never above the maximum seen.
    fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (lo, hi) = (Self::lower(i), Self::lower(i + 1).max(Self::lower(i) + 1));
                return (lo + (hi - lo) / 2).min(self.max);
            }
        }
        self.max
    }
}

// ----------------------------------------------------------------------- connections ---

/// What every connection of a thread shares.
struct Shared {
    opts: Options,
    opcode: u8,
    payload: Vec<u8>,
    /// The one pre-masked frame every message reuses.
    frame: Vec<u8>,
    seed: u64,
}

/// Per-thread results.
struct Stats {
    msgs: u64,
    /// Messages completed in the syscall-counting tail window.
    tail_msgs: u64,
    hist: Histogram,
    errors: u64,
    first_error: Option<String>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            msgs: 0,
            tail_msgs: 0,
            hist: Histogram::new(),
            errors: 0,
            first_error: None,
        }
    }

    fn error(&mut self, error: impl std::fmt::Display) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }
}

/// Counted completions are those inside `[start, end)`; traffic goes on until `tail_end`, and
/// completions in `[end, tail_end)` are counted apart (for syscalls per message).
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
    tail_end: Instant,
}

fn other(message: impl Into<String>) -> io::Error {
    io::Error::other(message.into())
}

fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    BASE64.encode(sha.finalize())
}

/// Sends the upgrade request and checks the `101` and `Sec-WebSocket-Accept`. Returns bytes
/// that arrived behind the response.
async fn handshake(
    stream: &mut TcpStream,
    shared: &Shared,
    random: &mut u64,
) -> io::Result<Vec<u8>> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&next_random(random).to_le_bytes());
    key[8..].copy_from_slice(&next_random(random).to_le_bytes());
    let key = BASE64.encode(key);
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        shared.opts.path, shared.opts.addr
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::with_capacity(512);
    let end = loop {
        if let Some(i) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if response.len() > 16 * 1024 {
            return Err(other("handshake response headers over 16 KiB"));
        }
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(other("connection closed during the handshake"));
        }
        response.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101") {
        return Err(other(format!("handshake answered {status:?}")));
    }
    let accept = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim().to_owned());
    let expected = accept_for(&key);
    if accept.as_deref() != Some(expected.as_str()) {
        return Err(other(format!(
            "Sec-WebSocket-Accept is {accept:?}, expected {expected:?}"
        )));
    }
    Ok(response[end..].to_vec())
}

/// One round trip whose echo is compared byte for byte. Writes and reads at once: a streaming
/// echo (the raw server) answers while a large frame is still going out.
async fn verify_first_echo(
    stream: &mut TcpStream,
    shared: &Shared,
    early: &[u8],
) -> io::Result<()> {
    let (mut reader, mut writer) = stream.split();
    let mut verifier = EchoVerifier::new(shared);
    verifier.feed(early).map_err(other)?;
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        while !verifier.done {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Err(other("connection closed before the first echo"));
            }
            verifier.feed(&buf[..n]).map_err(other)?;
        }
        Ok(())
    };
    tokio::try_join!(writer.write_all(&shared.frame), read)?;
    Ok(())
}

/// Connects, upgrades (unless raw) and verifies one echo (unless idle).
async fn open(shared: &Shared, mut random: u64) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(shared.opts.addr).await?;
    stream.set_nodelay(true)?;
    let early = if shared.opts.raw {
        Vec::new()
    } else {
        handshake(&mut stream, shared, &mut random)
            .await
            .map_err(|e| other(format!("handshake: {e}")))?
    };
    if !matches!(shared.opts.mode, Mode::Idle(_)) {
        verify_first_echo(&mut stream, shared, &early)
            .await
            .map_err(|e| other(format!("first echo: {e}")))?;
    } else if !early.is_empty() {
        return Err(other("the server sent data right after the handshake"));
    }
    Ok(stream)
}

/// Where a connection's traffic stands.
struct Pump {
    /// Frames queued and not completely written (the first one may be partly written).
    queued: u64,
    /// Bytes of the first queued frame already written.
    offset: usize,
    /// When each message in flight was queued, oldest first.
    sent_at: VecDeque<Instant>,
    /// Messages that may still be queued (`u64::MAX` for timed runs).
    budget: u64,
    echoes: EchoCounter,
}

impl Pump {
    fn new(inflight: usize, budget: u64, now: Instant) -> Self {
        let first = (inflight as u64).min(budget);
        let mut sent_at = VecDeque::with_capacity(inflight);
        sent_at.extend(std::iter::repeat_n(now, first as usize));
        Pump {
            queued: first,
            offset: 0,
            sent_at,
            budget: budget - first,
            echoes: EchoCounter::default(),
        }
    }

    /// Accounts for `written` bytes of the queue going out.
    fn advance(&mut self, frame_len: usize, written: usize) {
        let total = self.offset + written;
        self.queued -= (total / frame_len) as u64;
        self.offset = total % frame_len;
    }
}

/// Keeps `-w` messages in flight on one connection until the window ends (timed) or the budget
/// is spent and every echo is back (count). Write and read are polled together, so a large frame
/// going out never blocks the echo coming back.
async fn drive(
    stream: &mut TcpStream,
    shared: &Shared,
    scratch: &RefCell<Vec<u8>>,
    stats: &RefCell<Stats>,
    window: Window,
    budget: u64,
) -> io::Result<()> {
    let frame = &shared.frame[..];
    let mut pump = Pump::new(shared.opts.inflight, budget, Instant::now());
    poll_fn(|cx| {
        loop {
            while pump.queued > 0 {
                let count = pump.queued.min(MAX_SLICES as u64) as usize;
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                slices[0] = IoSlice::new(&frame[pump.offset..]);
                for slice in &mut slices[1..count] {
                    *slice = IoSlice::new(frame);
                }
                match Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..count]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => pump.advance(frame.len(), n),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            let done = {
                let mut buf = scratch.borrow_mut();
                let mut read_buf = ReadBuf::new(&mut buf);
                match Pin::new(&mut *stream).poll_read(cx, &mut read_buf) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) if read_buf.filled().is_empty() => {
                        return Poll::Ready(Err(other("the server closed the connection")));
                    }
                    Poll::Ready(Ok(())) => match pump.echoes.feed(read_buf.filled()) {
                        Ok(done) => done,
                        Err(e) => return Poll::Ready(Err(other(e))),
                    },
                }
            };
            if done == 0 {
                continue;
            }
            let now = Instant::now();
            let counted = now >= window.start && now < window.end;
            let tail = now >= window.end && now < window.tail_end;
            let mut stats = stats.borrow_mut();
            for _ in 0..done {
                let Some(sent) = pump.sent_at.pop_front() else {
                    return Poll::Ready(Err(other("more echoes than messages sent")));
                };
                if counted {
                    stats.hist.record((now - sent).as_nanos() as u64);
                }
                if pump.budget > 0 {
                    pump.budget -= 1;
                    pump.queued += 1;
                    pump.sent_at.push_back(now);
                }
            }
            if counted {
                stats.msgs += done;
            } else if tail {
                stats.tail_msgs += done;
            }
            if now >= window.tail_end || pump.sent_at.is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
    })
    .await
}

/// Closes cleanly: a masked Close (1000), the server's Close back, then the server's FIN.
/// Raw: our FIN, then the server's.
async fn close_cleanly(stream: &mut TcpStream, raw: bool, mask: [u8; 4]) -> io::Result<()> {
    let close = async {
        if raw {
            stream.shutdown().await?;
        } else {
            stream
                .write_all(&client_frame(0x8, &1000u16.to_be_bytes(), mask))
                .await?;
        }
        let mut header = HeaderBuf::default();
        let mut skip = 0u64;
        let mut close_seen = raw;
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return if close_seen {
                    Ok(())
                } else {
                    Err(other("connection closed without a Close reply"))
                };
            }
            let mut data = &buf[..n];
            while !data.is_empty() && !raw {
                if skip > 0 {
                    let k = skip.min(data.len() as u64);
                    skip -= k;
                    data = &data[k as usize..];
                } else if let Some(h) = header.take(&mut data) {
                    close_seen |= h.opcode == 0x8;
                    skip = h.len;
                }
            }
        }
    };
    tokio::time::timeout(CLOSE_TIMEOUT, close)
        .await
        .map_err(|_| other("clean close timed out"))?
}

// --------------------------------------------------------------------------- threads ---

/// How the main thread and the client threads meet: after connecting, then at the start.
struct Rendezvous {
    connected: Barrier,
    /// The first connection that could not be opened, upgraded or verified.
    setup_error: Mutex<Option<String>>,
    go: Barrier,
    start: OnceLock<Instant>,
}

struct ThreadResult {
    stats: Stats,
    /// When the last counted connection finished its round trips (count mode).
    finished: Option<Instant>,
}

fn client_thread(
    shared: Arc<Shared>,
    index: usize,
    conns: usize,
    meet: Arc<Rendezvous>,
) -> ThreadResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let opts = &shared.opts;
    let mut stats = Stats::new();

    // Connect, upgrade and verify, a bounded number at a time.
    let per_thread = CONNECT_CONCURRENCY.div_ceil(opts.threads).max(1);
    let opened: Vec<io::Result<TcpStream>> = local.block_on(&runtime, async {
        futures_util::stream::iter(0..conns)
            .map(|i| {
                let seed = shared.seed ^ ((index as u64) << 40) ^ i as u64;
                open(&shared, seed)
            })
            .buffer_unordered(per_thread)
            .collect()
            .await
    });
    let mut streams = Vec::with_capacity(conns);
    for result in opened {
        match result {
            Ok(stream) => streams.push(stream),
            Err(e) => stats.error(e),
        }
    }
    if !matches!(opts.mode, Mode::Count(_)) {
        // Timed and idle runs end with a reset instead of a FIN: no TIME_WAIT pile-up across a
        // long matrix. Count runs close cleanly.
        for stream in &streams {
            let _ = stream.set_zero_linger();
        }
    }
    if let Some(e) = stats.first_error.take() {
        meet.setup_error.lock().expect("lock").get_or_insert(e);
    }
    meet.connected.wait();
    meet.go.wait();
    let start = *meet.start.get().expect("start time");
    if matches!(opts.mode, Mode::Idle(_)) {
        sleep_until(start + Duration::from_secs_f64(opts.hold));
        drop(streams);
        return ThreadResult {
            stats,
            finished: None,
        };
    }
    let (window, budget) = match opts.mode {
        Mode::Count(m) => (
            Window {
                start,
                end: start + Duration::from_secs(365 * 86_400),
                tail_end: start + Duration::from_secs(365 * 86_400),
            },
            m,
        ),
        _ => {
            let warm = start + Duration::from_secs_f64(opts.warmup);
            let end = warm + Duration::from_secs_f64(opts.duration);
            let tail_end = end + Duration::from_secs_f64(opts.syscall_secs);
            (
                Window {
                    start: warm,
                    end,
                    tail_end,
                },
                u64::MAX,
            )
        }
    };
    let scratch = Rc::new(RefCell::new(vec![0u8; READ_BUF]));
    let stats = Rc::new(RefCell::new(stats));
    let finished = Rc::new(Cell::new(None::<Instant>));
    local.block_on(&runtime, async {
        let mut tasks = Vec::with_capacity(streams.len());
        for (i, mut stream) in streams.into_iter().enumerate() {
            let (shared, scratch, stats, finished) = (
                shared.clone(),
                scratch.clone(),
                stats.clone(),
                finished.clone(),
            );
            tasks.push(tokio::task::spawn_local(async move {
                let run = drive(&mut stream, &shared, &scratch, &stats, window, budget);
                let result = match shared.opts.mode {
                    Mode::Count(_) => run.await,
                    _ => tokio::time::timeout_at(window.tail_end.into(), run)
                        .await
                        .unwrap_or(Ok(())),
                };
                if let Err(e) = result {
                    stats.borrow_mut().error(format!("traffic: {e}"));
                    return;
                }
                if let Mode::Count(_) = shared.opts.mode {
                    finished.set(finished.get().max(Some(Instant::now())));
                    let mut random = shared.seed ^ i as u64;
                    let mask = (next_random(&mut random) as u32).to_le_bytes();
                    if let Err(e) = close_cleanly(&mut stream, shared.opts.raw, mask).await {
                        stats.borrow_mut().error(format!("close: {e}"));
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
    let finished = finished.get();
    let stats = Rc::try_unwrap(stats)
        .ok()
        .expect("all connection tasks are done")
        .into_inner();
    ThreadResult { stats, finished }
}

/// `--connect-only N`: sequential connect + handshake + clean close cycles; the histogram holds
/// the time of each whole cycle.
fn connect_cycles(shared: &Shared, cycles: u64) -> Stats {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut stats = Stats::new();
        let mut random = shared.seed;
        for _ in 0..cycles {
            let begin = Instant::now();
            let cycle = async {
                let mut stream = TcpStream::connect(shared.opts.addr).await?;
                stream.set_nodelay(true)?;
                let early = handshake(&mut stream, shared, &mut random).await?;
                if !early.is_empty() {
                    return Err(other("the server sent data right after the handshake"));
                }
                let mask = (next_random(&mut random) as u32).to_le_bytes();
                close_cleanly(&mut stream, false, mask).await
            };
            match cycle.await {
                Ok(()) => {
                    stats.hist.record(begin.elapsed().as_nanos() as u64);
                    stats.msgs += 1;
                }
                Err(e) => {
                    stats.error(e);
                    break;
                }
            }
        }
        stats
    })
}

// ------------------------------------------------------------------------ /proc reads ---

/// Counts every syscall the threads of `pid` enter during the next `secs` seconds, with
/// `perf stat` on the `raw_syscalls:sys_enter` tracepoint (counted in the kernel, no per-call
/// record). `/proc/PID/io`'s `syscr`/`syscw` would miss `send`/`recv`, which is how std and mio
/// talk to sockets, and `epoll_wait`, `futex` and friends.
fn count_syscalls(pid: u32, secs: f64) -> Result<u64, String> {
    let output = std::process::Command::new("perf")
        .args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p"])
        .arg(pid.to_string())
        .args(["--", "sleep"])
        .arg(format!("{secs:.3}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run perf: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find(|line| line.contains("raw_syscalls:sys_enter"))
        .and_then(|line| line.split(',').next())
        .and_then(|count| count.trim().parse().ok())
        .ok_or_else(|| format!("perf stat counted nothing: {}", stderr.trim()))
}

#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    client: Option<u64>,
    server: Option<u64>,
}

fn sample(server_pid: Option<u32>) -> Sample {
    let pid = server_pid.map(|p| p.to_string());
    Sample {
        at: Instant::now(),
        client: cpu_ticks("self"),
        server: pid.as_deref().and_then(cpu_ticks),
    }
}

fn sleep_until(when: Instant) {
    std::thread::sleep(when.saturating_duration_since(Instant::now()));
}

// ------------------------------------------------------------------------------ main ---

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("load: {message}");
    std::process::exit(1)
}

fn main() {
    let opts = parse_options(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("load: {e}");
        std::process::exit(2)
    });
    let budget = opts.timeout.unwrap_or(
        opts.warmup
            + opts.duration
            + opts.syscall_secs
            + 60.0
            + if matches!(opts.mode, Mode::Idle(_)) {
                opts.hold
            } else {
                0.0
            },
    );
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(budget));
        eprintln!("load: watchdog: still running after {budget:.0} s, exiting");
        std::process::exit(3);
    });

    let seed = MASK_SEED
        ^ SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut random = seed;
    let mask = (next_random(&mut random) as u32).to_le_bytes();
    let opcode = if opts.text { 0x1 } else { 0x2 };
    let payload = make_payload(opts.size);
    let frame = client_frame(opcode, &payload, mask);
    let shared = Arc::new(Shared {
        opts: opts.clone(),
        opcode,
        payload,
        frame,
        seed,
    });

    let mut syscalls = None;
    let (stats, secs, first, last) = if let Mode::ConnectOnly(cycles) = opts.mode {
        let first = sample(opts.server_pid);
        let stats = connect_cycles(&shared, cycles);
        let last = sample(opts.server_pid);
        let secs = (last.at - first.at).as_secs_f64();
        (stats, secs, first, last)
    } else {
        let meet = Arc::new(Rendezvous {
            connected: Barrier::new(opts.threads + 1),
            setup_error: Mutex::new(None),
            go: Barrier::new(opts.threads + 1),
            start: OnceLock::new(),
        });
        let threads: Vec<_> = (0..opts.threads)
            .map(|i| {
                let conns = opts.conns / opts.threads + usize::from(i < opts.conns % opts.threads);
                let (shared, meet) = (shared.clone(), meet.clone());
                std::thread::Builder::new()
                    .name(format!("load-{i}"))
                    .spawn(move || client_thread(shared, i, conns, meet))
                    .expect("spawn client thread")
            })
            .collect();
        meet.connected.wait();
        if let Some(e) = meet.setup_error.lock().expect("lock").take() {
            fail(e);
        }
        if let Mode::Idle(n) = opts.mode {
            println!("READY conns={n}");
            let _ = io::stdout().flush();
        }
        let start = Instant::now();
        meet.start.set(start).expect("start is set once");
        meet.go.wait();
        let (first, last) = match opts.mode {
            Mode::Timed => {
                sleep_until(start + Duration::from_secs_f64(opts.warmup));
                let first = sample(opts.server_pid);
                sleep_until(first.at + Duration::from_secs_f64(opts.duration));
                let last = sample(opts.server_pid);
                if let (Some(pid), true) = (opts.server_pid, opts.syscall_secs > 0.0) {
                    syscalls = Some(count_syscalls(pid, opts.syscall_secs));
                }
                (first, last)
            }
            Mode::Idle(_) => {
                sleep_until(start + Duration::from_secs_f64(opts.hold));
                let now = sample(opts.server_pid);
                (now, now)
            }
            _ => (sample(opts.server_pid), sample(opts.server_pid)),
        };
        let mut stats = Stats::new();
        let mut finished = None::<Instant>;
        for thread in threads {
            let result = thread
                .join()
                .unwrap_or_else(|_| fail("a client thread panicked"));
            stats.msgs += result.stats.msgs;
            stats.tail_msgs += result.stats.tail_msgs;
            stats.errors += result.stats.errors;
            stats.hist.merge(&result.stats.hist);
            if stats.first_error.is_none() {
                stats.first_error = result.stats.first_error;
            }
            finished = finished.max(result.finished);
        }
        match opts.mode {
            Mode::Count(_) => {
                let last = sample(opts.server_pid);
                let end = finished.unwrap_or(last.at);
                (stats, (end - start).as_secs_f64(), first, last)
            }
            Mode::Timed => (stats, opts.duration, first, last),
            _ => (stats, 0.0, first, last),
        }
    };

    // Count mode counts every round trip; the others count those inside the window.
    let msgs = if matches!(opts.mode, Mode::Count(_)) {
        stats.hist.total
    } else {
        stats.msgs
    };
    let window = (last.at - first.at).as_secs_f64();
    let per_msg = |a: Option<u64>, b: Option<u64>, scale: f64| match (a, b) {
        (Some(a), Some(b)) if msgs > 0 => format!("{:.3}", (b - a) as f64 * scale / msgs as f64),
        _ => "na".into(),
    };
    let server_us = per_msg(first.server, last.server, 1e6 / CLK_TCK);
    let server_syscalls = match syscalls {
        Some(Ok(count)) if stats.tail_msgs > 0 => {
            format!("{:.3}", count as f64 / stats.tail_msgs as f64)
        }
        Some(Err(e)) => {
            eprintln!("load: syscalls not counted: {e}");
            "na".into()
        }
        _ => "na".into(),
    };
    let client_cpu = match (first.client, last.client) {
        (Some(a), Some(b)) if window > 0.0 => {
            format!("{:.1}", (b - a) as f64 / CLK_TCK / window * 100.0)
        }
        _ => "na".into(),
    };
    let rate = if secs > 0.0 { msgs as f64 / secs } else { 0.0 };
    let us = |q: f64| stats.hist.quantile(q) as f64 / 1000.0;
    println!(
        "RESULT impl={} conns={} inflight={} size={} msgs_per_s={rate:.1} mib_per_s={:.2} \
         p50_us={:.1} p99_us={:.1} p999_us={:.1} server_us_per_msg={server_us} \
         server_syscalls_per_msg={server_syscalls} client_cpu_pct={client_cpu}",
        opts.label,
        opts.conns,
        opts.inflight,
        opts.size,
        rate * opts.size as f64 / f64::from(1 << 20),
        us(0.5),
        us(0.99),
        us(0.999),
    );
    let _ = io::stdout().flush();
    if let Some(e) = &stats.first_error {
        eprintln!("load: {} error(s), first: {e}", stats.errors);
    }
    // Don't wait for runtimes and sockets to be torn down one by one.
    std::process::exit(i32::from(stats.errors > 0));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame: FIN, `opcode`, unmasked, `len` bytes of payload.
    fn server_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut frame = client_frame(opcode, payload, [0; 4]);
        // Drop the mask bit and the (zero) key: the payload is already in clear.
        frame[1] &= 0x7f;
        let key_at = header_len(frame[1]);
        frame.drain(key_at..key_at + 4);
        if !fin {
            frame[0] &= 0x7f;
        }
        frame
    }

    fn shared(size: usize, raw: bool) -> Shared {
        let mut opts = parse_options(["--addr".into(), "127.0.0.1:1".into()]).unwrap();
        opts.raw = raw;
        opts.size = size;
        let payload = make_payload(size);
        Shared {
            frame: client_frame(0x2, &payload, [1, 2, 3, 4]),
            payload,
            opts,
            opcode: 0x2,
            seed: 1,
        }
    }

    #[test]
    fn rejects_non_loopback() {
        assert!(parse_options(["--addr".into(), "10.0.0.1:80".into()]).is_err());
        assert!(parse_options(["--addr".into(), "[::1]:80".into()]).is_ok());
    }

    #[test]
    fn counter_counts_across_any_split() {
        for len in [0usize, 1, 16, 125, 126, 1024, 65535, 65536, 100_000] {
            let payload = make_payload(len);
            let mut stream = Vec::new();
            for _ in 0..3 {
                stream.extend(server_frame(0x2, true, &payload));
            }
            // A fragmented message counts once, at its final frame.
            stream.extend(server_frame(0x2, false, &payload));
            stream.extend(server_frame(0x0, true, &payload));
            for chunk in [1, 2, 3, 5, 13, 4096, stream.len()] {
                let mut counter = EchoCounter::default();
                let total: u64 = stream.chunks(chunk).map(|c| counter.feed(c).unwrap()).sum();
                assert_eq!(total, 4, "len {len}, chunk {chunk}");
            }
        }
    }

    #[test]
    fn counter_reads_masked_raw_echo_and_rejects_close() {
        let frame = client_frame(0x2, &make_payload(70_000), [9, 8, 7, 6]);
        let mut counter = EchoCounter::default();
        let total: u64 = frame
            .repeat(2)
            .chunks(999)
            .map(|c| counter.feed(c).unwrap())
            .sum();
        assert_eq!(total, 2);
        assert!(
            EchoCounter::default()
                .feed(&server_frame(0x8, true, &[3, 232]))
                .is_err()
        );
    }

    #[test]
    fn verifier_accepts_exact_echo_only() {
        for size in [0, 16, 1024, 70_000] {
            let sh = shared(size, false);
            let good = server_frame(0x2, true, &sh.payload);
            for chunk in [1, 7, good.len().max(1)] {
                let mut v = EchoVerifier::new(&sh);
                for c in good.chunks(chunk) {
                    v.feed(c).unwrap();
                }
                assert!(v.done, "size {size} chunk {chunk}");
            }
            // Split in two fragments.
            if size >= 2 {
                let mut v = EchoVerifier::new(&sh);
                v.feed(&server_frame(0x2, false, &sh.payload[..size / 2]))
                    .unwrap();
                assert!(!v.done);
                v.feed(&server_frame(0x0, true, &sh.payload[size / 2..]))
                    .unwrap();
                assert!(v.done);
                let mut bad = sh.payload.clone();
                bad[size / 2] ^= 1;
                assert!(
                    EchoVerifier::new(&sh)
                        .feed(&server_frame(0x2, true, &bad))
                        .is_err()
                );
            }
            // Wrong opcode, short echo, long echo.
            assert!(
                EchoVerifier::new(&sh)
                    .feed(&server_frame(0x1, true, &sh.payload))
                    .is_err()
            );
            let mut longer = sh.payload.clone();
            longer.push(b'x');
            assert!(
                EchoVerifier::new(&sh)
                    .feed(&server_frame(0x2, true, &longer))
                    .is_err()
            );
            if size > 0 {
                let short = server_frame(0x2, true, &sh.payload[1..]);
                assert!(EchoVerifier::new(&sh).feed(&short).is_err());
            }
        }
        let sh = shared(1024, true);
        let mut v = EchoVerifier::new(&sh);
        v.feed(&sh.frame).unwrap();
        assert!(v.done);
        assert!(v.feed(b"x").is_err());
    }

    #[test]
    fn accept_key_matches_rfc_sample() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn histogram_buckets_and_quantiles() {
        for v in [
            0u64,
            1,
            31,
            32,
            33,
            63,
            64,
            65,
            1000,
            1 << 40,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let i = Histogram::index(v);
            assert!(i < BUCKETS, "{v}");
            assert!(Histogram::lower(i) <= v, "{v}");
            if i + 1 < BUCKETS {
                assert!(v < Histogram::lower(i + 1), "{v}");
            }
        }
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        for (q, want) in [(0.5, 50e6), (0.99, 99e6), (0.999, 99.9e6)] {
            let got = h.quantile(q) as f64;
            assert!((got / want - 1.0).abs() < 0.03, "q {q}: {got}");
        }
        assert_eq!(Histogram::new().quantile(0.5), 0);
    }

    #[test]
    fn pump_advances_over_partial_frames() {
        let mut pump = Pump::new(16, u64::MAX, Instant::now());
        assert_eq!(pump.queued, 16);
        pump.advance(10, 25);
        assert_eq!((pump.queued, pump.offset), (14, 5));
        pump.advance(10, 5);
        assert_eq!((pump.queued, pump.offset), (13, 0));
        let pump = Pump::new(16, 3, Instant::now());
        assert_eq!((pump.queued, pump.budget), (3, 0));
    }
}
