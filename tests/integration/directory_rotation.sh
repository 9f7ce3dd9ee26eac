#!/usr/bin/env bash
# Issue 4: rotating the directory's TLS identity on the whole network on loopback (DESIGN §3:
# agents pin a set of keys). `lpm-directory identity next` makes the key to come; the restarted
# directory announces it with register replies and the agent keeps it in state.db; `identity
# rotate` refuses to run under a serving directory, then switches; the agent, configured with the
# old key only, registers with the directory that now answers with the new one; a release station
# given both keys (a comma-separated set) releases a job after the rotation.
set -euo pipefail
BIN=$(cd "${1:?usage: directory_rotation.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin
net_up "$ROOT" >"$ROOT/up.log"
d=$ROOT/directory
old_fp=$DIR_FP
dir_pid=${NET_PIDS[0]}

# Restarts the directory on its port (the agent's configured address stays right).
restart_directory() {
  net_stop_pid "$dir_pid"
  [[ -n ${1:-} ]] && "$@"
  net_start directory "$ROOT/logs" "$BIN/lpm-directory" serve --data "$d" --listen "127.0.0.1:$DIR_PORT"
  dir_pid=${NET_PIDS[${#NET_PIDS[@]} - 1]}
}

next_fp=$("$BIN/lpm-directory" identity next --data "$d" | awk '/^next /{print $2}')
check "identity next makes a new key" bash -c "[[ '$next_fp' =~ ^[0-9a-f]{64}$ && '$next_fp' != '$old_fp' ]]"
check "identity next again gives the same key" \
  test "$("$BIN/lpm-directory" identity next --data "$d" | awk '/^next /{print $2}')" = "$next_fp"
out=$("$BIN/lpm-directory" identity show --data "$d")
check "identity show lists the current and the next key" \
  bash -c "grep -q '^current $old_fp' <<<'$out' && grep -q '^next *$next_fp' <<<'$out'"

restart_directory
learned() {
  sqlite3 "$ROOT/agent/state.db" "SELECT value FROM settings WHERE name = 'directory_keys'" 2>/dev/null |
    grep -q "$next_fp"
}
check "the agent keeps the next key its register reply announced" wait_for 20 learned
check "the agent says it now accepts both keys" grep -q 'directory keys now accepted: 2' "$ROOT/logs/agent.log"

out=$("$BIN/lpm-directory" identity rotate --data "$d" 2>&1) && fail "rotate ran under a serving directory"
check "rotate refuses while the directory serves" grep -q 'another lpm-directory serves' <<<"$out"

rotated_ms=$(net_ms)
restart_directory "$BIN/lpm-directory" identity rotate --data "$d"
check "after rotate the directory answers with the new key" \
  test "$("$BIN/lpm-directory" fingerprint --data "$d")" = "$next_fp"
check "the old identity is kept" bash -c "ls '$d' | grep -q '^identity-retired-.*\.key$'"
registered_again() {
  test "$(sqlite3 "$d/state.db" "SELECT max(last_seen_ms) FROM workstations")" -gt "$rotated_ms"
}
check "the agent, configured with the old key only, registers with the rotated directory" wait_for 20 registered_again

# A release station pins a set: the old key and the new one (comma-separated).
printf '%%PDF-1.4 after rotation\n' >"$ROOT/after.pdf"
job=$("$BIN/lpm" print "$ROOT/after.pdf" --title "After rotation" --socket "$AGENT_SOCK" | awk '/^job /{print $2}')
check "a job is held after the rotation" test -n "$job"
DIR_FP="$old_fp,$next_fp"
net_release "$BADGE"
check "a release station given both keys releases it after the rotation" grep -q "released 1 job" <<<"$STEP_OUT"

echo "$IT_PASSED checks passed"
