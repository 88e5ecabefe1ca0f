#!/usr/bin/env python3
"""Side-by-side client benchmark: tower-websocket's client against tokio-tungstenite's and
fastwebsockets', each echoing through the same server on loopback, on this machine.

Builds `echo_server` and `client_load` once (release), then for every repetition and every cell
starts one echo server (`ours` unless --server says otherwise) on a fresh 127.0.0.1 port for each
client library (in an order rotated every repetition), runs `client_load` with that library
against it, and stops it. `client_load` runs every connection on one single-threaded runtime, so
the client gets at most one core: its CPU time per message is what the library costs a user.
Prints markdown tables of medians across repetitions and saves the raw RESULT lines to
target/bench/clients-<timestamp>.txt (tables beside them, .md).

    python3 bench/client_compare.py            # every cell, 3 repetitions (about 4 minutes)
    python3 bench/client_compare.py --quick    # 1 repetition, 1 s cells, fewer cells

Python 3 standard library only; shares its helpers with compare.py.
"""

import argparse
import datetime
import os
import shlex
import statistics
import sys
import time

from compare import (BIN, OUT_DIR, ROOT, Failure, build, finish_report, fmt_num, log,
                     machine_header, median, parse_result, run, run_main, start_server, stop,
                     table)
import compare

CLIENTS = ["ours", "tungstenite", "fastwebsockets"]


def traffic(conns, inflight, size):
    return {"conns": conns, "inflight": inflight, "size": size}


# Cell name -> what client_load runs.
CELLS = {
    "pp-16-1": traffic(1, 1, "16"),
    "pp-1k-100": traffic(100, 1, "1k"),
    "w16-16-100": traffic(100, 16, "16"),
    "w16-1k-100": traffic(100, 16, "1k"),
    "pp-64k-1": traffic(1, 1, "64k"),
    "big-1m": traffic(1, 1, "1m"),
}

QUICK_CELLS = ["pp-16-1", "w16-1k-100", "big-1m"]

CELL_HELP = {
    "pp": "ping-pong: each connection sends one message with `send` and waits for its echo",
    "w16": "each connection queues 16 messages (`feed` + `flush`, or the library's way) "
           "and then reads their 16 echoes",
    "big": "1 connection, ping-pong, large messages",
}


def run_client(client, cell, addr, server, opts):
    cmd = [
        os.path.join(BIN, "client_load"), client,
        "--addr", addr,
        "-c", str(cell["conns"]),
        "-w", str(cell["inflight"]),
        "-s", cell["size"],
        "-d", str(opts.duration),
        "--warmup", str(opts.warmup),
        "--server-pid", str(server.pid),
    ]
    res = run(cmd, timeout=opts.warmup + opts.duration + 120, capture_output=True, text=True)
    lines = [l for l in res.stdout.splitlines() if l.startswith("RESULT ")]
    if res.returncode != 0 or len(lines) != 1:
        tail = (res.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise Failure(f"client_load exited {res.returncode}: {tail}")
    return cmd, lines[0]


def tables(results, cells, clients):
    """results[(cell, client)] -> list of per-rep dicts (None for a failed run)."""
    out = []

    def runs(cell, client):
        return [r for r in results.get((cell, client), []) if r is not None]

    def failed(cell, client):
        return any(r is None for r in results.get((cell, client), []))

    def missing(cell, client):
        return "ERR" if failed(cell, client) else "—"

    def metric(key):
        def value(cell, client):
            m = median([r.get(key) for r in runs(cell, client)])
            return missing(cell, client) if m is None else fmt_num(m)
        return value

    if "ours" in clients:
        def ratio(cell, client):
            if client == "ours":
                m = median([r["msgs_per_s"] for r in runs(cell, "ours")])
                return f"1.00 ({fmt_num(m)}/s)" if m else missing(cell, client)
            base = results.get((cell, "ours"), [])
            theirs = results.get((cell, client), [])
            ratios = [t["msgs_per_s"] / b["msgs_per_s"] for b, t in zip(base, theirs)
                      if b and t and b["msgs_per_s"] > 0]
            if not ratios:
                return missing(cell, client)
            return f"{statistics.median(ratios):.2f}"
        out += table(
            "Throughput: msgs/s as a ratio to tower-websocket's client",
            "Median over repetitions of (client msgs/s ÷ tower-websocket's msgs/s in the same "
            "repetition); the ours column gives its median msgs/s. Below 1.00 means slower than "
            "tower-websocket.",
            cells, clients, ratio)
    else:
        out += table("Throughput: msgs/s (median)", "tower-websocket's client was not run.",
                     cells, clients, metric("msgs_per_s"))
    out += table(
        "Client CPU µs per message",
        "Median of (client utime+stime over the measured window ÷ messages echoed): the "
        "library's cost for one message out (framing, masking, writing) and its echo in "
        "(reading, parsing). /proc ticks are 10 ms. Lower is better.",
        cells, clients, metric("client_us_per_msg"))
    out += table(
        "Client CPU, % of one core",
        "At 100 the client is the bottleneck, and msgs/s compares libraries directly.",
        cells, clients, metric("client_cpu_pct"))
    out += table(
        "Server CPU µs per message",
        "The same server for every client: differences come from how clients write (one frame "
        "per write, or several).",
        cells, clients, metric("server_us_per_msg"))
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
    ap.add_argument("--server", default="ours",
                    help="the echo server every client talks to (default ours): "
                    + ",".join(compare.IMPLS[1:]))
    ap.add_argument("--only", help="comma-separated clients (default all): " + ",".join(CLIENTS))
    ap.add_argument("--cells", help="comma-separated cells (default all; see below)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    argv = sys.argv[1:]
    opts = ap.parse_args(argv)
    q = opts.quick
    opts.reps = opts.reps or (1 if q else 3)
    opts.duration = opts.duration or (1.0 if q else 3.0)
    opts.warmup = opts.warmup if opts.warmup is not None else (0.5 if q else 1.0)
    clients = opts.only.split(",") if opts.only else list(CLIENTS)
    cells = opts.cells.split(",") if opts.cells else (QUICK_CELLS if q else list(CELLS))
    for c in clients:
        if c not in CLIENTS:
            ap.error(f"unknown client {c!r}; known: {', '.join(CLIENTS)}")
    for c in cells:
        if c not in CELLS:
            ap.error(f"unknown cell {c!r}; known: {', '.join(CELLS)}")
    if opts.server not in compare.IMPLS[1:]:
        ap.error(f"unknown server {opts.server!r}; known: {', '.join(compare.IMPLS[1:])}")
    if opts.reps < 1 or opts.duration <= 0:
        ap.error("--reps and --duration must be positive")

    os.makedirs(OUT_DIR, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_path = os.path.join(OUT_DIR, f"clients-{stamp}.txt")
    server_log_path = os.path.join(OUT_DIR, f"clients-servers-{stamp}.log")
    started = time.monotonic()

    if not opts.no_build and not build():
        return 2

    header = machine_header(argv, "bench/client_compare.py",
                            f"{opts.reps} repetition(s), {opts.duration:g} s measured after "
                            f"{opts.warmup:g} s warm-up, one client thread, server "
                            f"`{opts.server}`")
    results = {}  # (cell, client) -> [dict or None per rep]
    failures = []
    with open(results_path, "w") as out, open(server_log_path, "w") as server_log:
        for line in header:
            out.write(f"# {line}\n")
        for rep in range(opts.reps):
            for ci, name in enumerate(cells):
                cell = CELLS[name]
                shift = (rep + ci) % len(clients)
                for client in clients[shift:] + clients[:shift]:
                    tag = f"[rep {rep + 1}/{opts.reps}] {name:<11} {client:<15}"
                    server_log.write(f"--- rep={rep} cell={name} client={client}\n")
                    server_log.flush()
                    server = None
                    try:
                        server, addr = start_server(opts.server, server_log)
                        cmd, line = run_client(client, cell, addr, server, opts)
                        r = parse_result(line)
                        results.setdefault((name, client), []).append(r)
                        log(f"{tag} {r['msgs_per_s']:>12,.0f} msgs/s  "
                            f"client {r['client_us_per_msg']} µs/msg  "
                            f"server {r['server_us_per_msg']} µs/msg")
                        out.write(f"# rep={rep} cell={name} client={client} "
                                  f"cmd: {shlex.join(cmd)}\n{line}\n")
                    except Failure as e:
                        failures.append(f"rep {rep + 1} {name} {client}: {e}")
                        log(f"{tag} FAILED: {e}")
                        out.write(f"# rep={rep} cell={name} client={client}\nERROR {e}\n")
                        results.setdefault((name, client), []).append(None)
                    finally:
                        if server is not None:
                            stop(server)
                    out.flush()

        elapsed = time.monotonic() - started
        report = ["## tower-websocket client benchmark", ""] + [f"- {h}" for h in header]
        report += [f"- Wall time: {elapsed / 60:.1f} min. Raw RESULT lines: "
                   f"`{os.path.relpath(results_path, ROOT)}`.", ""]
        report += ["Cells: " + "; ".join(f"`{k}-SIZE-CONNS`: {v}" for k, v in CELL_HELP.items())
                   + ".", ""]
        report += tables(results, cells, clients)
        finish_report(report, failures, results_path, out, elapsed)
    return 1 if failures else 0


if __name__ == "__main__":
    run_main(main)
