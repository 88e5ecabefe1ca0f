#!/usr/bin/env python3
"""Side-by-side echo benchmark: tower-websocket against a raw TCP echo and other Rust WebSocket
servers, on loopback, on this machine.

Builds `echo_server` and `load` once (release), then for every repetition and every cell starts
each server on a fresh 127.0.0.1 port (in an order rotated every repetition), runs `load` against
it with `--server-pid`, and stops it. Prints markdown tables of medians across repetitions and
saves the raw RESULT lines to target/bench/results-<timestamp>.txt (tables beside them, .md).

    python3 bench/compare.py            # the full matrix, 3 repetitions
    python3 bench/compare.py --quick    # 1 repetition, 1 s cells, fewer cells: a smoke test

Python 3 standard library only.
"""

import argparse
import datetime
import os
import platform
import re
import select
import shlex
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "target")
BIN = os.path.join(TARGET, "release")
OUT_DIR = os.path.join(TARGET, "bench")

IMPLS = ["raw", "ours", "fastwebsockets", "tokio-websockets", "tungstenite", "axum"]


def traffic(conns, inflight, size, short=False):
    return {"kind": "traffic", "conns": conns, "inflight": inflight, "size": size, "short": short}


# Cell name -> what load runs. "short" cells run at most 2 s (16 MiB messages are slow).
CELLS = {}
for _size in ("16", "1k", "64k"):
    for _conns in (1, 100, 1000):
        CELLS[f"pp-{_size}-{_conns}"] = traffic(_conns, 1, _size)
CELLS["w16-16-100"] = traffic(100, 16, "16")
CELLS["w16-1k-100"] = traffic(100, 16, "1k")
CELLS["big-1m"] = traffic(1, 1, "1m")
CELLS["big-16m"] = traffic(1, 1, "16m", short=True)
CELLS["idle"] = {"kind": "idle"}

QUICK_CELLS = ["pp-16-1", "pp-1k-100", "pp-16-1000", "pp-64k-1", "w16-1k-100", "big-16m", "idle"]

CELL_HELP = {
    "pp": "ping-pong (1 message in flight per connection)",
    "w16": "16 messages in flight per connection",
    "big": "1 connection, 1 message in flight, large messages",
}

# Every process we started and have not reaped yet: killed on the way out, whatever happens.
LIVE = []


class Failure(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, timeout, **kw):
    """subprocess.run with a timeout; raises Failure on timeout."""
    try:
        return subprocess.run(cmd, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise Failure(f"timed out after {timeout:.0f} s: {shlex.join(cmd)}")


def spawn(cmd, **kw):
    proc = subprocess.Popen(cmd, **kw)
    LIVE.append(proc)
    return proc


def stop(proc, grace=5.0):
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    if proc in LIVE:
        LIVE.remove(proc)


def read_line(proc, deadline):
    """One line of proc's stdout, or None if the deadline passes or stdout closes first."""
    buf = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 1)
        if not chunk:
            return None
        buf += chunk
        if chunk == b"\n":
            return buf.decode(errors="replace").strip()
    return None


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure(f"no VmRSS for pid {pid}")


def start_server(impl, logfile):
    proc = spawn(
        [os.path.join(BIN, "echo_server"), impl, "127.0.0.1:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=logfile,
    )
    line = read_line(proc, time.monotonic() + 15)
    m = re.match(r"listening on (127\.0\.0\.1:\d+)$", line or "")
    if not m:
        stop(proc)
        raise Failure(f"{impl}: server did not say it was listening (got {line!r})")
    return proc, m.group(1)


def parse_result(line):
    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
    out = {}
    for key, value in fields.items():
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def run_traffic(impl, cell, addr, server, opts):
    duration, warmup = opts.duration, opts.warmup
    if cell["short"]:
        duration, warmup = min(duration, 2.0), min(warmup, 0.5)
    cmd = [
        os.path.join(BIN, "load"),
        "--addr", addr,
        "--impl", impl,
        "-c", str(cell["conns"]),
        "-w", str(cell["inflight"]),
        "-s", cell["size"],
        "-d", str(duration),
        "--warmup", str(warmup),
        "-t", str(opts.threads),
        "--server-pid", str(server.pid),
        "--syscall-secs", str(opts.syscall_secs),
    ]
    if impl == "raw":
        cmd.append("--raw")
    res = run(cmd, timeout=warmup + duration + opts.syscall_secs + 120,
              capture_output=True, text=True)
    lines = [l for l in res.stdout.splitlines() if l.startswith("RESULT ")]
    if res.returncode != 0 or len(lines) != 1:
        tail = (res.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise Failure(f"load exited {res.returncode}: {tail}")
    return cmd, lines[0]


def run_idle(impl, addr, server, opts):
    load = os.path.join(BIN, "load")
    # Warm the server first (threads, allocator, handshake path) so the baseline is not the
    # untouched process; these connections are closed cleanly before the baseline is read.
    run([load, "--addr", addr, "--impl", impl, "--connect-only", "50"], timeout=60,
        capture_output=True)
    time.sleep(0.3)
    before = vm_rss_kib(server.pid)
    n = opts.idle_conns
    cmd = [load, "--addr", addr, "--impl", impl, "--idle", str(n), "--hold", "60"]
    proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)
    try:
        line = read_line(proc, time.monotonic() + 90)
        if not line or not line.startswith("READY"):
            stop(proc)
            err = proc.stderr.read().decode(errors="replace").strip().splitlines()
            raise Failure(f"load --idle did not get READY: {err[-1] if err else line!r}")
        time.sleep(1.0)  # let the server finish settling the last upgrades
        after = vm_rss_kib(server.pid)
    finally:
        stop(proc)
    per_conn = (after - before) / n
    line = (f"IDLE impl={impl} conns={n} rss_before_kib={before} rss_after_kib={after} "
            f"kib_per_conn={per_conn:.3f}")
    return cmd, line


def machine_header(argv, script, run_detail):
    """The lines that say where, what and how a run was measured; `run_detail` describes the
    repetitions and durations."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                                  cwd=ROOT).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"

    commit = out(["git", "rev-parse", "--short", "HEAD"])
    if out(["git", "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    return [
        f"Machine: {os.cpu_count()} CPUs ({model}), Linux {platform.release()}; "
        f"client and server share the CPUs.",
        f"Build: {out(['rustc', '-V'])}, release profile; commit {commit}.",
        f"Command: `{shlex.join(['python3', script] + argv)}` ({run_detail}); "
        f"{datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}.",
    ]


def fmt_num(x):
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def median(values):
    values = [v for v in values if isinstance(v, float)]
    return statistics.median(values) if values else None


def table(title, note, cells, impls, cell_value):
    """cell_value(cell, impl) -> str. One row per cell, one column per implementation."""
    lines = [f"### {title}", "", note, "", "| cell | " + " | ".join(impls) + " |",
             "|---|" + "---:|" * len(impls)]
    for cell in cells:
        lines.append(f"| {cell} | " + " | ".join(cell_value(cell, i) for i in impls) + " |")
    return lines + [""]


def tables(results, idle, cells, impls, opts):
    """results[(cell, impl)] -> list of per-rep dicts (None for a failed run)."""
    traffic_cells = [c for c in cells if CELLS[c]["kind"] == "traffic"]
    out = []

    def runs(cell, impl):
        return [r for r in results.get((cell, impl), []) if r is not None]

    def failed(cell, impl):
        return any(r is None for r in results.get((cell, impl), []))

    def metric(key):
        def value(cell, impl):
            m = median([r.get(key) for r in runs(cell, impl)])
            if m is None:
                return "ERR" if failed(cell, impl) else "—"
            return fmt_num(m)
        return value

    if traffic_cells:
        if "raw" in impls:
            def ratio(cell, impl):
                raw = results.get((cell, "raw"), [])
                mine = results.get((cell, impl), [])
                if impl == "raw":
                    m = median([r["msgs_per_s"] for r in runs(cell, "raw")])
                    return f"1.00 ({fmt_num(m)}/s)" if m else ("ERR" if failed(cell, impl) else "—")
                ratios = [m["msgs_per_s"] / r["msgs_per_s"] for r, m in zip(raw, mine)
                          if r and m and r["msgs_per_s"] > 0]
                if not ratios:
                    return "ERR" if failed(cell, impl) else "—"
                return f"{statistics.median(ratios):.2f}"
            out += table(
                "Throughput: msgs/s as a ratio to the raw TCP echo",
                "Median over repetitions of (server msgs/s ÷ raw msgs/s in the same repetition); "
                "the raw column gives the raw echo's median msgs/s. Higher is better; 1.00 is the "
                "physical limit of the same byte stream on this machine.",
                traffic_cells, impls, ratio)
        else:
            out += table("Throughput: msgs/s (median)", "No raw run to compare with.",
                         traffic_cells, impls, metric("msgs_per_s"))
        out += table(
            "Server CPU µs per message",
            "Median of (server utime+stime over the measured window ÷ messages echoed); "
            "/proc ticks are 10 ms, so short runs at low rates are coarse. Lower is better.",
            traffic_cells, impls, metric("server_us_per_msg"))
        out += table(
            "Server syscalls per message",
            "Every syscall the server entered (perf stat, raw_syscalls:sys_enter: reads, writes, "
            "epoll_wait, futex, ...) over a tail window after the measured one, per message echoed "
            "in that window. Lower is better.",
            traffic_cells, impls, metric("server_syscalls_per_msg"))
        out += table(
            "Round-trip time p99 (µs)",
            "Median over repetitions of the client's p99 round-trip time.",
            traffic_cells, impls, metric("p99_us"))
    if "idle" in cells:
        def rss(cell, impl):
            if impl == "raw":
                return "—"
            vals = [v for v in idle.get(impl, []) if v is not None]
            if not vals:
                return "ERR" if idle.get(impl) else "—"
            return f"{statistics.median(vals):.2f}"
        out += table(
            f"Memory: server RSS KiB per idle connection ({opts.idle_conns:,} open)",
            "Median of (VmRSS with the connections open, after the handshake and 1 s to settle, "
            "minus VmRSS before) ÷ connections. Lower is better.",
            ["idle"], impls, rss)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="cells: " + ", ".join(CELLS))
    ap.add_argument("--quick", action="store_true",
                    help="1 repetition, 1 s cells, fewer cells: a smoke test")
    ap.add_argument("--reps", type=int, help="repetitions (default 3, 1 with --quick)")
    ap.add_argument("--duration", type=float, help="measured seconds per cell (default 3; 1 quick)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds per cell (default 1; 0.5 quick)")
    ap.add_argument("--syscall-secs", type=float,
                    help="syscall-counting tail window per cell (default 1; 0.5 quick; 0 = off)")
    ap.add_argument("--threads", type=int, default=1, help="client threads (default 1)")
    ap.add_argument("--idle-conns", type=int, default=10000,
                    help="connections for the idle cell (default 10000)")
    ap.add_argument("--only", help="comma-separated implementations (default all): "
                    + ",".join(IMPLS))
    ap.add_argument("--cells", help="comma-separated cells (default all; see below)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    argv = sys.argv[1:]
    opts = ap.parse_args(argv)
    q = opts.quick
    opts.reps = opts.reps or (1 if q else 3)
    opts.duration = opts.duration or (1.0 if q else 3.0)
    opts.warmup = opts.warmup if opts.warmup is not None else (0.5 if q else 1.0)
    opts.syscall_secs = (opts.syscall_secs if opts.syscall_secs is not None
                         else (0.5 if q else 1.0))
    impls = opts.only.split(",") if opts.only else list(IMPLS)
    cells = opts.cells.split(",") if opts.cells else (QUICK_CELLS if q else list(CELLS))
    for i in impls:
        if i not in IMPLS:
            ap.error(f"unknown implementation {i!r}; known: {', '.join(IMPLS)}")
    for c in cells:
        if c not in CELLS:
            ap.error(f"unknown cell {c!r}; known: {', '.join(CELLS)}")
    if opts.reps < 1 or opts.duration <= 0 or opts.idle_conns < 1 or opts.threads < 1:
        ap.error("--reps, --duration, --idle-conns and --threads must be positive")

    os.makedirs(OUT_DIR, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_path = os.path.join(OUT_DIR, f"results-{stamp}.txt")
    server_log_path = os.path.join(OUT_DIR, f"servers-{stamp}.log")
    started = time.monotonic()

    if not opts.no_build and not build():
        return 2

    header = machine_header(argv, "bench/compare.py",
                            f"{opts.reps} repetition(s), {opts.duration:g} s measured after "
                            f"{opts.warmup:g} s warm-up, {opts.threads} client thread(s)")
    results = {}  # (cell, impl) -> [dict or None per rep]
    idle = {}  # impl -> [kib_per_conn or None per rep]
    failures = []
    with open(results_path, "w") as out, open(server_log_path, "w") as server_log:
        for line in header:
            out.write(f"# {line}\n")
        for rep in range(opts.reps):
            for ci, name in enumerate(cells):
                cell = CELLS[name]
                shift = (rep + ci) % len(impls)
                order = impls[shift:] + impls[:shift]
                for impl in order:
                    if cell["kind"] == "idle" and impl == "raw":
                        continue  # no handshake, nothing to hold
                    tag = f"[rep {rep + 1}/{opts.reps}] {name:<11} {impl:<17}"
                    server_log.write(f"--- rep={rep} cell={name} impl={impl}\n")
                    server_log.flush()
                    server = None
                    try:
                        server, addr = start_server(impl, server_log)
                        if cell["kind"] == "idle":
                            cmd, line = run_idle(impl, addr, server, opts)
                            value = float(parse_result(line)["kib_per_conn"])
                            idle.setdefault(impl, []).append(value)
                            log(f"{tag} {value:.2f} KiB/conn")
                        else:
                            cmd, line = run_traffic(impl, cell, addr, server, opts)
                            r = parse_result(line)
                            results.setdefault((name, impl), []).append(r)
                            log(f"{tag} {r['msgs_per_s']:>12,.0f} msgs/s  "
                                f"{r['server_us_per_msg']} µs/msg  "
                                f"{r['server_syscalls_per_msg']} syscalls/msg")
                        out.write(f"# rep={rep} cell={name} impl={impl} cmd: {shlex.join(cmd)}\n")
                        out.write(line + "\n")
                    except Failure as e:
                        failures.append(f"rep {rep + 1} {name} {impl}: {e}")
                        log(f"{tag} FAILED: {e}")
                        out.write(f"# rep={rep} cell={name} impl={impl}\nERROR {e}\n")
                        if cell["kind"] == "idle":
                            idle.setdefault(impl, []).append(None)
                        else:
                            results.setdefault((name, impl), []).append(None)
                    finally:
                        if server is not None:
                            stop(server)
                    out.flush()

        elapsed = time.monotonic() - started
        report = [f"## tower-websocket echo benchmark", ""] + [f"- {h}" for h in header]
        report += [f"- Wall time: {elapsed / 60:.1f} min. Raw RESULT lines: "
                   f"`{os.path.relpath(results_path, ROOT)}`.", ""]
        report += ["Cells: " + "; ".join(f"`{k}-SIZE-CONNS`: {v}" for k, v in CELL_HELP.items())
                   + "; `idle`: idle connections held open.", ""]
        report += tables(results, idle, cells, impls, opts)
        finish_report(report, failures, results_path, out, elapsed)
    return 1 if failures else 0


def build():
    """Builds the benchmark binaries (release); False if the build failed."""
    log("building (release) ...")
    res = run(["cargo", "build", "--release", "-p", "tower-websocket-bench"], timeout=1800,
              cwd=ROOT)
    if res.returncode != 0:
        log("build failed")
    return res.returncode == 0


def finish_report(report, failures, results_path, out, elapsed):
    """Prints the report (with the failures, if any), saves it beside the raw results as .md,
    and ends the raw results with the wall time."""
    if failures:
        report = report + ["### Failures", ""] + [f"- {f}" for f in failures] + [""]
    text = "\n".join(report)
    print(text)
    with open(results_path[:-4] + ".md", "w") as md:
        md.write(text + "\n")
    out.write(f"# wall time {elapsed:.0f} s\n")
    log(f"results: {results_path}")


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def run_main(main):
    """Runs `main` as the script, exiting with its status; SIGTERM and SIGHUP end it too, and
    every process it started and did not reap is killed on the way out."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        sys.exit(main())
    finally:
        for proc in list(LIVE):
            try:
                proc.kill()
                proc.wait(timeout=5)
            except Exception:
                pass


if __name__ == "__main__":
    run_main(main)
