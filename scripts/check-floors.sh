#!/usr/bin/env bash
# The floors of the crate, checked in the source: each floor names only the floors below it.
#
#   proto/      sans-IO core     no IO, runtime or HTTP crate; none of the floors above
#   handshake/  pure functions   http only; not conn, layer or server
#   conn/       IO over streams  tokio, http; not hyper or tower, not layer or server
#   layer/, server/, client/     the only places that name hyper
#
# and internal code imports through module paths (`crate::proto::Message`), never through the
# crate root's re-exports (`crate::Message`), so a move shows in the imports. Comment lines
# (docs included) are skipped: a doc link may point anywhere. Prints every offending line and
# exits non-zero if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
# check DIR DESCRIPTION REGEX: no non-comment line of a .rs file under DIR matches REGEX.
check() {
  local dir="$1" what="$2" regex="$3" hits
  hits=$(grep -rnE --include='*.rs' "$regex" "$dir" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
  if [ -n "$hits" ]; then
    echo "floors: $dir names $what:"
    echo "$hits"
    failed=1
  fi
}

# check_groups DIR DESCRIPTION REGEX: no `use crate::{..};` group under DIR, joined onto one
# line however many lines it spans, names a path matching REGEX.
check_groups() {
  local dir="$1" what="$2" regex="$3" hits
  hits=$(find "$dir" -name '*.rs' -print0 | xargs -0 perl -0777 -ne '
    while (/(^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?use[ \t]+crate::\{[^;]*\};)/mg) {
      (my $group = $1) =~ s/\s+/ /g;
      print "$ARGV: $group\n";
    }' | grep -E "$regex" || true)
  if [ -n "$hits" ]; then
    echo "floors: $dir names $what:"
    echo "$hits"
    failed=1
  fi
}

io_http='\b(tokio|hyper|hyper_util|tower|tower_layer|tower_service|http|http_body|mio|std::net)::'
check src/proto "an IO, runtime or HTTP crate" "$io_http"
check src/proto "a floor above it" '\bcrate::(handshake|conn|layer|server|client)\b|\bcrate::\{'
check src/handshake "an IO, runtime or server crate" '\b(tokio|hyper|hyper_util|tower|tower_layer|tower_service)::'
check src/handshake "a floor above it" '\bcrate::(conn|layer|server|client)\b|\bcrate::\{[^}]*\b(conn|layer|server|client)\b'
check src/conn "hyper or tower" '\b(hyper|hyper_util|tower|tower_layer|tower_service)::'
check src/conn "the layer, the server or the client" '\bcrate::(layer|server|client)\b|\bcrate::\{[^}]*\b(layer|server|client)\b'
check src/client "the layer or the server (client and server share only conn and below)" '\bcrate::(layer|server)\b|\bcrate::\{[^}]*\b(layer|server)\b'
check src/layer "the client" '\bcrate::client\b|\bcrate::\{[^}]*\bclient\b'
check src/server "the client" '\bcrate::client\b|\bcrate::\{[^}]*\bclient\b'
check_groups src/proto "a floor above it" '[{ ,](handshake|conn|layer|server|client)(::|[ ,}])'
check_groups src/handshake "a floor above it" '[{ ,](conn|layer|server|client)(::|[ ,}])'
check_groups src/conn "the layer, the server or the client" '[{ ,](layer|server|client)(::|[ ,}])'
check_groups src/client "the layer or the server" '[{ ,](layer|server)(::|[ ,}])'
for dir in src/proto src/handshake src/conn src/layer src/server src/client; do
  check_groups "$dir" "the crate root's re-exports (import through module paths)" '[{ ,][A-Z]'
done
for dir in src/proto src/handshake src/conn src/layer src/server src/client; do
  check "$dir" "the crate root's re-exports (import through module paths)" '\bcrate::[A-Z]|\bcrate::\{[^}]*\b[A-Z]'
done

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "floors: proto -> handshake -> conn -> layer/server/client hold"
