#!/usr/bin/env bash
# Issue 5, "tests with real peers": one of three workstations goes silent. The whole test runs in
# a network namespace of its own (unshare --net); a second namespace, held by a sleeping process,
# is joined to it by a veth pair (10.77.0.1 here, 10.77.0.3 there). Two agents run on loopback,
# the third in the second namespace, reaching the directory through the veth, so the directory
# gives the station 10.77.0.3 for it. Each agent holds two jobs of the badge's user. Then the
# third is blackholed: its address gets a neighbour entry with a MAC nobody has, so packets to it
# vanish (no RST, no ICMP) and a connect hangs. A badge-in with --timeout-ms 1000 releases the
# other two at once, says the third is unreachable, takes at most the timeout plus a margin, and
# leaves the third's jobs held. With the neighbour entry repaired, the next badge-in releases them
# through 10.77.0.3.
set -euo pipefail
BIN=$(cd "${1:?usage: release_blackhole.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

if [[ -z ${LPM_BLACKHOLE_NETNS:-} ]]; then
  command -v ip >/dev/null || { echo "FAIL: ip not found (Debian package iproute2)" >&2; exit 1; }
  exec env LPM_HOST_NETNS="$(readlink /proc/self/ns/net)" LPM_BLACKHOLE_NETNS=1 unshare --net -- bash "$0" "$BIN"
fi
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

TIMEOUT_MS=1000
MARGIN_MS=1500 # a correctness bound (start-up, badge-in, two small releases), not a benchmark
NEAR=10.77.0.1
FAR=10.77.0.3

it_begin lpm-blackhole
it_at_exit net_far_ns_down
# The far namespace: a process that does nothing but keep it alive, and a veth pair to it.
net_far_ns v0 v1 "$NEAR" "$FAR"
HOLDER=$NET_HOLDER
# (Read with ip: /sys still shows this namespace's interfaces to a process nsenter moved.)
FAR_MAC=$("${FAR_NS[@]}" ip -o link show v1 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[[ -n $FAR_MAC ]] || fail "no MAC address on v1"

# The directory and the accounting server listen on every address of this namespace (loopback
# and the veth), so the far agent reaches them.
NET_LISTEN_HOST=0.0.0.0 net_up "$ROOT" >"$ROOT/up.log"
net_add_agent ws-b 127.0.0.1 127.0.0.1 >>"$ROOT/up.log"
B_SOCK=$XA_SOCK
net_add_agent ws-c "$NEAR" "$FAR" "${FAR_NS[@]}" >>"$ROOT/up.log"
C_SOCK=$XA_SOCK
C_PID=$XA_PID
check "the third agent runs in the far namespace" \
  test "$(readlink "/proc/$C_PID/ns/net")" = "$(readlink "/proc/$HOLDER/ns/net")"

# registered LOG: the agent has told the directory about its latest stored job.
registered() {
  local last
  last=$(grep -E ' job [0-9a-f-]+ held for |registered held jobs' "$1" | tail -n 1)
  [[ $last == *"registered held jobs"* ]]
}
mkdir -p "$ROOT/docs"
declare -A owner # job id -> workstation
for ws in vm:"$AGENT_SOCK" ws-b:"$B_SOCK" ws-c:"$C_SOCK"; do
  name=${ws%%:*}
  sock=${ws#*:}
  for i in 1 2; do
    printf '%s document %d\n' "$name" "$i" >"$ROOT/docs/$name-$i.txt"
    job=$("$BIN/lpm" print "$ROOT/docs/$name-$i.txt" --socket "$sock" --title "$name $i" | awk '/^job /{print $2}')
    [[ -n $job ]] || fail "no job id from $name"
    owner[$job]=$name
  done
done
for log in agent ws-b ws-c; do
  wait_for 10 registered "$ROOT/logs/$log.log" || fail "agent $log did not register its held jobs"
done
held_on() { "$BIN/lpm" jobs --socket "$1" | grep -c ' held' || true; }
check "each of the three agents holds two jobs" \
  test "$(held_on "$AGENT_SOCK")$(held_on "$B_SOCK")$(held_on "$C_SOCK")" = 222

# badge_in: one station run with the connect timeout; output in OUT, wall time in TOOK_MS.
badge_in() {
  local t0
  t0=$(net_ms)
  OUT=$(printf '%s\n' "$BADGE" | "$BIN/lpm-release" run --data "$ROOT/printer" \
    --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" \
    --timeout-ms "$TIMEOUT_MS" 2>>"$ROOT/logs/release.log")
  TOOK_MS=$(($(net_ms) - t0))
  printf '%s\n' "$OUT" >>"$ROOT/logs/release.out"
}

# Silently: a permanent neighbour entry pointing at a MAC no interface has.
ip neigh replace "$FAR" lladdr 02:00:00:00:00:99 dev v0 nud permanent
badge_in
echo "   (badge-in with one of three workstations blackholed: $TOOK_MS ms, timeout $TIMEOUT_MS ms)"
grep '^workstation \|^released ' <<<"$OUT" | sed 's/^/   | /'
line_of() { grep -n -- "$1" <<<"$OUT" | head -n 1 | cut -d: -f1; }
check "the two reachable workstations release their jobs" \
  grep -q '^released 4 job(s) for ' <<<"$OUT"
check "workstation vm: 2 of 2 released" grep -q '^workstation vm: 2 of 2 job(s) released via 127.0.0.1' <<<"$OUT"
check "workstation ws-b: 2 of 2 released" grep -q '^workstation ws-b: 2 of 2 job(s) released via 127.0.0.1' <<<"$OUT"
check "the station says the blackholed workstation is unreachable" \
  grep -q '^workstation ws-c: unreachable (' <<<"$OUT"
ua=$(line_of '^workstation ws-c: unreachable')
check "the silent workstation did not hold up the others (they finished first)" \
  test "$(line_of '^workstation vm:')" -lt "$ua" -a "$(line_of '^workstation ws-b:')" -lt "$ua"
check "the whole badge-in took at most timeout + ${MARGIN_MS} ms ($TOOK_MS ms)" \
  test "$TOOK_MS" -le $((TIMEOUT_MS + MARGIN_MS))
check "and at least the timeout: the station really waited for the silent one ($TOOK_MS ms)" \
  test "$TOOK_MS" -ge "$TIMEOUT_MS"
check "the blackholed agent's two jobs are still held" test "$(held_on "$C_SOCK")" -eq 2
for job in "${!owner[@]}"; do
  if [[ ${owner[$job]} == ws-c ]]; then
    check "job $job of ws-c did not reach the device" test -z "$(ls "$DEVICE_DIR/$job".* 2>/dev/null)"
  else
    check "job $job of ${owner[$job]} is at the device" test -n "$(ls "$DEVICE_DIR/$job".* 2>/dev/null)"
  fi
done

# The path repaired: the next badge-in reaches the third agent through the veth.
ip neigh replace "$FAR" lladdr "$FAR_MAC" dev v0 nud reachable
badge_in
echo "   (badge-in after the repair: $TOOK_MS ms)"
check "after the repair, the third workstation releases its two jobs via $FAR" \
  grep -q "^workstation ws-c: 2 of 2 job(s) released via $FAR" <<<"$OUT"
check "its jobs are printed now" test "$(held_on "$C_SOCK")" -eq 0
check "the device holds all six documents" test "$(find "$DEVICE_DIR" -type f | wc -l)" -eq 6

echo "$IT_PASSED passed, 0 failed"
