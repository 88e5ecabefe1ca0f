//! `deflate_bench`: what permessage-deflate costs and saves, through the crate's public API only.
//!
//! A client `Conn` and a server `Conn` run on two threads (one current-thread tokio runtime
//! each) over an in-memory `tokio::io::duplex` pipe, with deflate set up from a real
//! negotiation (`negotiate_deflate` on the client's offer, `accept_deflate_response` on the
//! answer). The client keeps `--window` messages in flight and checks every echo; the server
//! echoes. Messages are varied JSON of at least `--size` bytes (default 1 KiB), generated
//! deterministically. Each mode runs `--reps` times, modes interleaved; medians are printed.
//!
//! - CPU µs per message: the thread's own on-CPU time (`/proc/thread-self/schedstat`, in ns),
//!   for the server thread (inflate + deflate + framing per echoed message) and the client.
//! - Wire / payload: bytes the server wrote (frame headers included) over payload bytes echoed,
//!   counted by a wrapper around the server's stream; and the same for what the client wrote.
//!
//! ```sh
//! cargo run --release -p tower-websocket-bench --bin deflate_bench
//! cargo run --release -p tower-websocket-bench --bin deflate_bench -- --messages 50000 --reps 5
//! ```

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, header::SEC_WEBSOCKET_EXTENSIONS};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tower_websocket::handshake::extensions::{accept_deflate_response, negotiate_deflate};
use tower_websocket::{Config, Conn, DeflateConfig, Message, Role, Utf8Bytes};

const USAGE: &str = "\
deflate_bench: permessage-deflate CPU cost and compression ratio, client and server Conn over
an in-memory pipe

USAGE: deflate_bench [--messages N] [--size BYTES] [--window N] [--reps N]

  --messages N   messages echoed per run (default 20000, at most 1000000)
  --size BYTES   minimum message size (default 1024, at most 1048576)
  --window N     messages in flight (default 16, at most 256)
  --reps N       runs per mode, interleaved; medians are reported (default 3, at most 20)
";

/// A whole run may take at most this long.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

struct Options {
    messages: usize,
    size: usize,
    window: usize,
    reps: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        messages: 20_000,
        size: 1024,
        window: 16,
        reps: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: usize = value
            .parse()
            .map_err(|_| format!("{flag}: not a number: {value:?}"))?;
        let (slot, max) = match flag.as_str() {
            "--messages" => (&mut options.messages, 1_000_000),
            "--size" => (&mut options.size, 1 << 20),
            "--window" => (&mut options.window, 256),
            "--reps" => (&mut options.reps, 20),
            _ => return Err(format!("unknown option {flag:?}")),
        };
        if number == 0 || number > max {
            return Err(format!("{flag} must be between 1 and {max}"));
        }
        *slot = number;
    }
    Ok(options)
}

// ------------------------------------------------------------------------------ modes ---

/// One way of running the connection.
struct Mode {
    name: &'static str,
    /// The client's offer; `None`: no compression.
    offer: Option<&'static str>,
    server: DeflateConfig,
}

fn modes() -> Vec<Mode> {
    vec![
        Mode {
            name: "off",
            offer: None,
            server: DeflateConfig::new(),
        },
        Mode {
            name: "deflate (context takeover)",
            offer: Some("permessage-deflate; client_max_window_bits"),
            server: DeflateConfig::new(),
        },
        Mode {
            name: "deflate, no context takeover",
            offer: Some("permessage-deflate; server_no_context_takeover; client_max_window_bits"),
            server: DeflateConfig::new().client_context_takeover(false),
        },
    ]
}

/// Connected client and server `Conn`s for `mode`, the server's stream counted.
fn connect(
    mode: &Mode,
    counters: &Arc<Counters>,
) -> Result<(Conn<DuplexStream>, Conn<Counting>), String> {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let config = Config::default();
    let mut client = Conn::from_raw(a, Role::Client, &config);
    let counting = Counting {
        inner: b,
        counters: counters.clone(),
    };
    let mut server = Conn::from_raw(counting, Role::Server, &config);
    if let Some(offer) = mode.offer {
        let offer = HeaderValue::from_static(offer);
        let mut request = HeaderMap::new();
        request.insert(SEC_WEBSOCKET_EXTENSIONS, offer.clone());
        let (server_params, answer) = negotiate_deflate(&request, &mode.server)
            .ok_or_else(|| format!("{}: the server declined {offer:?}", mode.name))?;
        let mut response = HeaderMap::new();
        response.insert(SEC_WEBSOCKET_EXTENSIONS, answer);
        let client_params = accept_deflate_response(&offer, &response)
            .map_err(|e| format!("{}: {e}", mode.name))?
            .ok_or_else(|| format!("{}: no deflate in the answer", mode.name))?;
        server = server.with_deflate(&server_params, &mode.server);
        client = client.with_deflate(&client_params, &DeflateConfig::new());
    }
    Ok((client, server))
}

// ----------------------------------------------------------------------------- messages ---

/// xorshift64*: deterministic, good enough to vary the messages.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 32) % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// `count` JSON documents of at least `size` bytes each, like the events of a trading or chat
/// app: ids, timestamps, names, prices, nested objects, arrays of varying length.
fn json_messages(count: usize, size: usize) -> Vec<Utf8Bytes> {
    const SYMBOLS: &[&str] = &["BTC-USD", "ETH-USD", "SOL-USD", "EUR-USD", "AAPL", "MSFT"];
    const NAMES: &[&str] = &[
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    ];
    const KINDS: &[&str] = &["trade", "quote", "order", "cancel", "fill"];
    const TAGS: &[&str] = &["vip", "new", "mobile", "web", "api", "eu", "us", "beta"];
    const WORDS: &[&str] = &[
        "limit",
        "order",
        "filled",
        "partially",
        "at",
        "market",
        "open",
        "close",
        "the",
        "price",
        "moved",
        "after",
        "news",
        "from",
        "desk",
        "client",
        "asked",
        "to",
        "hold",
        "until",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ts: u64 = 1_700_000_000_000;
    (0..count)
        .map(|seq| {
            ts += rng.below(5000);
            let kind = rng.pick(KINDS);
            let mut doc = format!(
                r#"{{"type":"{kind}","seq":{seq},"ts":{ts},"symbol":"{}","side":"{}","user":{{"id":{},"name":"{}","tags":["{}","{}"]}},"price":{}.{:02},"qty":{},"items":["#,
                rng.pick(SYMBOLS),
                if rng.below(2) == 0 { "buy" } else { "sell" },
                rng.below(1_000_000),
                rng.pick(NAMES),
                rng.pick(TAGS),
                rng.pick(TAGS),
                rng.below(70_000),
                rng.below(100),
                rng.below(10_000),
            );
            let mut first = true;
            while doc.len() + 40 < size {
                if !first {
                    doc.push(',');
                }
                first = false;
                doc.push_str(&format!(
                    r#"{{"sku":"{}-{}","qty":{},"price":{}.{:02},"venue":"{}"}}"#,
                    rng.pick(SYMBOLS),
                    rng.below(10_000),
                    rng.below(500),
                    rng.below(70_000),
                    rng.below(100),
                    rng.pick(&["NYSE", "NASDAQ", "CME", "LSE", "BINANCE"]),
                ));
            }
            doc.push_str(r#"],"note":""#);
            let mut words = 0;
            while doc.len() + 2 < size || words == 0 {
                if words > 0 {
                    doc.push(' ');
                }
                doc.push_str(rng.pick(WORDS));
                words += 1;
            }
            doc.push_str(r#""}"#);
            Utf8Bytes::from(doc)
        })
        .collect()
}

// ---------------------------------------------------------------------- measurements ---

/// Bytes read and written by the server's stream.
#[derive(Default)]
struct Counters {
    read: AtomicU64,
    written: AtomicU64,
}

/// The server's stream, counting what passes.
struct Counting {
    inner: DuplexStream,
    counters: Arc<Counters>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.counters.read.fetch_add(n as u64, Ordering::Relaxed);
        poll
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// This thread's on-CPU time so far: `/proc/thread-self/schedstat` (ns), or, without it,
/// utime + stime from `/proc/thread-self/stat` (clock ticks, 10 ms).
fn thread_cpu() -> Duration {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok();
    if let Some(ns) = schedstat
        .as_deref()
        .and_then(|text| text.split_whitespace().next())
        .and_then(|v| v.parse().ok())
    {
        return Duration::from_nanos(ns);
    }
    let ticks = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|text| {
            // Fields after the parenthesised command name; utime and stime are fields 14, 15.
            let rest = &text[text.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// What one run measured.
struct Run {
    server_cpu: Duration,
    client_cpu: Duration,
    wall: Duration,
    server_wrote: u64,
    server_read: u64,
    payload: u64,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("tokio runtime: {e}");
            std::process::exit(1)
        })
}

/// Echoes until the client closes; returns the thread's CPU time over the loop.
fn serve(mut server: Conn<Counting>) -> Result<Duration, String> {
    runtime().block_on(async move {
        let start = thread_cpu();
        let served = async {
            while let Some(message) = server.recv().await {
                let message = message.map_err(|e| format!("server recv: {e}"))?;
                if message.is_data() {
                    // Queued; `recv` writes everything queued before it waits for more.
                    server
                        .feed(message)
                        .map_err(|e| format!("server feed: {e}"))?;
                }
            }
            Ok::<_, String>(())
        };
        tokio::time::timeout(RUN_TIMEOUT, served)
            .await
            .map_err(|_| "server timed out".to_owned())??;
        Ok(thread_cpu().saturating_sub(start))
    })
}

/// Sends every message with `window` in flight, checks each echo, then closes.
fn drive(
    mut client: Conn<DuplexStream>,
    messages: &[Utf8Bytes],
    window: usize,
) -> Result<Duration, String> {
    runtime().block_on(async move {
        let start = thread_cpu();
        let driven = async {
            let mut in_flight = VecDeque::with_capacity(window);
            let mut next = messages.iter();
            loop {
                while in_flight.len() < window {
                    let Some(text) = next.next() else { break };
                    client
                        .feed(Message::Text(text.clone()))
                        .map_err(|e| format!("client feed: {e}"))?;
                    in_flight.push_back(text);
                }
                let Some(expected) = in_flight.pop_front() else {
                    break;
                };
                client
                    .flush()
                    .await
                    .map_err(|e| format!("client flush: {e}"))?;
                match client.recv().await {
                    Some(Ok(Message::Text(echo))) if echo == *expected => {}
                    Some(Ok(other)) => {
                        return Err(format!("unexpected echo {:?}", other.into_data().len()));
                    }
                    Some(Err(e)) => return Err(format!("client recv: {e}")),
                    None => return Err("connection ended early".to_owned()),
                }
            }
            client
                .close_with(tower_websocket::CloseCode::NORMAL, "")
                .await
                .map_err(|e| format!("client close: {e}"))
        };
        tokio::time::timeout(RUN_TIMEOUT, driven)
            .await
            .map_err(|_| "client timed out".to_owned())??;
        Ok(thread_cpu().saturating_sub(start))
    })
}

fn run(mode: &Mode, messages: &[Utf8Bytes], window: usize) -> Result<Run, String> {
    let counters = Arc::new(Counters::default());
    let (client, server) = connect(mode, &counters)?;
    let started = Instant::now();
    let (server_cpu, client_cpu) = std::thread::scope(|scope| {
        let server = scope.spawn(move || serve(server));
        let client = drive(client, messages, window);
        let server = server
            .join()
            .unwrap_or_else(|_| Err("server thread panicked".to_owned()));
        Ok::<_, String>((server?, client?))
    })?;
    let wall = started.elapsed();
    Ok(Run {
        server_cpu,
        client_cpu,
        wall,
        server_wrote: counters.written.load(Ordering::Relaxed),
        server_read: counters.read.load(Ordering::Relaxed),
        payload: messages.iter().map(|m| m.len() as u64).sum(),
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let options = parse_options().unwrap_or_else(|e| {
        eprintln!("{e}\n\n{USAGE}");
        std::process::exit(2)
    });
    let messages = json_messages(options.messages, options.size);
    let sizes: Vec<usize> = messages.iter().map(|m| m.len()).collect();
    let average = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    let modes = modes();
    let mut runs: Vec<Vec<Run>> = modes.iter().map(|_| Vec::new()).collect();
    // A warm-up run of each mode, not counted (page faults, allocator growth).
    for mode in &modes {
        let warm = &messages[..messages.len().min(2000)];
        if let Err(e) = run(mode, warm, options.window) {
            eprintln!("{}: {e}", mode.name);
            std::process::exit(1);
        }
    }
    for _ in 0..options.reps {
        for (mode, results) in modes.iter().zip(&mut runs) {
            match run(mode, &messages, options.window) {
                Ok(result) => results.push(result),
                Err(e) => {
                    eprintln!("{}: {e}", mode.name);
                    std::process::exit(1);
                }
            }
        }
    }

    println!(
        "{} JSON text messages per run, {}-{} bytes (mean {average:.0}), {} in flight, \
         median of {} runs; deflate at the defaults (level 1, 15-bit windows, threshold 1024)\n",
        options.messages,
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
        options.window,
        options.reps,
    );
    println!(
        "| mode | server CPU µs/msg | client CPU µs/msg | msgs/s | server→client wire/payload | client→server wire/payload |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (mode, results) in modes.iter().zip(&runs) {
        let per_msg = |d: Duration| d.as_secs_f64() * 1e6 / options.messages as f64;
        let server = median(results.iter().map(|r| per_msg(r.server_cpu)).collect());
        let client = median(results.iter().map(|r| per_msg(r.client_cpu)).collect());
        let rate = median(
            results
                .iter()
                .map(|r| options.messages as f64 / r.wall.as_secs_f64())
                .collect(),
        );
        let down = median(
            results
                .iter()
                .map(|r| r.server_wrote as f64 / r.payload as f64)
                .collect(),
        );
        let up = median(
            results
                .iter()
                .map(|r| r.server_read as f64 / r.payload as f64)
                .collect(),
        );
        println!(
            "| {} | {server:.2} | {client:.2} | {rate:.0} | {down:.3} | {up:.3} |",
            mode.name
        );
    }
}
