#!/usr/bin/env python3
"""An echo server on the `websockets` library (PyPI), for scripts/interop-client.sh.

    python3 echo_server.py [--tls CERT KEY] [--deflate]
    python3 echo_server.py --silent

Binds 127.0.0.1 on a free port and prints `listening 127.0.0.1:PORT`. For each connection it
prints one line, `conn path=P ext=E proto=S xtest=X` (the negotiated Sec-WebSocket-Extensions,
the subprotocol, the X-Test request header; `-` when absent), then echoes every message.
`/forbidden` answers 403; `/close-first` sends `bye` and 3 binary bytes and closes with 1000 at once;
`/close-4000` closes with 4000 at once.
`--silent`: a TCP listener that never accepts, never answers (for the client's timeout).
"""

import argparse
import asyncio
import socket
import ssl
import time
from http import HTTPStatus

from websockets.asyncio.server import serve


async def handler(ws):
    path = ws.request.path
    ext = ws.response.headers.get("Sec-WebSocket-Extensions") or "-"
    xtest = ws.request.headers.get("X-Test") or "-"
    print(f"conn path={path} ext={ext} proto={ws.subprotocol or '-'} xtest={xtest}", flush=True)
    if path == "/close-first":
        await ws.send("bye")
        await ws.send(b"\x00\x01\x02")
        await ws.close(1000, "done")
        return
    if path == "/close-4000":
        await ws.close(4000, "test failure code")
        return
    async for message in ws:
        await ws.send(message)


def process_request(connection, request):
    if request.path == "/forbidden":
        return connection.respond(HTTPStatus.FORBIDDEN, "forbidden by the test server\n")
    return None


def select_subprotocol(connection, subprotocols):
    return "chat.v1" if "chat.v1" in subprotocols else None


async def main(args):
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=context,
        compression="deflate" if args.deflate else None,
        process_request=process_request,
        select_subprotocol=select_subprotocol,
        max_size=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


def silent():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"listening 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--silent", action="store_true")
    args = parser.parse_args()
    if args.silent:
        silent()
    else:
        asyncio.run(main(args))
