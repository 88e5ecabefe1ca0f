#!/usr/bin/env bash
# scripts/autobahn-client.sh [CASES]: run the Autobahn|Testsuite in client mode (wstest's
# fuzzingserver, strict) against the `autobahn_client` example and fail on anything but
# OK/INFORMATIONAL.
#
# Installs the suite with ../shared/autobahn/install.sh into ./.autobahn on first use. Reports go
# to target/autobahn-client (open index.html). AUTOBAHN_EXCLUDE is passed through (default: none).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
CASES="${1:-*}"

[ -x .autobahn/bin/wstest ] || bash "$SHARED/autobahn/install.sh" ./.autobahn

cargo build --release --quiet --example autobahn_client
AUTOBAHN_STRICT=1 AUTOBAHN_TIMEOUT=1200 \
  bash "$SHARED/autobahn/run-client.sh" target/autobahn-client "$CASES" -- \
  target/release/examples/autobahn_client '{url}'
