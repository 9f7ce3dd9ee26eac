#!/usr/bin/env bash
# Discovery benchmark of issue 8 (figures, never pass/fail), run by scripts/bench.sh. Two network
# namespaces joined by a veth pair, each with its own system bus and avahi-daemon (as
# tests/integration/lan_discovery.sh); the directory and a long-running `lpm-release discover`
# here, an enrolled agent there with <LanDiscovery>true</LanDiscovery>. Each round starts the
# agent and times until the station lists it (found), then stops it and waits until it is lost.
# In the same run, Avahi's own publish-to-browse time: `avahi-publish -s` there, a running
# `avahi-browse -p` here, until the service's "+" line. ROUNDS rounds of each (default 20),
# interleaved. Appends one JSON line to BUILD/bench/results.jsonl:
#   discovery_agent_start_to_found  p50/p99 ms, peer avahi-publish -> avahi-browse p50/p99 ms,
#                                   ratio p50 / peer p50 (goal: p50 <= 1000 ms and ratio <= 1.1)
# Usage: scripts/bench_discovery.sh [BUILD_DIR]   (root: network namespaces)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
ROUNDS=${ROUNDS:-20}

if [[ -z ${LPM_BENCH_NETNS:-} ]]; then
  exec env LPM_HOST_NETNS="$(readlink /proc/self/ns/net)" LPM_BENCH_NETNS=1 unshare --net -- bash "$0" "$BUILD"
fi
source "$here/lib/network.sh"
source "$here/lib/testing.sh"
source "$here/lib/mdns.sh"
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/results.jsonl

it_begin lpm-bench-discovery
stop_all() {
  for p in ${BROWSER:-} ${AVAHI_BROWSER:-} ${AGENT_PID:-} ${PUBLISHER:-}; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
it_at_exit net_far_ns_down
it_at_exit stop_all
it_at_exit mdns_down
net_far_ns b0 b1 10.79.0.1 10.79.0.2
mdns_up near b0 "$ROOT/mdns-near" >/dev/null || net_die "no mDNS responder here"
mdns_up far b1 "$ROOT/mdns-far" "${FAR_NS[@]}" >/dev/null || net_die "no mDNS responder there"

echo "bringing the network up in $ROOT ..." >&2
NET_LISTEN_HOST=0.0.0.0 net_up "$ROOT" >"$ROOT/up.log"
# The agent is enrolled once (net_add_agent starts it; stopped again before the rounds).
NET_LAN_DISCOVERY=true net_add_agent ws-far 10.79.0.1 10.79.0.2 "${FAR_NS[@]}" \
  env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" >>"$ROOT/up.log"
FAR_ID=$XA_WS_ID
FAR_CONF=$XA_CONF
net_stop_pid "$XA_PID"

DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR "$BIN/lpm-release" discover --seconds 0 >"$ROOT/discover.txt" 2>"$ROOT/discover.log" &
BROWSER=$!
DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR avahi-browse -p _lpm-bench._tcp >"$ROOT/avahi-browse.txt" 2>&1 &
AVAHI_BROWSER=$!
sleep 1
# wait_line FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN (10 ms polls, 20 s).
wait_line() {
  local i
  for ((i = 0; i < 2000; i++)); do
    (($(grep -c -- "$2" "$1" 2>/dev/null || true) >= $3)) && return 0
    sleep 0.01
  done
  return 1
}
ms() { date +%s%3N; }
ours=() avahi=()
for ((r = 1; r <= ROUNDS; r++)); do
  t0=$(ms)
  "${FAR_NS[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" "$BIN/lpm-agent" serve --config "$FAR_CONF" \
    >"$ROOT/agent-$r.out" 2>"$ROOT/agent-$r.log" &
  AGENT_PID=$!
  wait_line "$ROOT/discover.txt" "^found $FAR_ID" "$r" || net_die "round $r: the agent was not found"
  ours+=($(($(ms) - t0)))
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null || true
  AGENT_PID=
  wait_line "$ROOT/discover.txt" "^lost $FAR_ID" "$r" || net_die "round $r: the agent was not lost"

  t0=$(ms)
  "${FAR_NS[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" avahi-publish -s "bench-$r" _lpm-bench._tcp 9 \
    >"$ROOT/publish-$r.log" 2>&1 &
  PUBLISHER=$!
  wait_line "$ROOT/avahi-browse.txt" "^+;.*;bench-$r;" 1 || net_die "round $r: avahi-browse did not see bench-$r"
  avahi+=($(($(ms) - t0)))
  kill -TERM "$PUBLISHER"
  wait "$PUBLISHER" 2>/dev/null || true
  PUBLISHER=
  wait_line "$ROOT/avahi-browse.txt" "^-;.*;bench-$r;" 1 || true
  echo "round $r: agent start to found ${ours[-1]} ms, avahi-publish to avahi-browse ${avahi[-1]} ms" >&2
done

pct() {
  local p=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{v[NR]=$1} END {r=int((p*NR+99)/100); if (r<1) r=1; print v[r]}'
}
p50=$(pct 50 "${ours[@]}")
p99=$(pct 99 "${ours[@]}")
peer50=$(pct 50 "${avahi[@]}")
peer99=$(pct 99 "${avahi[@]}")
ratio=$(awk -v a="$p50" -v b="$peer50" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
line="{\"bench\":\"discovery_agent_start_to_found\",\"rounds\":$ROUNDS,\"p50_ms\":$p50,\"p99_ms\":$p99,\"peer\":\"avahi-publish to avahi-browse, same namespaces\",\"peer_p50_ms\":$peer50,\"peer_p99_ms\":$peer99,\"ratio\":$ratio,\"goal\":\"p50 <= 1000 ms and ratio <= 1.1\"}"
printf '%s\n' "$line" | tee -a "$OUT"
