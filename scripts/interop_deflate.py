#!/usr/bin/env python3
"""permessage-deflate interop: the `websockets` library (PyPI) as a compressing client against
an echo server that compresses every message (examples/autobahn_server.rs).

    python3 scripts/interop_deflate.py --url ws://127.0.0.1:PORT/

Run by scripts/interop-deflate.sh, which sets up the venv and the server. For each offer
variant (the library's default offer; client_max_window_bits 9..15; no context takeover both
ways; server_max_window_bits 8..15; a combination), it connects through a local byte-counting
relay, checks the negotiated Sec-WebSocket-Extensions, echoes text and binary messages of 0, 1,
100, 10 KiB and 1 MiB (each three times in a row), compares every echo, and checks the frames
the relay saw: RSV1 on every data frame both ways when deflate was negotiated (both ends
compress every message), never on control frames, never at all when it was declined; fewer
payload bytes on the wire than were sent (under half for the text); and repeats shrinking
with the server's context takeover and not without. Exits 1 on any failure. Every wait is bounded.
"""

import argparse
import os
import random
import socket
import sys
import threading
import time
from urllib.parse import urlparse

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

SIZES = [0, 1, 100, 10 * 1024, 1 << 20]
REPEATS = 3
IO_TIMEOUT = 30.0

# ----------------------------------------------------------------------------- messages ---

NAMES = ["alice", "bob", "carol", "dave", "eve", "mallory", "trent"]
ACTIONS = ["move", "chat", "buy", "sell", "join", "leave"]


def text_message(size, seed):
    """Deterministic JSON-like ASCII text of exactly `size` characters."""
    rng = random.Random(seed)
    parts, length = [], 0
    while length < size:
        record = '{"id":%d,"user":"%s","action":"%s","x":%d,"y":%d},' % (
            rng.randrange(100000),
            rng.choice(NAMES),
            rng.choice(ACTIONS),
            rng.randrange(-1000, 1000),
            rng.randrange(-250, 250),
        )
        parts.append(record)
        length += len(record)
    return "".join(parts)[:size]


def binary_message(size, seed):
    """Deterministic bytes, one in four random, the rest a slow ramp: compressible, not trivially."""
    rng = random.Random(seed)
    noise = rng.randbytes(size)
    return bytes(noise[i] if i % 4 == 0 else (i // 64) & 0xFF for i in range(size))


def messages():
    """(kind, size, payload) in sending order: each payload three times in a row."""
    out = []
    for size in SIZES:
        for kind, make in (("text", text_message), ("binary", binary_message)):
            payload = make(size, seed=size * 2 + (kind == "binary"))
            out.extend((kind, size, payload) for _ in range(REPEATS))
    return out


# -------------------------------------------------------------------------------- relay ---


class FrameCounter:
    """Parses one direction of a WebSocket stream (after the HTTP head) by frame headers only."""

    def __init__(self):
        self.buf = b""
        self.in_head = True
        self.skip = 0  # payload bytes of the current frame still to come
        self.frames = []  # (opcode, fin, rsv, payload_len)
        self.error = None

    def feed(self, data):
        if self.error:
            return
        self.buf += data
        if self.in_head:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.buf = self.buf[end + 4 :]
            self.in_head = False
        while True:
            if self.skip:
                taken = min(self.skip, len(self.buf))
                self.skip -= taken
                self.buf = self.buf[taken:]
                if self.skip:
                    return
            if len(self.buf) < 2:
                return
            b0, b1 = self.buf[0], self.buf[1]
            need = 2 + {126: 2, 127: 8}.get(b1 & 0x7F, 0) + (4 if b1 & 0x80 else 0)
            if len(self.buf) < need:
                return
            length = b1 & 0x7F
            if length == 126:
                length = int.from_bytes(self.buf[2:4], "big")
            elif length == 127:
                length = int.from_bytes(self.buf[2:10], "big")
            self.frames.append((b0 & 0x0F, bool(b0 & 0x80), (b0 >> 4) & 0x7, length))
            self.buf = self.buf[need:]
            self.skip = length


class Relay:
    """Accepts one connection on 127.0.0.1 and relays it to the server, counting frames."""

    def __init__(self, server_addr):
        self.server_addr = server_addr
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(IO_TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.up = FrameCounter()  # client -> server
        self.down = FrameCounter()  # server -> client
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.server_addr, timeout=IO_TIMEOUT)
        except OSError as e:
            self.errors.append(f"relay setup: {e}")
            return
        finally:
            self.listener.close()
        for s in (client, server):
            s.settimeout(IO_TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pumps = [
            threading.Thread(target=self._pump, args=(client, server, self.up), daemon=True),
            threading.Thread(target=self._pump, args=(server, client, self.down), daemon=True),
        ]
        for p in pumps:
            p.start()
        for p in pumps:
            p.join(IO_TIMEOUT * 4)
        client.close()
        server.close()

    def _pump(self, src, dst, counter):
        try:
            while True:
                data = src.recv(256 * 1024)
                if not data:
                    break
                counter.feed(data)
                dst.sendall(data)
        except OSError as e:
            self.errors.append(f"relay: {e}")
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def join(self):
        self.thread.join(IO_TIMEOUT * 5)
        if self.thread.is_alive():
            raise AssertionError("relay did not finish")


# ------------------------------------------------------------------------------- checks ---

DATA_OPCODES = (0x1, 0x2)


def check_frames(counter, sent, compressed, direction, takeover):
    """Checks one direction's frames against the messages sent that way."""
    problems = []
    data = [f for f in counter.frames if f[0] in DATA_OPCODES]
    for opcode, fin, rsv, _ in counter.frames:
        if rsv & 0b011:
            problems.append(f"{direction}: RSV2/RSV3 set (opcode {opcode:#x})")
        if rsv and opcode not in DATA_OPCODES:
            problems.append(f"{direction}: RSV1 on opcode {opcode:#x}")
    wire = sum(f[3] for f in data)
    plain = sum(size for _, size, _ in sent)
    if len(data) != len(sent):
        problems.append(f"{direction}: {len(data)} data frames for {len(sent)} messages")
        return problems, None
    if not any(f[0] == 0x8 for f in counter.frames):
        problems.append(f"{direction}: no close frame")
    for i, ((_, fin, rsv, _), (kind, size, _)) in enumerate(zip(data, sent)):
        if not fin:
            problems.append(f"{direction}: message {i} fragmented")
        if bool(rsv & 0b100) != compressed:
            problems.append(f"{direction}: message {i} ({kind} {size}) RSV1={rsv >> 2}")
    text_wire = sum(f[3] for f, (kind, _, _) in zip(data, sent) if kind == "text")
    text_plain = sum(size for kind, size, _ in sent if kind == "text")
    # Under half even with a 9-bit window (zlib then matches at most 250 bytes back).
    if compressed and not text_wire * 2 < text_plain:
        problems.append(f"{direction}: text: {text_wire} bytes on the wire for {text_plain}")
    if compressed and not wire < plain:
        problems.append(f"{direction}: {wire} payload bytes on the wire for {plain} sent")
    if not compressed and wire != plain:
        problems.append(f"{direction}: {wire} payload bytes on the wire for {plain} uncompressed")
    if compressed and takeover is not None:
        # The 100-byte text, three times: fits every window, so it shows context takeover.
        i = next(i for i, (kind, size, _) in enumerate(sent) if kind == "text" and size == 100)
        first, second, third = (data[i + k][3] for k in range(3))
        if takeover and not (second < first and third < first):
            problems.append(f"{direction}: repeats with takeover {first}, {second}, {third}")
        if not takeover and not (second == first == third):
            problems.append(f"{direction}: repeats without takeover {first}, {second}, {third}")
    return problems, f"payload on the wire/sent: text {text_wire / text_plain:.3f}, all {wire / plain:.3f}"


def run_variant(name, factory, expect, server_addr, url_path):
    """One connection with `factory`'s offer: None for the library's default offer, "off" for
    none at all (`compression=None`).

    `expect`: the exact Sec-WebSocket-Extensions answer, or None if there must be none.
    """
    relay = Relay(server_addr)
    kwargs = dict(
        open_timeout=IO_TIMEOUT,
        close_timeout=IO_TIMEOUT,
        ping_interval=None,
        max_size=16 << 20,
        proxy=None,
    )
    if factory == "off":
        kwargs["compression"] = None
    elif factory is not None:
        kwargs["extensions"] = [factory]
    sent = messages()
    problems = []
    with connect(f"ws://127.0.0.1:{relay.port}{url_path}", **kwargs) as ws:
        offer = ws.request.headers.get("Sec-WebSocket-Extensions")
        answer = ws.response.headers.get("Sec-WebSocket-Extensions")
        if answer != expect:
            problems.append(f"answer {answer!r}, expected {expect!r}")
        negotiated = [e for e in ws.protocol.extensions if e.name == "permessage-deflate"]
        for kind, size, payload in sent:
            ws.send(payload)
            echo = ws.recv(timeout=IO_TIMEOUT)
            if echo != payload:
                problems.append(f"{kind} {size}: echo differs ({len(echo)} bytes back)")
                break
    relay.join()
    problems += relay.errors
    compressed = expect is not None
    if compressed != bool(negotiated):
        problems.append(f"client extensions {ws.protocol.extensions}")
    server_takeover = not negotiated[0].remote_no_context_takeover if negotiated else None
    up, _ = check_frames(relay.up, sent, compressed, "client->server", None)
    down, ratios = check_frames(relay.down, sent, compressed, "server->client", server_takeover)
    problems += up + down
    status = "ok" if not problems else "FAIL"
    print(
        f"{status:4} {name:36} server->client {ratios}\n     offer {offer!r}, answer {answer!r}"
    )
    for p in problems:
        print(f"     {p}")
    return not problems


def variants():
    pmd = "permessage-deflate"
    yield "default offer", None, pmd
    for bits in range(9, 16):
        yield (
            f"client_max_window_bits={bits}",
            ClientPerMessageDeflateFactory(client_max_window_bits=bits),
            f"{pmd}; client_max_window_bits={bits}",
        )
    yield (
        "no context takeover (both)",
        ClientPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True
        ),
        f"{pmd}; server_no_context_takeover",
    )
    for bits in range(9, 16):
        yield (
            f"server_max_window_bits={bits}",
            ClientPerMessageDeflateFactory(server_max_window_bits=bits),
            f"{pmd}; server_max_window_bits={bits}",
        )
    # zlib cannot compress with an 8-bit window: the server declines, and echoes uncompressed.
    yield (
        "server_max_window_bits=8 (declined)",
        ClientPerMessageDeflateFactory(server_max_window_bits=8),
        None,
    )
    yield (
        "combined",
        ClientPerMessageDeflateFactory(
            server_no_context_takeover=True,
            server_max_window_bits=10,
            client_max_window_bits=12,
        ),
        f"{pmd}; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
    )
    # No compression offered at all: nothing may be compressed either way.
    yield "compression off (no offer)", "off", None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ of the echo server")
    parser.add_argument("--deadline", type=float, default=600, help="overall limit, seconds")
    args = parser.parse_args()
    url = urlparse(args.url)
    if url.scheme != "ws" or url.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"--url must be a ws:// loopback URL, not {args.url!r}")

    # A hang anywhere ends the process: every wait is bounded, this bounds their sum.
    watchdog = threading.Timer(args.deadline, lambda: (print("deadline exceeded"), os._exit(2)))
    watchdog.daemon = True
    watchdog.start()

    server_addr = (url.hostname, url.port)
    path = url.path or "/"
    started = time.monotonic()
    results = []
    for name, factory, expect in variants():
        try:
            ok = run_variant(name, factory, expect, server_addr, path)
        except Exception as e:  # noqa: BLE001 - report and go on with the other variants
            print(f"FAIL {name:36} {type(e).__name__}: {e}")
            ok = False
        results.append(ok)
    failed = results.count(False)
    print(f"{len(results) - failed}/{len(results)} variants ok in {time.monotonic() - started:.1f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
