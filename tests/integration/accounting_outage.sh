#!/usr/bin/env bash
# Issue 6, a long accounting outage: the accounting server is down while jobs print, are deleted
# and expire over days, simulated with an injected clock (LPM_TEST_CLOCK_FILE: milliseconds the
# agent's retention adds to the wall clock), not real days. When the server returns, it holds
# exactly what happened: 3 printed, 1 deleted by its user, 5 expired (3 printed and kept past
# PrintAndKeepLifespan, 2 never printed past UnprintedJobsLifespan: both 48 h here), each once.
#
# Usage: accounting_outage.sh BIN_DIR
set -euo pipefail
BIN=$(cd "${1:?usage: accounting_outage.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin lpm-acct-outage

NET_TRACK_DELETED=true net_up "$ROOT" >"$ROOT/up.log"
net_stop_pid "$ACCT_PID" # the outage begins
CLOCK=$ROOT/clock-offset-ms
echo 0 >"$CLOCK"
net_stop_pid "$AGENT_PID"
net_start agent-test-clock "$ROOT/logs" env LPM_TEST_CLOCK_FILE="$CLOCK" "$BIN/lpm-agent" serve --config "$AGENT_CONF"
AGENT_PID=${NET_PIDS[-1]}
HOUR_MS=3600000

print_job() { # print_job NAME: prints the new job's id
  printf 'document %s\n' "$1" >"$ROOT/$1.txt"
  "$BIN/lpm" print "$ROOT/$1.txt" --socket "$AGENT_SOCK" | awk '/^job /{print $2}'
}
jobs_held() { "$BIN/lpm" jobs --socket "$AGENT_SOCK" | grep -c -E 'held|printed' || true; }

for name in a b c; do print_job "$name" >/dev/null; done
net_release "$BADGE"
check "three jobs print while the accounting server is down" grep -q "released 3 job" <<<"$STEP_OUT"
for name in d e; do print_job "$name" >/dev/null; done
gone=$(print_job f)
"$BIN/lpm" jobs delete "$gone" --socket "$AGENT_SOCK" >/dev/null
check "five jobs on the workstation: three printed and kept, two held" test "$(jobs_held)" -eq 5

outbox() { sqlite3 "$ROOT/agent/state.db" "SELECT count(*) FROM outbox"; }
check "the four records so far wait in the outbox" test "$(outbox)" -eq 4

# A day passes: nothing is due yet (the agent looks every 5 s).
echo $((24 * HOUR_MS)) >"$CLOCK"
sleep 6
check "a day later the five jobs are still there" test "$(jobs_held)" -eq 5
# Two days and an hour: every job is past its 48 h.
echo $((49 * HOUR_MS)) >"$CLOCK"
for ((i = 0; i < 150; i++)); do
  [[ $(jobs_held) -eq 0 ]] && break
  sleep 0.1
done
check "after 49 hours every job expired" test "$(jobs_held)" -eq 0
check "their five deleted records wait in the outbox too" test "$(outbox)" -eq 9
# Ten days: nothing more happens, nothing is lost.
echo $((10 * 24 * HOUR_MS)) >"$CLOCK"
sleep 6
check "ten days later the outbox still holds the nine records" test "$(outbox)" -eq 9

# The server returns on the same address; the agent posts at its next try (backoff, at most 60 s).
net_start accounting-back "$ROOT/logs" "$BIN/lpm-accounting" serve --data "$ROOT/accounting" \
  --listen "127.0.0.1:$ACCT_PORT" --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP"
for ((i = 0; i < 700; i++)); do
  [[ $(outbox) -eq 0 ]] && break
  sleep 0.1
done
check "the outbox empties once the server is back" test "$(outbox)" -eq 0
# records_as_text: the records as sent (the table keeps ids in 16 bytes and names as codes).
count() { sqlite3 "$ROOT/accounting/state.db" "SELECT count(*) FROM records_as_text WHERE $1"; }
check "exactly 3 printed records" test "$(count "event = 'printed'")" -eq 3
check "exactly 1 deleted by its user" test "$(count "event = 'deleted' AND reason = 'user'")" -eq 1
check "exactly 5 expired" test "$(count "event = 'deleted' AND reason = 'expired'")" -eq 5
check "nine records in all, one per event" test "$(count "1")" -eq 9
check "the expired records carry the agent's (injected) time, flagged as skewed" \
  test "$(count "reason = 'expired' AND clock_skew = 1")" -eq 5

echo "$IT_PASSED passed, 0 failed"
