#!/usr/bin/env bash
# Issue 5 (DESIGN §4 step 4): a release station killed after its device took a job and before
# the workstation heard the outcome. The station journals the signed outcome first; at its next
# start it reports it (report-outcome): the job is printed once on the workstation and counted
# once at the accounting server, and the next badge-in does not print it again.
# The kill is the fault point station.before_report (common/lpm/fault.h): the process dies with
# _exit(86) right after the journal entry is committed.
set -euo pipefail
BIN=$(cd "${1:?usage: release_crash.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin

net_up "$ROOT" >"$ROOT/up.log"

mkdir -p "$ROOT/docs"
head -c 40000 /dev/urandom >"$ROOT/docs/first.bin"
printf 'second document\n' >"$ROOT/docs/second.txt"
first=$("$BIN/lpm" print "$ROOT/docs/first.bin" --socket "$AGENT_SOCK" | awk '/^job /{print $2}')
[[ -n $first ]] || fail "lpm print gave no job id"
job_state() { "$BIN/lpm" jobs --socket "$AGENT_SOCK" | awk -v j="$1" '$1 == j {print $3}'; }

station() { # station [env...]: one run reading standard input
  env "$@" "$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" \
    --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" --name "Printer 2nd floor"
}

net_wait_registered
set +e
out=$(printf '%s\n' "$BADGE" | station LPM_FAULT=station.before_report:1 2>"$ROOT/logs/crash.log")
rc=$?
set -e
check "the station died at the fault point (exit 86)" test "$rc" -eq 86
check "the device has the document" test -f "$DEVICE_DIR/$first.bin"
check "the bytes at the device are the bytes submitted" cmp -s "$DEVICE_DIR/$first.bin" "$ROOT/docs/first.bin"
check "the workstation never heard: the job is not printed there" test "$(job_state "$first")" != printed
check "the journal holds the outcome" \
  test "$(sqlite3 "$ROOT/printer/state.db" 'SELECT count(*) FROM journal')" -eq 1

# A job submitted meanwhile: the next badge-in releases it, not the first one again.
second=$("$BIN/lpm" print "$ROOT/docs/second.txt" --socket "$AGENT_SOCK" | awk '/^job /{print $2}')

out=$(printf '' | station 2>"$ROOT/logs/restart.log")
check "at its next start the station reports the journaled outcome" grep -q "reported .* counted" <<<"$out"
check "the job is printed on the workstation" test "$(job_state "$first")" = printed
check "the journal is empty" test "$(sqlite3 "$ROOT/printer/state.db" 'SELECT count(*) FROM journal')" -eq 0

out=$(printf '' | station 2>"$ROOT/logs/restart2.log")
check "a second start has nothing to report" test "$(grep -c reported <<<"$out" || true)" -eq 0

net_release "$BADGE"
check "the next badge-in releases only the later job" grep -q "released 1 job" <<<"$STEP_OUT"
check "the later job is at the device" test -f "$DEVICE_DIR/$second.txt"
check "the first job was not printed again" test "$(grep -c first.bin <<<"$STEP_OUT" || true)" -eq 0

"$BIN/lpm" console enroll --data "$ROOT/console" --directory "127.0.0.1:$DIR_PORT" \
  --directory-fingerprint "$DIR_FP" --token "$TOKEN_CONSOLE" >/dev/null
jobs_counted() {
  "$BIN/lpm" report --data "$ROOT/console" --accounting "127.0.0.1:$ACCT_PORT" --accounting-fingerprint "$ACCT_FP" |
    awk -v u="$USER_ID" '$1 == u {print $2}'
}
for ((i = 0; i < 100; i++)); do
  [[ $(jobs_counted) == 2 ]] && break
  sleep 0.1
done
sleep 0.3 # a duplicate would arrive in this time
check "the accounting server counts each job once" test "$(jobs_counted)" = 2

echo "$IT_PASSED passed, 0 failed"
