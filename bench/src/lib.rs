//! Echo servers for the side-by-side benchmarks, one module per implementation, and the small
//! accept loop they share. The `echo_server` binary dispatches to them; the `load` binary drives
//! them; `compare.py` runs the matrix.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

pub mod clients;
pub mod servers;

/// The implementations `echo_server` can run, in the order the tables list them.
pub const IMPLS: &[&str] = &[
    "raw",
    "ours",
    "fastwebsockets",
    "tokio-websockets",
    "tungstenite",
    "axum",
];

/// Parses `ADDR` and refuses anything that is not a loopback address.
pub fn loopback_addr(arg: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = arg
        .parse()
        .map_err(|e| format!("invalid address {arg:?}: {e} (expected e.g. 127.0.0.1:0)"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    Ok(addr)
}

/// Accepts connections forever, sets `TCP_NODELAY` on each and runs `serve` for it in its own
/// task. Transient accept errors (e.g. out of file descriptors) are waited out, not fatal.
pub async fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Every implementation gets the same socket options.
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream));
    }
}

/// Parses the value of a numeric command-line flag; the error names the flag and the value.
pub fn parse_number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| format!("{flag} {value:?}: {e}"))
}

/// Parses a payload size: a number of bytes, or one with a `k` (KiB) or `m` (MiB) suffix.
pub fn parse_size(arg: &str) -> Result<usize, String> {
    let lower = arg.to_ascii_lowercase();
    let (digits, unit) = match lower.as_bytes().last() {
        Some(b'k') => (&lower[..lower.len() - 1], 1 << 10),
        Some(b'm') => (&lower[..lower.len() - 1], 1 << 20),
        _ => (lower.as_str(), 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| format!("bad size {arg:?} (expected e.g. 16, 1k, 64k, 1m, 16m)"))
}

/// A process's user + system CPU time in clock ticks (`pid` may be `self`), from
/// `/proc/PID/stat`; `None` where that cannot be read.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime and stime are fields 14 and 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16").unwrap(), 16);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("64K").unwrap(), 65536);
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert_eq!(parse_size("16m").unwrap(), 16 << 20);
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn numbers_name_their_flag() {
        assert_eq!(parse_number::<usize>("-c", "100"), Ok(100));
        let error = parse_number::<usize>("-c", "lots").unwrap_err();
        assert!(error.starts_with("-c \"lots\": "), "{error}");
    }

    #[test]
    fn own_cpu_time_is_readable() {
        assert!(cpu_ticks("self").is_some());
        assert!(cpu_ticks("not-a-pid").is_none());
    }
}
