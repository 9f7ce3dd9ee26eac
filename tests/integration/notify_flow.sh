#!/usr/bin/env bash
# Issue 3, DisplayNotifications: `lpm notify` against a real agent and a private session bus (a
# dbus-daemon started here, in a netns of its own) where lpm_test_notification_server owns
# org.freedesktop.Notifications.
# Each job a user stores reaches that user's notification server with its title, and never
# another user's (a second notifier runs as `nobody` on its own bus); submission does not depend
# on a notifier (none running, no notification server on the bus, a notifier stopped with
# SIGSTOP: the agent drops what it cannot deliver, counted); the notifier comes back when the
# agent restarts, stops cleanly on SIGTERM, and says clearly when there is no session bus or the
# agent has notifications turned off.
set -euo pipefail
BIN=$(cd "${1:?usage: notify_flow.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

command -v dbus-daemon >/dev/null || { echo "FAIL: dbus-daemon not found (Debian package dbus-daemon)" >&2; exit 1; }
it_begin lpm-notify
EXTRA_PIDS=() # buses, notification servers, notifiers: stopped by PID, newest first
stop_extra() {
  local i
  for ((i = ${#EXTRA_PIDS[@]} - 1; i >= 0; i--)); do
    kill -CONT "${EXTRA_PIDS[i]}" 2>/dev/null || true
    kill -TERM "${EXTRA_PIDS[i]}" 2>/dev/null || true
  done
}
it_at_exit stop_extra

count_lines() { # count_lines PATTERN FILE
  local n
  n=$(grep -c -- "$1" "$2" 2>/dev/null) || true
  echo "${n:-0}"
}
at_least_lines() { test "$(count_lines "$2" "$3")" -ge "$1"; } # at_least_lines N PATTERN FILE

# Runs a command as `nobody` (setpriv execs it: the PID is the command's own).
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env -- "$@"; }

# start_bus NAME [as_nobody]: a private session bus in $ROOT/NAME; sets BUS_ADDRESS.
# Each bus runs in a network namespace of its own that this test makes (unshare --net: a new
# netns with only a loopback, which it does not even bring up): it listens on a pathname Unix
# socket, which the clients outside still reach, and can reach no network. (`ip netns add` would
# need / to be a mount point, which it is not in a chroot.)
start_bus() {
  local name=$1 runner=${2:-}
  mkdir -p "$ROOT/$name"
  local as=() # unshare runs a program, not a shell function: as_nobody spelled out
  [[ -n $runner ]] && chown nobody:nogroup "$ROOT/$name" &&
    as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env --)
  local own_netns=(unshare --net --)
  "${own_netns[@]}" "${as[@]}" dbus-daemon --session --address="unix:path=$ROOT/$name/bus" --nopidfile --fork \
    --print-pid=3 --print-address=4 3>"$ROOT/logs/$name.pid" 4>"$ROOT/logs/$name.address" ||
    fail "cannot start bus $name in a network namespace of its own (unshare --net needs root)"
  local pid
  pid=$(head -n 1 "$ROOT/logs/$name.pid")
  EXTRA_PIDS+=("$pid")
  [[ $(readlink "/proc/$pid/ns/net") != "$(readlink /proc/self/ns/net)" ]] ||
    fail "bus $name runs in the machine's network namespace, not in its own netns"
  BUS_ADDRESS=$(head -n 1 "$ROOT/logs/$name.address")
}

# start_server NAME LOG [as_nobody]: the fake notification server on bus $BUS_ADDRESS.
start_server() {
  local name=$1 log=$2 runner=${3:-}
  $runner env DBUS_SESSION_BUS_ADDRESS="$BUS_ADDRESS" "$BIN/lpm_test_notification_server" "$log" \
    >"$ROOT/logs/$name.out" 2>"$ROOT/logs/$name.log" &
  EXTRA_PIDS+=("$!")
  wait_for 5 grep -q '^ready' "$ROOT/logs/$name.out" || fail "$name did not start"
}

# start_notifier NAME [as_nobody]: `lpm notify` on bus $BUS_ADDRESS; sets NOTIFIER_PID.
start_notifier() {
  local name=$1 runner=${2:-}
  $runner env DBUS_SESSION_BUS_ADDRESS="$BUS_ADDRESS" "$BIN/lpm" notify --socket "$SOCK" \
    >"$ROOT/logs/$name.out" 2>"$ROOT/logs/$name.log" &
  NOTIFIER_PID=$!
  EXTRA_PIDS+=("$NOTIFIER_PID")
}

# restart_agent: stops the agent and starts it again on the same configuration.
restart_agent() {
  net_stop_pid "$AGENT_PID"
  net_start agent "$ROOT/logs" "$BIN/lpm-agent" serve --config "$AGENT_CONF"
  AGENT_PID=${NET_PIDS[-1]}
}

# A second person on this workstation: the OS account nobody, bound to a directory user of its
# own (net_up calls this hook before it writes the agent's configuration).
net_hook_before_agent() {
  "$BIN/lpm-directory" user add --data "$ROOT/directory" --email "other@example.com" --name "Other Person" \
    >"$ROOT/logs/other-user.out"
  NET_EXTRA_BINDS="<Bind account=\"nobody\" user=\"$(tail -n 1 "$ROOT/logs/other-user.out")\"/>"
}
net_up "$ROOT" >"$ROOT/up.log"
chmod 755 "$ROOT" # nobody reaches the control socket in $ROOT/run
SOCK=$AGENT_SOCK
mkdir -p "$ROOT/docs"
printf 'quarterly figures\n' >"$ROOT/docs/report.txt"
printf '%%!PS-Adobe-3.0\n%%%%Pages: 3\n%%%%EndComments\n%%%%Page: 1 1\nshowpage\n%%%%Page: 2 2\nshowpage\n%%%%Page: 3 3\nshowpage\n%%%%EOF\n' \
  >"$ROOT/docs/report.ps"

check "a job is stored with no notifier anywhere" \
  "$BIN/lpm" print "$ROOT/docs/report.txt" --socket "$SOCK" --title "before any notifier"

# Root's notifier on bus A, first with no notification server there.
start_bus bus-a
BUS_A=$BUS_ADDRESS
start_notifier notify-a
NOTIFY_A=$NOTIFIER_PID
wait_for 10 grep -q 'watching for your print jobs' "$ROOT/logs/notify-a.log" || fail "notifier A never subscribed"
check "a job is stored while the notifier has no notification server to show it" \
  "$BIN/lpm" print "$ROOT/docs/report.txt" --socket "$SOCK" --title "no server yet"
check "the notifier reports the missing notification server and keeps going" \
  wait_for 5 grep -q 'no notification server answers' "$ROOT/logs/notify-a.log"
check "notifier A still runs" kill -0 "$NOTIFY_A"

start_server server-a "$ROOT/logs/notifications-a.txt"
t0=$(net_ms)
"$BIN/lpm" print "$ROOT/docs/report.ps" --socket "$SOCK" --title "Quarterly report" >/dev/null
check "PK-13: the notification arrives with the job's title and page count" \
  wait_for 5 grep -q $'^lpm\tPrint job held for release\t.*Quarterly report.* (3 pages)' "$ROOT/logs/notifications-a.txt"
echo "   (submit to notification: $(($(net_ms) - t0)) ms)"

t0=$(net_ms)
restart_agent
check "after the agent restarts the notifier subscribes again" \
  wait_for 10 at_least_lines 2 'watching for your print jobs' "$ROOT/logs/notify-a.log"
echo "   (agent restart to notifier back: $(($(net_ms) - t0)) ms)"
"$BIN/lpm" print "$ROOT/docs/report.txt" --socket "$SOCK" --title "after the restart" >/dev/null
check "and shows the next job" wait_for 5 grep -q 'after the restart' "$ROOT/logs/notifications-a.txt"

# The other user's notifier, bus and notification server, all running as nobody (needs root).
if [[ $(id -u) -eq 0 ]]; then
  cp "$ROOT/docs/report.txt" "$ROOT/run/theirs.txt"
  chmod 644 "$ROOT/run/theirs.txt"
  start_bus bus-b as_nobody
  start_server server-b "$ROOT/bus-b/notifications.txt" as_nobody
  start_notifier notify-b as_nobody
  wait_for 10 grep -q 'watching for your print jobs' "$ROOT/logs/notify-b.log" || fail "notifier B never subscribed"
  "$BIN/lpm" print "$ROOT/docs/report.txt" --socket "$SOCK" --title "root only title" >/dev/null
  as_nobody "$BIN/lpm" print "$ROOT/run/theirs.txt" --socket "$SOCK" --title "nobody's own job" >/dev/null
  check "the other user's notification arrives" \
    wait_for 5 grep -q "nobody's own job" "$ROOT/bus-b/notifications.txt"
  # Root's job was stored, and its event published, before nobody's: had it gone to nobody's
  # notifier it would be there already.
  check "the other user's notifier never sees root's job" \
    test "$(count_lines 'root only title' "$ROOT/bus-b/notifications.txt")" -eq 0
  check "root's notifier shows root's job" wait_for 5 grep -q 'root only title' "$ROOT/logs/notifications-a.txt"
  check "root's notifier never sees the other user's job" \
    test "$(count_lines "nobody's own job" "$ROOT/logs/notifications-a.txt")" -eq 0
else
  echo "skip - another user's notifier: needs root to run as nobody"
fi

# A notifier that stops reading: 40 submissions go through at full speed, the agent drops what
# the notifier cannot take (32 queued, plus the answer already on its way), and the notifier
# catches up when it runs again: every job is either shown or counted in a "more jobs" line.
kill -STOP "$NOTIFY_A"
slowest=0
t0=$(net_ms)
for i in $(seq 1 40); do
  t=$(net_ms)
  "$BIN/lpm" print "$ROOT/docs/report.txt" --socket "$SOCK" --title "burst $i" >/dev/null
  ((($(net_ms) - t) > slowest)) && slowest=$(($(net_ms) - t))
done
echo "   (40 submissions with a stopped notifier: $(($(net_ms) - t0)) ms, slowest $slowest ms)"
check "submissions do not wait for a stopped notifier (slowest under 2 s)" test "$slowest" -lt 2000
check "the agent counts the events it dropped" grep -q 'is not keeping up' "$ROOT/logs/agent.log"
kill -CONT "$NOTIFY_A"
check "the notifier catches up and tells how many more were held" \
  wait_for 10 grep -q $'More print jobs held for release\t' "$ROOT/logs/notifications-a.txt"
shown=$(count_lines $'\tPrint job held for release\t.*burst' "$ROOT/logs/notifications-a.txt")
more=$(sed -n $'s/^lpm\tMore print jobs held for release\t\([0-9]*\) more.*/\\1/p' "$ROOT/logs/notifications-a.txt")
echo "   (shown $shown, counted as more $more)"
check "every job of the burst is shown or counted, at most 33 shown" \
  test "$((shown + more))" -eq 40 -a "$shown" -le 33

kill -TERM "$NOTIFY_A"
check "SIGTERM stops the notifier cleanly (exit 0)" wait "$NOTIFY_A"

# Usage and refusals.
check "lpm notify --help" "$BIN/lpm" notify --help
set +e
out=$(env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR "$BIN/lpm" notify --socket "$SOCK" 2>&1)
rc=$?
set -e
check "without a session bus it fails at once and says why" \
  test "$rc" -eq 1 -a -n "$(grep 'no session bus' <<<"$out")"

sed -i -e "s|</Configuration>|  <DisplayNotifications>false</DisplayNotifications>\n</Configuration>|" "$AGENT_CONF"
BUS_ADDRESS=$BUS_A
start_notifier notify-off
restart_agent
set +e
wait_for 10 bash -c "! kill -0 $NOTIFIER_PID 2>/dev/null"
wait "$NOTIFIER_PID"
rc=$?
set -e
check "PK-13: with DisplayNotifications off the notifier is refused and says so" \
  test "$rc" -eq 1 -a "$(count_lines 'DisplayNotifications' "$ROOT/logs/notify-off.log")" -ge 1
check "and jobs are stored as before" \
  "$BIN/lpm" print "$ROOT/docs/report.txt" --socket "$SOCK" --title "notifications off"

echo "$IT_PASSED passed, 0 failed"
