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
# Then release latency without the directory beside the normal one, in the same run: the agent
# (OfflineReleaseWindow 8 h) is started again, the policy allows release without the directory,
# and one station (--offline-release --lan-discovery, file device) releases a one-page job per
# badge: RELEASE_ROUNDS rounds (default 20) with the directory up, then the directory is stopped
# and as many rounds go through the offline table and printer-signed tickets. The time is the
# station's own "released ... in X ms" (badge read to last document at the device, the failed
# badge-in to the stopped directory included). A second JSON line:
#   release_offline_vs_normal       p50/p99 ms of each mode, ratio offline p50 / normal p50
# Usage: scripts/bench_discovery.sh [BUILD_DIR]   (root: network namespaces)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
ROUNDS=${ROUNDS:-20}
RELEASE_ROUNDS=${RELEASE_ROUNDS:-20}

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
  exec 7>&- 2>/dev/null || true
  for p in ${BROWSER:-} ${AVAHI_BROWSER:-} ${AGENT_PID:-} ${PUBLISHER:-} ${STATION:-}; do
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
NET_LAN_DISCOVERY=true NET_OFFLINE_WINDOW=8 net_add_agent ws-far 10.79.0.1 10.79.0.2 "${FAR_NS[@]}" \
  env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" >>"$ROOT/up.log"
FAR_ID=$XA_WS_ID
FAR_CONF=$XA_CONF
FAR_SOCK=$XA_SOCK
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

# ---- release latency, normal and without the directory ----
kill -TERM "$BROWSER" "$AVAHI_BROWSER" 2>/dev/null || true
wait "$BROWSER" "$AVAHI_BROWSER" 2>/dev/null || true
BROWSER= AVAHI_BROWSER=
"${FAR_NS[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" "$BIN/lpm-agent" serve --config "$FAR_CONF" \
  >"$ROOT/agent-release.out" 2>"$ROOT/agent-release.log" &
AGENT_PID=$!
wait_line "$ROOT/agent-release.log" 'connected to the directory' 1 || net_die "the agent did not reach the directory"
# As `lpm badges policy set --offline-hours 4` does (no administrator logs in here).
sqlite3 "$ROOT/directory/state.db" "INSERT INTO settings(name, value) VALUES('badge.offline_hours', '4')
  ON CONFLICT(name) DO UPDATE SET value = excluded.value"
mkfifo "$ROOT/badges"
DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR "$BIN/lpm-release" run --data "$ROOT/printer" \
  --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" \
  --no-prompts --offline-release --lan-discovery <"$ROOT/badges" >"$ROOT/station.out" 2>"$ROOT/station.log" &
STATION=$!
exec 7>"$ROOT/badges"
wait_line "$ROOT/station.log" 'offline table synced' 1 || net_die "the station did not sync its offline table"
wait_line "$ROOT/station.log" "LAN: workstation $FAR_ID at" 1 || net_die "the station did not find the agent on the LAN"
printf '%%PDF-1.4\n%% one page\n' >"$ROOT/page.pdf"
one_release() { # MODE ROUND NTH: prints a job there, badges in, waits for the NTH release line
  "$BIN/lpm" print "$ROOT/page.pdf" --socket "$FAR_SOCK" --title "$1-$2" >/dev/null
  if [[ $1 == normal ]]; then
    wait_line "$ROOT/agent-release.log" 'registered held jobs for 1 user' "$2" ||
      net_die "round $2: the agent did not register its job"
  fi
  printf '%s\n' "$BADGE" >&7
  wait_line "$ROOT/station.out" '^released 1 job' "$3" || net_die "$1 round $2: nothing released"
  grep '^released ' "$ROOT/station.out" | tail -n 1 | sed -E 's/.* in ([0-9.]+) ms$/\1/'
}
normal=() offline=()
for ((r = 1; r <= RELEASE_ROUNDS; r++)); do
  normal+=("$(one_release normal "$r" "$r")")
  echo "normal round $r: ${normal[-1]} ms" >&2
done
net_stop_pid "$DIR_PID"
for ((r = 1; r <= RELEASE_ROUNDS; r++)); do
  offline+=("$(one_release offline "$r" $((RELEASE_ROUNDS + r)))")
  echo "without the directory, round $r: ${offline[-1]} ms" >&2
done
grep -q 'releasing with the offline table' "$ROOT/station.out" || net_die "the station did not release without the directory"
n50=$(pct 50 "${normal[@]}")
n99=$(pct 99 "${normal[@]}")
o50=$(pct 50 "${offline[@]}")
o99=$(pct 99 "${offline[@]}")
ratio=$(awk -v a="$o50" -v b="$n50" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
line="{\"bench\":\"release_offline_vs_normal\",\"rounds\":$RELEASE_ROUNDS,\"normal_p50_ms\":$n50,\"normal_p99_ms\":$n99,\"offline_p50_ms\":$o50,\"offline_p99_ms\":$o99,\"ratio\":$ratio,\"what\":\"badge read to one-page job at a file device, one workstation on the LAN\"}"
printf '%s\n' "$line" | tee -a "$OUT"
