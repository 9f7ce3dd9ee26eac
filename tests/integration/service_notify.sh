#!/usr/bin/env bash
# Issue 7, systemd units with Type=notify: each daemon (directory, accounting server, agent)
# sends READY=1 on $NOTIFY_SOCKET only once every listener it has accepts connections, and
# STOPPING=1 when SIGTERM asks it to stop; the release station READY=1 once connected to the
# directory, and STOPPING=1 and exit 0 on SIGTERM while it waits for a badge. A stand-in for
# systemd's end of the socket (lpm_test_notify_listener) connects to every listener the instant
# READY=1 arrives. A NOTIFY_SOCKET nobody listens on costs a warning, not the service.
set -euo pipefail
BIN=$(cd "${1:?usage: service_notify.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"
source "$here/../../scripts/lib/ports.sh"

it_begin lpm-notify
# Fixed capture ports, so the restarted agent listens where the first one did.
NET_IPP_PORT=$(free_port)
NET_RAW_PORT=$(free_port)
net_up "$ROOT" >"$ROOT/up.log"
logs=$ROOT/logs
sock=$ROOT/notify.sock

# listen NAME TARGET...: the stand-in, in the background; NOTIFY_PID, its output in logs/NAME.notify.
listen() {
  local name=$1
  shift
  rm -f "$logs/$name.notify"
  "$BIN/lpm_test_notify_listener" "$sock" "$@" >"$logs/$name.notify" 2>&1 &
  NOTIFY_PID=$!
  wait_for 5 grep -q '^listening' "$logs/$name.notify" || fail "the notify listener did not start"
}

# ready_checked NAME TARGET_COUNT: READY=1 came, with a status, and every target accepted then.
ready_checked() {
  local name=$1 count=$2 out=$logs/$1.notify
  wait "$NOTIFY_PID" || fail "$name: no READY=1 ($(cat "$out"))"
  grep -q '^READY=1 STATUS=.' "$out" || fail "$name: READY=1 without a status: $(cat "$out")"
  [[ $(grep -c ' accepts$' "$out") -eq $count ]] && ! grep -q ' refuses$' "$out"
}

# restart NAME PID_VAR TARGETS -- COMMAND...: stops the daemon net_up started, starts it again
# with NOTIFY_SOCKET on the same ports, and checks READY=1 and then STOPPING=1 on SIGTERM.
restart() {
  local name=$1 pid=$2
  shift 2
  local targets=()
  while [[ $1 != -- ]]; do
    targets+=("$1")
    shift
  done
  shift
  net_stop_pid "$pid"
  listen "$name" "${targets[@]}"
  NOTIFY_SOCKET=$sock net_start "$name-notified" "$logs" "$@"
  check "$name: READY=1 only once its ${#targets[@]} listener(s) accept connections (${targets[*]})" \
    ready_checked "$name" "${#targets[@]}"
  listen "$name-stop"
  net_stop_pid "${NET_PIDS[-1]}"
  wait "$NOTIFY_PID" || true
  check "$name: STOPPING=1 on SIGTERM" grep -q '^STOPPING=1' "$logs/$name-stop.notify"
}

dir_pid=${NET_PIDS[0]} # net_up starts the directory first
acct_pid=$ACCT_PID

restart agent "$AGENT_PID" "tcp:$AGENT_PORT" "tcp:$AGENT_IPP_PORT" "tcp:$AGENT_RAW_PORT" "unix:$AGENT_SOCK" -- \
  "$BIN/lpm-agent" serve --config "$AGENT_CONF" --release-port "$AGENT_PORT" --ipp-port "$AGENT_IPP_PORT"
restart accounting "$acct_pid" "tcp:$ACCT_PORT" -- \
  "$BIN/lpm-accounting" serve --data "$ROOT/accounting" --listen "127.0.0.1:$ACCT_PORT" \
  --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP"
# The release station: READY=1 once connected to the directory; SIGTERM while it waits for a
# badge (its input still open): STOPPING=1, and it exits 0 at once, as systemd expects of a unit.
listen release
mkfifo "$ROOT/badges"
NOTIFY_SOCKET=$sock "$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" \
  --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" --no-prompts \
  <"$ROOT/badges" >"$logs/release.out" 2>"$logs/release-notified.log" &
STATION=$!
exec 7>"$ROOT/badges"
check "release station: READY=1 once connected to the directory" ready_checked release 0
listen release-stop
kill -TERM "$STATION"
wait_for 5 bash -c "! kill -0 $STATION 2>/dev/null" || fail "the release station did not stop on SIGTERM"
station_rc=0
wait "$STATION" || station_rc=$?
wait "$NOTIFY_PID" || true
check "release station: STOPPING=1 on SIGTERM" grep -q '^STOPPING=1' "$logs/release-stop.notify"
check "release station: exit 0 on SIGTERM with its badge input still open" test "$station_rc" = 0
check "release station: it says it stopped" grep -q 'received SIGTERM: stopping after the current badge' \
  "$logs/release-notified.log"
exec 7>&-

restart directory "$dir_pid" "tcp:$DIR_PORT" -- \
  "$BIN/lpm-directory" serve --data "$ROOT/directory" --listen "127.0.0.1:$DIR_PORT"

# Nobody at the socket: the directory still serves, and says why it could not tell.
NOTIFY_SOCKET=$ROOT/nobody.sock net_start directory-unheard "$logs" \
  "$BIN/lpm-directory" serve --data "$ROOT/directory" --listen "127.0.0.1:0"
check "a NOTIFY_SOCKET nobody listens on: the daemon serves and logs a warning" \
  grep -q 'could not tell the service manager' "$logs/directory-unheard.log"

echo "service_notify: $IT_PASSED checks passed"
