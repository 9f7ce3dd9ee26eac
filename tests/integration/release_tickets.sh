#!/usr/bin/env bash
# Issue 5, "tests with real peers": tickets a release station must not get away with, against the
# real lpm-agent and lpm-directory processes. lpm_test_release_probe (tests/support) badges in
# like a station and keeps the directory's ticket, then presents it to an agent, as is or
# tampered with, from this station or another, and runs single release ops. Refused: a forged
# ticket (one bit of the body changed), one presented by another enrolled station, one presented
# to a workstation it does not name, and a replay: on the same agent, and after the agent process
# restarted (the nonce is kept in its state.db). A ticket for jean never lists, claims, fetches
# or completes bob's job, even with bob's real claim id. Nothing is served on any refusal; the
# jobs are released normally afterwards. (An expired ticket: tests/unit/agent/test_release_service.cpp.)
set -euo pipefail
BIN=$(cd "${1:?usage: release_tickets.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin lpm-tickets
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to act as the OS account nobody"; exit 0; }
id nobody >/dev/null 2>&1 || fail "the OS account nobody is missing"
chmod 711 "$ROOT"

net_hook_before_agent() {
  local d=$ROOT/directory
  BOB_ID=$("$BIN/lpm-directory" user add --data "$d" --email bob@example.com --name "Bob B.")
  "$BIN/lpm-directory" badge add --data "$d" --badge B0B0B0 --email bob@example.com >/dev/null
  NET_EXTRA_BINDS="<Bind account=\"nobody\" user=\"$BOB_ID\"/>"
}
net_up "$ROOT" >"$ROOT/up.log"
dir_addr=127.0.0.1:$DIR_PORT
AGENT_FP=$("$BIN/lpm-agent" fingerprint --config "$AGENT_CONF")
# A second station, enrolled like the first, and a second workstation that holds nothing of jean's.
"$BIN/lpm-release" init --data "$ROOT/printer2" >/dev/null
token=$("$BIN/lpm-directory" token create --data "$ROOT/directory" --kind printer)
"$BIN/lpm-release" enroll --data "$ROOT/printer2" --directory "$dir_addr" --directory-fingerprint "$DIR_FP" \
  --token "$token" --name "Printer 3rd floor" >/dev/null
net_add_agent ws-b 127.0.0.1 127.0.0.1 >>"$ROOT/up.log"
B_PORT=$XA_PORT
B_FP=$("$BIN/lpm-agent" fingerprint --config "$XA_CONF")

PROBE=$BIN/lpm_test_release_probe
# badge_in BADGE FILE: the printer's badge-in; the ticket in FILE, the answer in BADGE_OUT.
badge_in() {
  net_wait_registered
  BADGE_OUT=$("$PROBE" badge-in "$ROOT/printer" "$dir_addr" "$DIR_FP" "$1" "$2")
  grep -q '^badge-in ok' <<<"$BADGE_OUT" || fail "badge-in $1: $BADGE_OUT"
}
# present DATA PORT TICKET [tamper] <<< "ops": the probe's answers in OUT (the agent on PORT is
# pinned to its own key: ws-b's on B_PORT, else the first agent's).
present() {
  local data=$1 port=$2 ticket=$3 pin=$AGENT_FP
  shift 3
  [[ $port != "$B_PORT" ]] || pin=$B_FP
  OUT=$("$PROBE" open "$data" "127.0.0.1:$port" "$pin" "$ticket" "$@")
  printf '%s\n----\n' "$OUT" >>"$ROOT/logs/probe.out"
}
has() { grep -q -- "$1" <<<"$OUT"; }
has_all() {
  local p
  for p in "$@"; do has "$p" || return 1; done
}

mkdir -p "$ROOT/docs"
chmod 755 "$ROOT/docs"
printf 'jean private\n' >"$ROOT/docs/jean.txt"
printf 'bob private\n' >"$ROOT/docs/bob.txt"
chmod 644 "$ROOT/docs/"*
jean_job=$("$BIN/lpm" print "$ROOT/docs/jean.txt" --socket "$AGENT_SOCK" --title jean | awk '/^job /{print $2}')
bob_job=$(runuser -u nobody -- "$BIN/lpm" print "$ROOT/docs/bob.txt" --socket "$AGENT_SOCK" --title bob |
  awk '/^job /{print $2}')
check "jean and bob each hold a job on the agent" test -n "$jean_job" -a -n "$bob_job"

badge_in "$BADGE" "$ROOT/jean.ticket"
t_ticket=$(net_ms)
check "the directory's ticket for jean names jean alone" \
  test "$(grep -c '^user ' <<<"$BADGE_OUT")" -eq 1 -a -n "$(grep "^user $USER_ID\$" <<<"$BADGE_OUT")"
check "and this workstation, at 127.0.0.1:$AGENT_PORT" grep -q "^workstation $WS_ID 127.0.0.1:$AGENT_PORT " <<<"$BADGE_OUT"
check "the directory pins the agent's own key" \
  test "$(awk -v w="$WS_ID" '$1 == "workstation" && $2 == w {print $4}' <<<"$BADGE_OUT")" = "$AGENT_FP"

present "$ROOT/printer" "$AGENT_PORT" "$ROOT/jean.ticket" tamper <<<"list"
check "forged: a ticket with one bit of its body changed is refused (invalid_signature)" has '^open error invalid_signature'
check "forged: and the connection has no conversation (list forbidden)" has '^list error forbidden'

present "$ROOT/printer2" "$AGENT_PORT" "$ROOT/jean.ticket" <<<"list"
check "wrong printer: another enrolled station presenting the ticket is refused (forbidden)" has '^open error forbidden'
check "wrong printer: nothing listed" has '^list error forbidden'

present "$ROOT/printer" "$B_PORT" "$ROOT/jean.ticket" <<<"list"
check "wrong workstation: an agent the ticket does not name refuses it (forbidden)" has '^open error forbidden'

# Bob's real claim on his job, taken with bob's own ticket (the probe exits; the claim stays for
# its lease).
badge_in B0B0B0 "$ROOT/bob.ticket"
present "$ROOT/printer" "$AGENT_PORT" "$ROOT/bob.ticket" <<<"ack $bob_job"
check "bob's ticket claims bob's job" has '^ack ok '
bob_claim=$(sed -n 's/^ack ok //p' <<<"$OUT")

# The refused attempts above did not spend jean's nonce: the genuine ticket opens now, once.
present "$ROOT/printer" "$AGENT_PORT" "$ROOT/jean.ticket" <<EOF
list
ack $bob_job
fetch $bob_job $bob_claim
complete $bob_job $bob_claim
EOF
check "the genuine ticket opens (the refusals spent no nonce)" has '^open ok'
check "other user: jean's conversation lists jean's job only" has "^list ok 1 $jean_job\$"
check "other user: acknowledging bob's job is not_found" has '^ack error not_found'
check "other user: fetching bob's job with bob's real claim is not_found, no byte sent" \
  has_all '^fetch error not_found' '^fetch bytes 0$'
check "other user: completing bob's job with bob's claim is not_found" has '^complete error not_found'
bob_state=$(runuser -u nobody -- "$BIN/lpm" jobs --socket "$AGENT_SOCK" | grep "$bob_job" || true)
check "bob's job was not printed (still claimed by bob's station)" grep -q -w claimed <<<"$bob_state"

present "$ROOT/printer" "$AGENT_PORT" "$ROOT/jean.ticket" <<<"list"
check "replayed on the same agent: refused (replayed)" has '^open error replayed'
check "replayed: nothing listed" has '^list error forbidden'

# A second ticket, not used before the restart.
badge_in "$BADGE" "$ROOT/jean2.ticket"
net_stop_pid "$AGENT_PID"
net_start agent-restarted "$ROOT/logs" "$BIN/lpm-agent" serve --config "$AGENT_CONF"
AGENT_PID=${NET_PIDS[-1]}
AGENT_PORT=$NET_PORT
present "$ROOT/printer" "$AGENT_PORT" "$ROOT/jean.ticket" <<<"list"
check "replayed after the agent process restarted: refused (replayed)" has '^open error replayed'
check "replayed after the restart: nothing listed" has '^list error forbidden'
check "the replays were refused while the ticket was still valid ($(($(net_ms) - t_ticket)) ms after issue)" \
  test $(($(net_ms) - t_ticket)) -lt 50000
present "$ROOT/printer" "$AGENT_PORT" "$ROOT/jean2.ticket" <<<"list"
check "the restarted agent opens a fresh ticket issued before the restart" has '^open ok'
check "and lists jean's job, still held" has "^list ok 1 $jean_job\$"
present "$ROOT/printer" "$AGENT_PORT" "$ROOT/jean2.ticket" <<<"list"
check "which cannot be replayed either" has '^open error replayed'
check "the agent logged each refusal" \
  test "$(cat "$ROOT"/logs/agent.log "$ROOT"/logs/agent-restarted.log "$ROOT"/logs/ws-b.log |
    grep -c 'open-release from .* refused')" -eq 6

check "nothing reached a device so far" test "$(find "$DEVICE_DIR" -type f | wc -l)" -eq 0
net_release "$BADGE"
check "a real station's badge-in then releases jean's job (and only it)" grep -q '^released 1 job(s) for Jean Dupont' <<<"$STEP_OUT"
check "jean's job is at the device" test -n "$(ls "$DEVICE_DIR/$jean_job".* 2>/dev/null)"

echo "$IT_PASSED passed, 0 failed"
