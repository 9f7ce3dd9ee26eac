#!/usr/bin/env bash
# Register benchmark of issue 4 (figures, never pass/fail), run by scripts/bench.sh. Appends one
# JSON object per line to BUILD/bench/results.jsonl and prints it:
#   register_rate_full_handshake  registrations and heartbeats per second from WORKSTATIONS
#                                 enrolled workstation identities, each on its own connection
#                                 from its own 127.x.y.z address (at most OPEN at once), the first
#                                 contact: a full TLS handshake each; connections/s, p50/p99, the
#                                 directory's CPU µs per op and per connection
#   register_rate_resumed         the same workstations again, each resuming its TLS session
#   register_state                what the directory holds afterwards (holdings, jobs, whether each
#                                 user's badge-in finds their workstation), against what the
#                                 client expects
# Usage: scripts/bench_register.sh [BUILD_DIR]
# Environment: WORKSTATIONS (100000), OPEN (1000), HEARTBEATS (2, per connection after the
# register), MAX_SECONDS (600: no workstation starts after this many seconds of a pass; 0: no
# limit), IDENTITIES (BUILD/bench/workstation-identities.pem: the cache of keys and certificates,
# made on the first run and reused).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
WORKSTATIONS=${WORKSTATIONS:-100000}
OPEN=${OPEN:-1000}
HEARTBEATS=${HEARTBEATS:-2}
MAX_SECONDS=${MAX_SECONDS:-600}
source "$here/lib/network.sh"
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/results.jsonl
IDENTITIES=${IDENTITIES:-$BUILD/bench/workstation-identities.pem}

for tool in lpm-directory lpm_directory_fill lpm_workstation_fill lpm_register_bench; do
  [[ -x $BIN/$tool ]] || net_die "$BIN/$tool is missing: build it first (cmake --build $BUILD)"
done
# The client and the directory each hold a socket per open connection, plus files.
need=$((OPEN + 256))
if (($(ulimit -n) < need)); then
  ulimit -n "$need" 2>/dev/null || net_die "cannot raise the open-file limit to $need (hard limit $(ulimit -Hn))"
fi

ROOT=$(mktemp -d /tmp/lpm-bench-register.XXXXXX)
cleanup() {
  net_down
  rm -rf "$ROOT"
}
trap cleanup EXIT
say() { echo "$*" >&2; }
emit() { printf '%s\n' "$1" | tee -a "$OUT"; }
field() { # field NAME JSON-LINE: a number field's value
  sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"
}

mkdir -p "$ROOT/logs"
say "register benchmark in $ROOT: $WORKSTATIONS workstations, at most $OPEN connections open, $HEARTBEATS heartbeats each"
"$BIN/lpm-directory" init --data "$ROOT/directory" >/dev/null
FP=$("$BIN/lpm-directory" fingerprint --data "$ROOT/directory")
say "  $("$BIN/lpm_directory_fill" --data "$ROOT/directory" --users "$WORKSTATIONS")"
[[ -f $IDENTITIES ]] || say "  making $WORKSTATIONS workstation identities into $IDENTITIES (once; later runs reuse them) ..."
fill=$("$BIN/lpm_workstation_fill" --data "$ROOT/directory" --identities "$IDENTITIES" \
  --workstations "$WORKSTATIONS" --users "$WORKSTATIONS" --users-out "$ROOT/users.txt")
emit "$fill"

net_start directory "$ROOT/logs" "$BIN/lpm-directory" serve --data "$ROOT/directory" --listen 127.0.0.1:0
DIR_PID=${NET_PIDS[-1]}
say "  directory ready on 127.0.0.1:$NET_PORT (pid $DIR_PID)"
"$BIN/lpm_register_bench" --directory "127.0.0.1:$NET_PORT" --fingerprint "$FP" --identities "$IDENTITIES" \
  --users-file "$ROOT/users.txt" --workstations "$WORKSTATIONS" --open "$OPEN" --heartbeats "$HEARTBEATS" \
  --max-seconds "$MAX_SECONDS" --directory-pid "$DIR_PID" >"$ROOT/result.jsonl"
net_stop_pid "$DIR_PID"
while IFS= read -r line; do emit "$line"; done <"$ROOT/result.jsonl"

resumed=$(grep '"register_rate_resumed"' "$ROOT/result.jsonl")
state=$("$BIN/lpm_workstation_fill" --data "$ROOT/directory" --report --workstations "$WORKSTATIONS" \
  --users "$WORKSTATIONS")
expected_holdings=$(field expected_holdings "$resumed")
expected_jobs=$(field expected_held_jobs "$resumed")
matches=false
[[ $(field holdings "$state") == "$expected_holdings" && $(field held_jobs "$state") == "$expected_jobs" ]] && matches=true
emit "${state%\}},\"expected_holdings\":$expected_holdings,\"expected_held_jobs\":$expected_jobs,\"matches\":$matches}"
