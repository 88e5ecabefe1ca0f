//! `client_load`: a WebSocket echo load generator built on one client library, to compare clients.
//!
//! `load` keeps its client cheap so that the server dominates; this one does the opposite: every
//! connection is a client library used the way its documentation shows, so that what the client
//! spends per message is what a user of that library would spend. All connections run on one
//! single-threaded tokio runtime, so the client can use at most one core and its CPU time per
//! message compares libraries directly.
//!
//! Prints one `RESULT key=value ...` line on stdout. Run `client_load --help` for the options.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tower_websocket_bench::{clients, cpu_ticks, loopback_addr, parse_number, parse_size};

const USAGE: &str = "\
client_load: a WebSocket echo load generator on one client library (loopback only)

USAGE: client_load IMPL --addr 127.0.0.1:PORT [options]

  IMPL                 ours, tungstenite or fastwebsockets
  --addr ADDR          an echo server's address; loopback only (required)
  -c N                 connections (default 1)
  -w N                 messages sent before waiting for their echoes; 1 = ping-pong (default 1)
  -s SIZE              binary payload bytes: 16, 1k, 64k, 1m or any number (default 16)
  -d SECS              measured seconds (default 3)
  --warmup SECS        seconds of traffic before measuring (default 1)
  --server-pid PID     also sample the server's CPU time (/proc/PID/stat) over the window
  -h, --help           this text

RESULT fields: msgs_per_s (echoes received per second over the measured window);
client_us_per_msg (this process's CPU µs per echoed message: send, receive, masking, framing);
client_cpu_pct (% of one core); server_us_per_msg (`na` without --server-pid).
";

/// Clock ticks per second in /proc/PID/stat.
const CLK_TCK: f64 = 100.0;

struct Options {
    implementation: String,
    addr: SocketAddr,
    conns: usize,
    window: usize,
    size: usize,
    duration: f64,
    warmup: f64,
    server_pid: Option<u32>,
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut implementation = None;
    let mut addr = None;
    let mut o = Options {
        implementation: String::new(),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        conns: 1,
        window: 1,
        size: 16,
        duration: 3.0,
        warmup: 1.0,
        server_pid: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--addr" => addr = Some(loopback_addr(&value()?)?),
            "-c" => o.conns = parse_number(&flag, &value()?)?,
            "-w" => o.window = parse_number(&flag, &value()?)?,
            "-s" => o.size = parse_size(&value()?)?,
            "-d" => o.duration = seconds(&flag, &value()?)?,
            "--warmup" => o.warmup = seconds(&flag, &value()?)?,
            "--server-pid" => o.server_pid = Some(parse_number(&flag, &value()?)?),
            name if !name.starts_with('-') && implementation.is_none() => {
                implementation = Some(name.to_owned());
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    o.implementation = implementation.ok_or("IMPL is required (see --help)")?;
    if !clients::IMPLS.contains(&o.implementation.as_str()) {
        return Err(format!(
            "unknown IMPL {:?}: one of {}",
            o.implementation,
            clients::IMPLS.join(", ")
        ));
    }
    o.addr = addr.ok_or("--addr is required (see --help)")?;
    if o.conns == 0 || o.window == 0 || o.duration <= 0.0 {
        return Err("-c, -w and -d must be positive".into());
    }
    Ok(o)
}

fn seconds(flag: &str, value: &str) -> Result<f64, String> {
    let secs: f64 = parse_number(flag, value)?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{flag}: {value:?} is not a duration in seconds"));
    }
    Ok(secs)
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("client_load: {message}");
    std::process::exit(1)
}

struct Sample {
    at: Instant,
    echoes: u64,
    client: Option<u64>,
    server: Option<u64>,
}

fn main() {
    let o = parse_options(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("client_load: {e}");
        std::process::exit(2)
    });
    // A watchdog: whatever happens, the process ends.
    let budget = Duration::from_secs_f64(o.warmup + o.duration + 60.0);
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        fail(format!("watchdog: still running after {budget:?}"));
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")));
    runtime.block_on(run(o));
}

async fn run(o: Options) {
    let url = format!("ws://{}/", o.addr);
    let payload: Bytes = (0..o.size).map(|i| (i * 31 % 251) as u8).collect();
    let echoes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<Result<(), String>>(o.conns);
    let mut tasks = Vec::with_capacity(o.conns);
    for _ in 0..o.conns {
        let job = clients::Job {
            url: url.clone(),
            payload: payload.clone(),
            window: o.window,
            echoes: echoes.clone(),
            stop: stop.clone(),
            ready: ready_tx.clone(),
        };
        tasks.push(tokio::spawn(clients::run(o.implementation.clone(), job)));
    }
    drop(ready_tx);
    // Every connection has handshaken and checked one echo byte for byte before timing starts.
    for _ in 0..o.conns {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => fail(e),
            None => fail("a connection ended before its first echo"),
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
    let server_pid = o.server_pid.map(|p| p.to_string());
    let sample = || Sample {
        at: Instant::now(),
        echoes: echoes.load(Ordering::Relaxed),
        client: cpu_ticks("self"),
        server: server_pid.as_deref().and_then(cpu_ticks),
    };
    let first = sample();
    tokio::time::sleep(Duration::from_secs_f64(o.duration)).await;
    let last = sample();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => fail(format!("a connection failed: {e}")),
            Ok(Err(e)) => fail(format!("a connection task panicked: {e}")),
            Err(_) => fail("a connection did not finish within 10 s of the end"),
        }
    }

    let secs = last.at.duration_since(first.at).as_secs_f64();
    let messages = last.echoes - first.echoes;
    if messages == 0 {
        fail("no echo in the measured window");
    }
    let per_msg = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.3}", (b - a) as f64 / CLK_TCK * 1e6 / messages as f64),
        _ => "na".to_owned(),
    };
    let client_pct = match (first.client, last.client) {
        (Some(a), Some(b)) => format!("{:.1}", (b - a) as f64 / CLK_TCK / secs * 100.0),
        _ => "na".to_owned(),
    };
    println!(
        "RESULT impl={} conns={} inflight={} size={} msgs_per_s={:.1} client_us_per_msg={} \
         client_cpu_pct={} server_us_per_msg={}",
        o.implementation,
        o.conns,
        o.window,
        o.size,
        messages as f64 / secs,
        per_msg(first.client, last.client),
        client_pct,
        per_msg(first.server, last.server),
    );
}
