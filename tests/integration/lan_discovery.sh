#!/usr/bin/env bash
# Issue 8, discovery and release without the directory: agents advertise `_lpm-release._tcp` through the Bonjour API (Avahi's
# compatibility library) and a release station browses, resolves and lists them. The whole test
# runs in a network namespace of its own (unshare --net), joined by a veth pair to a second one
# held by a sleeping process (10.78.0.1 here, 10.78.0.2 there); each namespace has its own system
# bus and avahi-daemon announcing only on its veth end (scripts/lib/mdns.sh). The directory runs
# here; one agent runs there with <LanDiscovery>true</LanDiscovery>.
# Checks: `lpm-release discover` here finds the far agent with its workstation id, key
# fingerprint, release port and veth address, and the TXT record holds nothing else (no user or
# host name); an advertisement of our type that is not ours (a malformed TXT) is refused; the
# agent moves to another address, and a station with --lan-discovery releases its job through the
# address DNS-SD gives (the directory's is stale); release without the directory: with the
# policy on, a station with --offline-release syncs its certificate and the encrypted offline
# table, the directory is stopped, and a station started afterwards resolves the badge from the
# table, signs the ticket itself and releases the moved workstation's job through the address
# DNS-SD gives (the table's is stale), while the agent here, whose OfflineReleaseWindow is 0,
# refuses the printer-signed ticket and keeps its job, and neither the impostor's key nor an
# advertised workstation the key table does not know is ever used;
# the agent stopped, its entry goes; without an mDNS daemon discover fails and says why. Where
# namespaces cannot be made, the test fails saying so (it does not skip).
set -euo pipefail
BIN=$(cd "${1:?usage: lan_discovery.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

if [[ -z ${LPM_DISCOVERY_NETNS:-} ]]; then
  command -v ip >/dev/null || { echo "FAIL: ip not found (Debian package iproute2)" >&2; exit 1; }
  exec env LPM_HOST_NETNS="$(readlink /proc/self/ns/net)" LPM_DISCOVERY_NETNS=1 unshare --net -- bash "$0" "$BIN" ||
    { echo "FAIL: cannot make a network namespace (unshare --net needs root / CAP_SYS_ADMIN)" >&2; exit 1; }
fi
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"
source "$here/../../scripts/lib/mdns.sh"

NEAR=10.78.0.1
FAR=10.78.0.2
MOVED=10.78.0.3

it_begin lpm-discovery
it_at_exit net_far_ns_down
it_at_exit mdns_down
net_far_ns d0 d1 "$NEAR" "$FAR"

# Without an mDNS daemon (none runs in this namespace yet): a clear error, exit 1.
out=$(DBUS_SYSTEM_BUS_ADDRESS="unix:abstract=lpm-no-bus-$$" "$BIN/lpm-release" discover --seconds 1 2>&1) &&
  fail "discover worked without an mDNS daemon"
check "discover without an mDNS daemon says it cannot browse" grep -q 'cannot browse the LAN' <<<"$out"

mdns_up near d0 "$ROOT/mdns-near" || fail "no mDNS responder here"
mdns_up far d1 "$ROOT/mdns-far" "${FAR_NS[@]}" || fail "no mDNS responder there"

NET_LISTEN_HOST=0.0.0.0 net_up "$ROOT" >"$ROOT/up.log"
# It listens on every address it has (0.0.0.0): it keeps serving once its address changes.
NET_LAN_DISCOVERY=true NET_OFFLINE_WINDOW=8 net_add_agent ws-far "$NEAR" 0.0.0.0 "${FAR_NS[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" \
  >>"$ROOT/up.log"
FAR_SOCK=$XA_SOCK
FAR_ID=$XA_WS_ID
FAR_PORT=$XA_PORT
FAR_PID=$XA_PID
FAR_FP=$("$BIN/lpm-agent" fingerprint --config "$XA_CONF")
check "the far agent says it is advertised on the LAN" \
  wait_for 10 grep -q 'advertised on the LAN as lpm-' "$ROOT/logs/ws-far.log"

discover() { DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR "$BIN/lpm-release" discover "$@"; }
discover --seconds 4 --json >"$ROOT/discover.json" 2>"$ROOT/logs/discover.log" || fail "discover failed"
found=$(jq -c "select(.event == \"found\" and .workstation == \"$FAR_ID\")" "$ROOT/discover.json" | head -n 1)
check "the station finds the far agent by its workstation id" test -n "$found"
check "with the key fingerprint the agent enrolled" test "$(jq -r .fingerprint <<<"$found")" = "$FAR_FP"
check "with its release port" test "$(jq -r .port <<<"$found")" = "$FAR_PORT"
check "with the address it has on the LAN (the veth), found by DNS-SD" \
  test "$(jq -r '.addresses | join(",")' <<<"$found")" = "$FAR"
check "its instance name is opaque: lpm- and the workstation id" \
  test "$(jq -r .instance <<<"$found")" = "lpm-${FAR_ID//-/}"

# The TXT record as any mDNS browser sees it: version, id, fingerprint, and no other key.
txt=$(DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR timeout 5 avahi-browse -r -t -p _lpm-release._tcp 2>/dev/null |
  awk -F';' '$1 == "=" {print $10; exit}')
check "the TXT record holds exactly v=1, id=<workstation id>, fp=<fingerprint>" \
  test "$(tr ' ' '\n' <<<"$txt" | tr -d '"' | sort | paste -sd' ')" = "fp=$FAR_FP id=$FAR_ID v=1"
user_name=$(sqlite3 "$ROOT/directory/state.db" "SELECT display_name FROM users LIMIT 1")
check "it names no user and no host" \
  bash -c "! grep -qiF -e '$user_name' -e '$(hostname)' -e 'jean' <<<'$txt'"

# Someone else's advertisement of our type: a TXT record that is not ours is refused, with why.
"${FAR_NS[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" avahi-publish -s lpm-spoofed _lpm-release._tcp 9443 \
  "v=1" "id=jean dupont" "fp=$(printf '0%.0s' {1..64})" >"$ROOT/logs/spoof.log" 2>&1 &
SPOOF=$!
stop_spoof() { kill -TERM "$SPOOF" 2>/dev/null || true; wait "$SPOOF" 2>/dev/null || true; }
it_at_exit stop_spoof
wait_for 5 grep -q 'Established' "$ROOT/logs/spoof.log" || fail "avahi-publish did not publish: $(cat "$ROOT/logs/spoof.log")"
discover --seconds 3 >"$ROOT/discover2.txt" 2>>"$ROOT/logs/discover.log" || fail "discover failed"
check "a malformed advertisement of our type is refused, with the reason" \
  grep -q '^refused lpm-spoofed TXT record: the workstation id is not a plain token' "$ROOT/discover2.txt"
check "and the real agent is still found beside it" grep -q "^found $FAR_ID $FAR_FP " "$ROOT/discover2.txt"
stop_spoof

# A workstation that moved: the directory still gives the address the agent reported when it
# started (10.78.0.2); DNS-SD knows the new one. A station with --lan-discovery tries it after
# the directory's, pinned to the directory's key, and releases the job through it.
printf 'moved workstation\n' >"$ROOT/moved.txt"
"$BIN/lpm" print "$ROOT/moved.txt" --socket "$FAR_SOCK" --title moved >/dev/null
wait_for 10 bash -c "grep -E ' job [0-9a-f-]+ held for |registered held jobs' '$ROOT/logs/ws-far.log' | tail -n 1 | grep -q 'registered held jobs'" ||
  fail "the far agent did not register its job"
# (Deleted first: deleting a subnet's primary address also deletes the secondaries.)
"${FAR_NS[@]}" ip addr del "$FAR/24" dev d1
"${FAR_NS[@]}" ip addr add "$MOVED/24" dev d1
# And someone advertising that workstation's id, on its port, with another key: never used.
"${FAR_NS[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" avahi-publish -s lpm-impostor _lpm-release._tcp "$FAR_PORT" \
  "v=1" "id=$FAR_ID" "fp=$(printf 'f%.0s' {1..64})" >"$ROOT/logs/impostor.log" 2>&1 &
IMPOSTOR=$!
stop_impostor() { kill -TERM "$IMPOSTOR" 2>/dev/null || true; wait "$IMPOSTOR" 2>/dev/null || true; }
it_at_exit stop_impostor
wait_for 5 grep -q 'Established' "$ROOT/logs/impostor.log" || fail "avahi-publish did not publish the impostor"
mkfifo "$ROOT/badges"
DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR "$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" \
  --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" --lan-discovery --timeout-ms 1000 --no-prompts \
  <"$ROOT/badges" >"$ROOT/station.out" 2>"$ROOT/logs/station.log" &
STATION=$!
stop_station() { exec 7>&- 2>/dev/null || true; kill -TERM "$STATION" 2>/dev/null || true; wait "$STATION" 2>/dev/null || true; }
it_at_exit stop_station
exec 7>"$ROOT/badges"
check "the station's LAN table has the workstation at its new address" \
  wait_for 15 grep -q "LAN: workstation $FAR_ID at $MOVED port $FAR_PORT" "$ROOT/logs/station.log"
printf '%s\n' "$BADGE" >&7
check "the station tries the address found on the LAN after the directory's" \
  wait_for 15 grep -q "also trying $MOVED (found on the LAN)" "$ROOT/station.out"
check "the moved workstation's job is released through the address DNS-SD gave" \
  wait_for 15 grep -q "job(s) released via $MOVED:$FAR_PORT" "$ROOT/station.out"
check "and the document is at the device" bash -c "grep -rlq 'moved workstation' '$DEVICE_DIR'"
check "an advertisement of the workstation's id with another key is never trusted" \
  grep -q "LAN: lpm-impostor advertises workstation $FAR_ID with another key than the directory's: ignored" \
  "$ROOT/logs/station.log"
exec 7>&-
wait "$STATION" || true

# Release without the directory. The enterprise turns it on, as `lpm badges policy set
# --offline-hours 4` does (that command is tested in badge_in.sh; here no administrator logs in).
sqlite3 "$ROOT/directory/state.db" "INSERT INTO settings(name, value) VALUES('badge.offline_hours', '4')
  ON CONFLICT(name) DO UPDATE SET value = excluded.value" || fail "cannot set the badge policy"
printf 'released without the directory\n' >"$ROOT/outage-far.txt"
"$BIN/lpm" print "$ROOT/outage-far.txt" --socket "$FAR_SOCK" --title outage-far >/dev/null
printf 'held by an agent that accepts no printer-signed ticket\n' >"$ROOT/outage-near.txt"
near_job=$("$BIN/lpm" print "$ROOT/outage-near.txt" --socket "$AGENT_SOCK" --title outage-near | awk '/^job /{print $2}')
[[ -n $near_job ]] || fail "lpm print gave no job id"
# The agent here registers its job, so the table lists it as a holder. The moved one cannot reach
# the directory from its new address until its link comes back (it need not: the station finds
# it on the LAN).
wait_for 10 bash -c "grep -E ' job [0-9a-f-]+ held for |registered held jobs' '$ROOT/logs/agent.log' | tail -n 1 | grep -q 'registered held jobs'" ||
  fail "the agent here did not register its job"
station_run() { # LOG ARGS...: a station reading badges from the FIFO (fd 7)
  local log=$1
  shift
  DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR "$BIN/lpm-release" run --data "$ROOT/printer" \
    --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" \
    --timeout-ms 1000 --no-prompts "$@" <"$ROOT/badges" >"$ROOT/$log.out" 2>"$ROOT/logs/$log.log" &
  STATION=$!
  exec 7>"$ROOT/badges"
}
station_run sync --offline-release
check "the station syncs its certificate and the offline table while the directory answers" \
  wait_for 15 grep -q 'offline table synced: 1 badge(s), 2 workstation(s), certificate valid until' \
  "$ROOT/logs/sync.log"
exec 7>&-
wait "$STATION" || true
check "the offline table is private to the station (0600), and so is its key" \
  test "$(stat -c %a "$ROOT/printer/offline.table") $(stat -c %a "$ROOT/printer/offline.key")" = "600 600"
check "the table on disk holds neither the badge nor the user's name or e-mail" \
  bash -c "! grep -qaF -e '$BADGE' -e 'Jean Dupont' -e 'jean.dupont' '$ROOT/printer/offline.table'"

net_stop_pid "$DIR_PID"
# A well-formed advertisement of a workstation the key table does not know: never contacted.
UNKNOWN_ID=01a2ffff-0000-7000-8000-000000000001
"${FAR_NS[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$MDNS_BUS_FAR" avahi-publish -s lpm-unknown _lpm-release._tcp 9443 \
  "v=1" "id=$UNKNOWN_ID" "fp=$(printf 'e%.0s' {1..64})" >"$ROOT/logs/unknown.log" 2>&1 &
UNKNOWN=$!
stop_unknown() { kill -TERM "$UNKNOWN" 2>/dev/null || true; wait "$UNKNOWN" 2>/dev/null || true; }
it_at_exit stop_unknown
wait_for 5 grep -q 'Established' "$ROOT/logs/unknown.log" || fail "avahi-publish did not publish lpm-unknown"
station_run outage --offline-release --lan-discovery
check "started while the directory is down, the station releases with the offline table" \
  wait_for 15 grep -q 'is unreachable .*: releasing with the offline table synced at' "$ROOT/logs/outage.log"
check "its LAN table has the moved workstation" \
  wait_for 15 grep -q "LAN: workstation $FAR_ID at $MOVED port $FAR_PORT" "$ROOT/logs/outage.log"
check "and the unknown one" wait_for 15 grep -q "LAN: workstation $UNKNOWN_ID at" "$ROOT/logs/outage.log"
printf '%s\n' "$BADGE" >&7
# 2: the moved one (found on the LAN, known to the key table) and the one here (a holder at the
# last sync); not the unknown one.
check "the badge is resolved from the offline table and the station signs the ticket" \
  wait_for 15 grep -q "badge $BADGE: the directory is unreachable .*: releasing with the offline table synced at .* (2 workstation(s))" \
  "$ROOT/outage.out"
check "the address the table had is stale: the one DNS-SD gives is tried" \
  wait_for 15 grep -q "also trying $MOVED (found on the LAN)" "$ROOT/outage.out"
check "the moved workstation's job is released without the directory, through that address" \
  wait_for 15 grep -q "1 of 1 job(s) released via $MOVED:$FAR_PORT" "$ROOT/outage.out"
check "and the document is at the device" bash -c "grep -rlq 'released without the directory' '$DEVICE_DIR'"
check "the far agent accepted a ticket the station signed, under its certificate" \
  grep -q 'release opened by station .* with a ticket it signed (directory unreachable)' "$ROOT/logs/ws-far.log"
check "an agent whose OfflineReleaseWindow is 0 refuses the printer-signed ticket" \
  wait_for 15 grep -q "stopped after 0 job(s): forbidden: open-release: this workstation does not accept printer-signed tickets" \
  "$ROOT/outage.out"
check "and keeps its job held" \
  test "$("$BIN/lpm" jobs --socket "$AGENT_SOCK" | awk -v j="$near_job" '$1 == j {print $3}')" = held
check "none of it reached the device" bash -c "! grep -rlq 'accepts no printer-signed ticket' '$DEVICE_DIR'"
check "the impostor's advertisement of the workstation's id is not trusted without the directory either" \
  grep -q "LAN: lpm-impostor advertises workstation $FAR_ID with another key than the directory's: ignored" \
  "$ROOT/logs/outage.log"
exec 7>&-
wait "$STATION" || true
stop_impostor
stop_unknown

# The agent stops: its advertisement is withdrawn, and a station browsing sees it go.
# Started directly, not through the function: $! is then lpm-release itself, stopped by PID.
DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_NEAR "$BIN/lpm-release" discover --seconds 0 >"$ROOT/discover3.txt" \
  2>>"$ROOT/logs/discover.log" &
BROWSER=$!
stop_browser() { kill -TERM "$BROWSER" 2>/dev/null || true; wait "$BROWSER" 2>/dev/null || true; }
it_at_exit stop_browser
wait_for 10 grep -q "^found $FAR_ID" "$ROOT/discover3.txt" || fail "the running browser did not find the agent"
net_stop_pid "$FAR_PID"
check "the agent stopped, a running browser sees it lost" wait_for 10 grep -q "^lost $FAR_ID" "$ROOT/discover3.txt"
stop_browser
check "discover stops cleanly on SIGTERM" grep -q '^browsing _lpm-release._tcp' "$ROOT/discover3.txt"

echo "lan_discovery: $IT_PASSED checks passed"
