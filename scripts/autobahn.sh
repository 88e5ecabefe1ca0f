#!/usr/bin/env bash
# scripts/autobahn.sh [CASES]: run the Autobahn|Testsuite (fuzzingclient, strict) against the
# `autobahn_server` example and fail on anything but OK/INFORMATIONAL.
#
# Installs the suite with ../shared/autobahn/install.sh into ./.autobahn on first use. Reports go
# to target/autobahn (open index.html). AUTOBAHN_EXCLUDE is passed through (default: none).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
CASES="${1:-*}"

[ -x .autobahn/bin/wstest ] || bash "$SHARED/autobahn/install.sh" ./.autobahn

cargo build --release --quiet --example autobahn_server
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
./target/release/examples/autobahn_server "127.0.0.1:$PORT" > target/autobahn-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT

AUTOBAHN_STRICT=1 AUTOBAHN_QUIET=1 AUTOBAHN_WAIT=60 AUTOBAHN_TIMEOUT=1200 \
  bash "$SHARED/autobahn/run.sh" "ws://127.0.0.1:$PORT" target/autobahn "$CASES"
kill -0 $SERVER 2>/dev/null || { echo "autobahn: the server died during the run" >&2; cat target/autobahn-server.log >&2; exit 1; }
