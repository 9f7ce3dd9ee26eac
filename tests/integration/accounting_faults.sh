#!/usr/bin/env bash
# Issue 6, exactly-once accounting through crashes at the named fault points (lpm/fault.h):
#   outbox.after_post        the agent wrote a batch to the accounting server, before any answer
#   accounting.after_commit  the server committed the batch, before anything else
#   accounting.before_ack    the server is about to answer the batch
#   outbox.before_delete     the agent has the answer, the rows are still in its outbox
# Each round queues one record (a job printed to the agent and deleted by its user, with
# TrackDeletedJobs on: a "deleted" record), with the agent or the accounting server started with
# LPM_FAULT=<point>:1; the process must die there (status 86); it is started again without the
# fault and the round ends once the server holds every record so far. Then: each record stored
# once (one per job, no id twice), the agent's outbox empty.
#
# Usage: accounting_faults.sh BIN_DIR
# Environment:
#   ACCT_FAULT_ROUNDS=N   rounds per point (default 3; scripts/soak.sh runs 100 and more)
#   ACCT_FAULT_KEEP=1     keep the temp folder (logs, data) for a look afterwards.
set -euo pipefail
BIN=$(cd "${1:?usage: accounting_faults.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

ROUNDS=${ACCT_FAULT_ROUNDS:-3}
AGENT_POINTS=(outbox.after_post outbox.before_delete)
SERVER_POINTS=(accounting.after_commit accounting.before_ack)

it_begin lpm-acct-faults
[[ -n ${ACCT_FAULT_KEEP:-} ]] && IT_KEEP=1
[[ $ROUNDS -le 3 ]] || IT_QUIET=1

NET_TRACK_DELETED=true net_up "$ROOT" >"$ROOT/up.log"
SERVE_ARGS=(serve --data "$ROOT/accounting" --listen "127.0.0.1:$ACCT_PORT" --directory "127.0.0.1:$DIR_PORT"
  --directory-fingerprint "$DIR_FP")
N=0 # processes started by this test, for their log names

start_agent() { # start_agent [LPM_FAULT value]
  N=$((N + 1))
  net_start "agent-$N" "$ROOT/logs" env ${1:+LPM_FAULT="$1"} "$BIN/lpm-agent" serve --config "$AGENT_CONF"
  AGENT_PID=${NET_PIDS[-1]}
}
start_server() { # start_server [LPM_FAULT value]; the same port, which the agent is configured with
  N=$((N + 1))
  net_start "accounting-$N" "$ROOT/logs" env ${1:+LPM_FAULT="$1"} "$BIN/lpm-accounting" "${SERVE_ARGS[@]}"
  ACCT_PID=${NET_PIDS[-1]}
}

# The process must die at its fault point: exit status 86, soon.
expect_fault_death() { # expect_fault_death PID WHAT
  local pid=$1 what=$2 i rc=0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && fail "the $what did not die at its fault point"
  wait "$pid" || rc=$?
  local kept=() p
  for p in "${NET_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  NET_PIDS=("${kept[@]}")
  check "the $what died at its fault point with status 86" test "$rc" -eq 86
}

printf 'one page\n' >"$ROOT/doc.txt"
EXPECTED=0
queue_record() { # a job held, then deleted by its user: one "deleted" record in the outbox
  local out job
  out=$("$BIN/lpm" print "$ROOT/doc.txt" --socket "$AGENT_SOCK" --title "fault round $EXPECTED")
  job=$(awk '/^job /{print $2}' <<<"$out")
  [[ -n $job ]] || fail "lpm print printed no job id: $out"
  "$BIN/lpm" jobs delete "$job" --socket "$AGENT_SOCK" >/dev/null
  EXPECTED=$((EXPECTED + 1))
}

stored() { sqlite3 "$ROOT/accounting/state.db" "SELECT count(*) FROM records"; }
outbox() { sqlite3 "$ROOT/agent/state.db" "SELECT count(*) FROM outbox"; }
# The round is over once every record so far is at the server and acknowledged: the outbox is
# empty (the agent retries 1 s after a failure, doubling; a success starts it at 1 s again).
wait_settled() {
  local i
  for ((i = 0; i < 300; i++)); do
    [[ $(stored) -ge $EXPECTED && $(outbox) == 0 ]] && break
    sleep 0.1
  done
  check "the server holds each of the $EXPECTED records ($(stored)), the agent's outbox is empty ($(outbox))" \
    test "$(stored)" -eq "$EXPECTED" -a "$(outbox)" -eq 0
}

for point in "${AGENT_POINTS[@]}"; do
  for ((round = 1; round <= ROUNDS; round++)); do
    net_stop_pid "$AGENT_PID"
    start_agent "$point:1"
    queue_record
    expect_fault_death "$AGENT_PID" "agent ($point, round $round)"
    start_agent
    wait_settled
  done
done

for point in "${SERVER_POINTS[@]}"; do
  for ((round = 1; round <= ROUNDS; round++)); do
    net_stop_pid "$ACCT_PID"
    start_server "$point:1"
    queue_record
    expect_fault_death "$ACCT_PID" "accounting server ($point, round $round)"
    start_server
    wait_settled
  done
done

check "no record stored twice: one per job" \
  test "$(sqlite3 "$ROOT/accounting/state.db" "SELECT count(DISTINCT job) FROM records_as_text WHERE event = 'deleted'")" \
  -eq "$EXPECTED"
after_post_dups=$(grep -h "post-records from" "$ROOT"/logs/accounting*.log | grep -cv " 0 duplicates" || true)
check "batches a crash interrupted came again and were taken as duplicates ($after_post_dups answers)" \
  test "$after_post_dups" -ge 1

echo "$IT_PASSED passed, 0 failed"
