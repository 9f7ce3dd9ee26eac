#!/usr/bin/env bash
# Issue 5: the print device hangs up in the middle of a job (an AppSocket printer that closes
# the connection after 100000 bytes). The station reports the job aborted, the workstation holds
# it again, nothing is counted; the next release delivers the identical bytes. And a station told
# to stop (SIGTERM) in the middle of a release finishes it first, then exits 0.
set -euo pipefail
BIN=$(cd "${1:?usage: release_device_failure.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin

net_up "$ROOT" >"$ROOT/up.log"
mkdir -p "$ROOT/docs" "$ROOT/printed"
head -c 600000 /dev/urandom >"$ROOT/docs/big.bin"
job=$("$BIN/lpm" print "$ROOT/docs/big.bin" --socket "$AGENT_SOCK" | awk '/^job /{print $2}')
[[ -n $job ]] || fail "lpm print gave no job id"
job_state() { "$BIN/lpm" jobs --socket "$AGENT_SOCK" | awk -v j="$job" '$1 == j {print $3}'; }

"$BIN/lpm_test_appsocket_printer" "$ROOT/printed" --close-after 100000 >"$ROOT/logs/appsocket.out" \
  2>"$ROOT/logs/appsocket.log" &
PRINTER_PID=$!
NET_PIDS+=("$PRINTER_PID")
wait_for 5 grep -q '^ready' "$ROOT/logs/appsocket.out" || fail "the AppSocket printer did not start"
PORT=$(awk '/^ready/{print $2}' "$ROOT/logs/appsocket.out")
export NET_DEVICE="socket://127.0.0.1:$PORT"

# Registrations of one user with held jobs so far: the abort must add one before the next badge-in.
held_registrations() { grep -c 'registered held jobs for 1 user' "$ROOT/logs/agent.log" || true; }
net_wait_registered
registered_before=$(held_registrations)
net_release "$BADGE"
check "the station reports the job failed at the device" grep -q 'failed "big.bin"' <<<"$STEP_OUT"
check "it says the device stopped taking it" grep -q "the device" <<<"$STEP_OUT"
check "the printer hung up mid-job" grep -q "hung up after" "$ROOT/logs/appsocket.log"
check "the workstation holds the job again" test "$(job_state)" = held
check "nothing was kept as a printed document" test -z "$(ls "$ROOT/printed")"
# The agent tells the directory a moment after the abort; a badge-in before that would find no
# workstation with jobs (net_wait_registered sees the registration the claim made, of 0 users).
registered_again() { [[ $(held_registrations) -gt $registered_before ]]; }
check "the workstation tells the directory it holds the job again" wait_for 5 registered_again

net_release "$BADGE"
check "the second release prints it" grep -q 'printed "big.bin"' <<<"$STEP_OUT"
wait_for 5 test -f "$ROOT/printed/2.bin" || true
check "the printer has the whole document" test -f "$ROOT/printed/2.bin"
check "the bytes at the printer are the bytes submitted" cmp -s "$ROOT/printed/2.bin" "$ROOT/docs/big.bin"
check "the job is printed on the workstation" test "$(job_state)" = printed

# SIGTERM in the middle of a release (systemd stopping the station): a printer that waits 1.5 s
# before it reads each job; the signal comes once the workstation opened the release. The
# station finishes the badge's release, then stops: exit 0, the job printed and counted once.
"$BIN/lpm_test_appsocket_printer" "$ROOT/slow" --stall-ms 1500 >"$ROOT/logs/slow.out" 2>"$ROOT/logs/slow.log" &
NET_PIDS+=("$!")
mkdir -p "$ROOT/slow"
wait_for 5 grep -q '^ready' "$ROOT/logs/slow.out" || fail "the slow AppSocket printer did not start"
head -c 200000 /dev/urandom >"$ROOT/docs/slow.bin"
slow_job=$("$BIN/lpm" print "$ROOT/docs/slow.bin" --socket "$AGENT_SOCK" | awk '/^job /{print $2}')
net_wait_registered
opened() { grep -c 'release opened by station' "$ROOT/logs/agent.log" || true; }
opened_before=$(opened)
mkfifo "$ROOT/badges"
"$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" \
  --device "socket://127.0.0.1:$(awk '/^ready/{print $2}' "$ROOT/logs/slow.out")" --no-prompts \
  <"$ROOT/badges" >"$ROOT/slow-station.out" 2>"$ROOT/logs/slow-station.log" &
STATION=$!
exec 7>"$ROOT/badges"
printf '%s\n' "$BADGE" >&7
opened_now() { [[ $(opened) -gt $opened_before ]]; }
wait_for 10 opened_now || fail "the station did not open the release"
kill -TERM "$STATION"
station_rc=0
wait_for 10 bash -c "! kill -0 $STATION 2>/dev/null" || fail "the station did not stop after SIGTERM"
wait "$STATION" || station_rc=$?
exec 7>&-
check "SIGTERM mid-release: the station says it stops after the current badge" \
  grep -q 'received SIGTERM: stopping after the current badge' "$ROOT/logs/slow-station.log"
check "SIGTERM mid-release: the station finishes the badge's release first" \
  grep -q 'released 1 job(s)' "$ROOT/slow-station.out"
check "SIGTERM mid-release: the document reached the printer whole" cmp -s "$ROOT/slow/1.bin" "$ROOT/docs/slow.bin"
check "SIGTERM mid-release: then it exits 0" test "$station_rc" = 0
check "SIGTERM mid-release: the job is printed on the workstation" \
  test "$("$BIN/lpm" jobs --socket "$AGENT_SOCK" | awk -v j="$slow_job" '$1 == j {print $3}')" = printed

echo "$IT_PASSED passed, 0 failed"
