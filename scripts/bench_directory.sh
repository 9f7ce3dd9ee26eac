#!/usr/bin/env bash
# Directory benchmark of issue 4 (figures, never pass/fail), run by scripts/bench.sh. Appends one
# JSON object per line to BUILD/bench/results.jsonl and prints it:
#   badge_in_rate  badge-ins answered per second by one lpm-directory holding USERS users with
#                  badges, from PRINTERS enrolled printers each on its own 127.0.x.y address
#                  (closed loop, random badges, every ticket's nonce checked, 1 in 100 signatures
#                  verified), beside the ECDSA P-256 signing floor of this machine (peer_value,
#                  ratio), with the directory's CPU µs per badge-in
#   badge_in_p99   latency of badge-ins at half that rate, Poisson arrivals (open loop),
#                  counted from each request's scheduled time: p99, p50
# Usage: scripts/bench_directory.sh [BUILD_DIR]
# Environment: USERS (100000), PRINTERS (1000), BENCH_SECONDS (5) per measured phase. (Not
# SECONDS: that is bash's own clock.) BADGE_RATE (0: the per-printer limit off) and BADGE_BURST
# (20) start the directory with that badge rate limit; both JSON lines state it (rate_limits).
# SIGNING_THREADS (the directory's default: the cores, at most 4) is passed to lpm-directory serve
# --signing-threads and to the client, whose signing floor runs on as many threads. QUOTA (unset):
# every user a Print Management user with that monthly quota, so each badge-in holds quota
# (AMB-17); the JSON lines then say "quota".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
USERS=${USERS:-100000}
PRINTERS=${PRINTERS:-1000}
BENCH_SECONDS=${BENCH_SECONDS:-5}
source "$here/lib/network.sh"
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/results.jsonl

for tool in lpm-directory lpm_directory_fill lpm_badge_in_bench; do
  [[ -x $BIN/$tool ]] || net_die "$BIN/$tool is missing: build it first (cmake --build $BUILD)"
done
# The client holds a socket per printer, the directory one per printer too, plus files and
# enrollment connections: raise the soft limit (children inherit it).
need=$((PRINTERS + 256))
if (($(ulimit -n) < need)); then
  ulimit -n "$need" 2>/dev/null || net_die "cannot raise the open-file limit to $need (hard limit $(ulimit -Hn))"
fi

ROOT=$(mktemp -d /tmp/lpm-bench-directory.XXXXXX)
cleanup() {
  net_down
  rm -rf "$ROOT"
}
trap cleanup EXIT
say() { echo "$*" >&2; }
emit() { printf '%s\n' "$1" | tee -a "$OUT"; }

mkdir -p "$ROOT/logs" "$ROOT/printers"
say "directory benchmark in $ROOT: $USERS users, $PRINTERS printers, $BENCH_SECONDS s per phase"
"$BIN/lpm-directory" init --data "$ROOT/directory" >/dev/null
FP=$("$BIN/lpm-directory" fingerprint --data "$ROOT/directory")
say "  $("$BIN/lpm_directory_fill" --data "$ROOT/directory" --users "$USERS" ${QUOTA:+--quota "$QUOTA"})"
TOKEN=$("$BIN/lpm-directory" token create --data "$ROOT/directory" --kind printer --uses "$PRINTERS")
# The per-printer badge rate limit (default 5/s, burst 20) would turn a closed loop into a count
# of refusals: the benchmark measures the directory's capacity, so it is off, and said so.
BADGE_RATE=${BADGE_RATE:-0}
BADGE_BURST=${BADGE_BURST:-20}
cores=$(nproc)
SIGNING_THREADS=${SIGNING_THREADS:-$((cores < 4 ? cores : 4))}
if [[ $BADGE_RATE == 0 ]]; then
  LIMITS="off (lpm-directory serve --badge-rate 0)"
else
  LIMITS="$BADGE_RATE/s burst $BADGE_BURST per printer (lpm-directory serve --badge-rate $BADGE_RATE --badge-burst $BADGE_BURST)"
fi
net_start directory "$ROOT/logs" "$BIN/lpm-directory" serve --data "$ROOT/directory" --listen 127.0.0.1:0 \
  --badge-rate "$BADGE_RATE" --badge-burst "$BADGE_BURST" --signing-threads "$SIGNING_THREADS"
DIR_PID=${NET_PIDS[-1]}
say "  directory ready on 127.0.0.1:$NET_PORT (pid $DIR_PID); badge rate limit: $LIMITS"

"$BIN/lpm_badge_in_bench" --directory "127.0.0.1:$NET_PORT" --fingerprint "$FP" --data "$ROOT/printers" \
  --token "$TOKEN" --users "$USERS" --printers "$PRINTERS" --seconds "$BENCH_SECONDS" \
  --directory-pid "$DIR_PID" --rate-limits "$LIMITS" --signing-threads "$SIGNING_THREADS" >"$ROOT/result.jsonl"
net_stop_pid "$DIR_PID"
while IFS= read -r line; do
  [[ -z ${QUOTA:-} ]] || line=$(jq -c --argjson q "$QUOTA" '. + {quota: $q}' <<<"$line")
  emit "$line"
done <"$ROOT/result.jsonl"
