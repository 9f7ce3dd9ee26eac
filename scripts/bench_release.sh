#!/usr/bin/env bash
# The release benchmark of issue 5 (figures and ratios, never pass/fail; bench/README.md,
# "Release"): badge-in to a one-page PDF of about 100 KB complete at the device, against CUPS's
# own local release of the same held document. Both deliver to the same ippeveprinter
# (lib/ippeve.sh) and both are timed by the same probe, lpm_spool_probe: the document file
# closed in the printer's spool folder (inotify), on CLOCK_MONOTONIC, from a mark written to the
# probe just before the request (Release-Job, or the badge line given to the station).
#
#   release_cups_local            CUPS: a private cupsd, queue ?waitjob=false, RELEASES held jobs,
#                                 Release-Job one at a time from lpm_cups_release_client (libcups,
#                                 one connection); p50/p99/mean
#   release_cups_local_ipptool    the same with one `ipptool` run per Release-Job
#   release_lpm_resumed           ours: `lpm print` to the agent, then the badge line to one
#                                 long-running station (lpm-release run --device ipp://...), TLS
#                                 sessions resumed; ratio = ours / CUPS p50 (goal <= 1.0)
#   release_lpm_cold              the same with --no-resume (every handshake full)
#   release_lpm_10_workstations   one job on each of 10 workstations, one badge: until all 10
#                                 files are closed; p99 over WS_ROUNDS rounds (goal <= 20 ms)
#   release_lpm_10_workstations_file  the same to the station's file:// device (takes jobs in
#                                 parallel; ippeveprinter takes one at a time)
#
# Runs in a network namespace of its own (root: it re-runs itself under `unshare --net`).
# Usage: scripts/bench_release.sh [BUILD_DIR]
#   env: RELEASES=200 WS_ROUNDS=20 WORKSTATIONS=10 DOC_BYTES=100000
#        SERIES=cups,single,ws (a subset runs only those parts: SERIES=ws the 10-workstation ones)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/network.sh"
source "$here/lib/testing.sh" # wait_for
source "$here/lib/ippeve.sh"
ippeve_enter_netns "$0" "$@"
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
RELEASES=${RELEASES:-200}
WS_ROUNDS=${WS_ROUNDS:-20}
WORKSTATIONS=${WORKSTATIONS:-10}
DOC_BYTES=${DOC_BYTES:-100000}
SERIES=${SERIES:-cups,single,ws}
want() { [[ ,$SERIES, == *,$1,* ]]; }
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/results.jsonl
for tool in lpm_spool_probe lpm_cups_release_client lpm-release lpm-agent lpm-directory lpm; do
  [[ -x $BIN/$tool ]] || ippeve_die "$BIN/$tool is missing: build first"
done
command -v jq >/dev/null || ippeve_die "jq not found (Debian package jq)"

BASE=$(mktemp -d /tmp/lpm-bench-release.XXXXXX)
chmod 711 "$BASE" # CUPS's filters run as lp
mkdir -p "$BASE/logs"
BENCH_PIDS=() # probe, CUPS client, stations: stopped by PID at exit
cleanup() {
  local i
  exec 6>&- 7>&- 8>&- 9>&- 2>/dev/null || true
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do net_stop_pid "${BENCH_PIDS[i]}"; done
  cups_down
  net_down
  ippeve_down
  if [[ -n ${KEEP:-} ]]; then echo "kept $BASE" >&2; else rm -rf "$BASE"; fi
}
trap cleanup EXIT
trap '' PIPE # a station that exited makes a badge write fail, not this script die

emit() { # emit JSON: one compact line to stdout and the results file
  jq -c . <<<"$1" | tee -a "$OUT"
}
say() { echo "$*" >&2; }

# ---- the device, the probe, the document --------------------------------------------------------
ippeve_up "$BASE/ippeve" >/dev/null
PROBE_OUT=$BASE/probe.out
mkfifo "$BASE/marks"
"$BIN/lpm_spool_probe" --marks "$IPPEVE_SPOOL" <"$BASE/marks" >"$PROBE_OUT" 2>"$BASE/logs/probe.log" &
BENCH_PIDS+=("$!")
exec 9>"$BASE/marks"
wait_for 5 grep -qs '^ready' "$BASE/logs/probe.log" || ippeve_die "lpm_spool_probe did not start"

DOC=$BASE/doc.pdf
ippeve_make_pdf "$DOC" 1 "$DOC_BYTES"
DOC_SIZE=$(stat -c %s "$DOC")
chmod 644 "$DOC"
say "device $IPPEVE_URI; document: 1 page, $DOC_SIZE bytes"

# mark LABEL COUNT: the series LABEL's next release starts now; it is done when COUNT more files
# have closed in the spool folder. Stamped here ($EPOCHREALTIME, which the probe moves to its
# monotonic clock), so a probe that wakes late on a busy machine does not shorten the time.
FILES_SEEN=0
mark() { printf '@%s %s %s\n' "$EPOCHREALTIME" "$1" "$2" >&9; }
# File lines, without the ".part" files the file:// device writes before renaming them.
files_closed() { grep -v '\.part [0-9-]*$' "$PROBE_OUT" | grep -c '^[0-9]* /' || true; }
# wait_files COUNT SECONDS: until COUNT more files closed than when last called, and the device
# has finished their jobs (it takes one job at a time, lib/ippeve.sh: every release starts with
# an idle device, and a late job cannot delay the next one); 1 on time-out.
DEVICE_JOBS=0    # jobs sent to the ippeveprinter so far
TO_IPPEVE=1      # 0 while a series prints to a file:// device instead
device_done() { [[ $(ippeve_jobs_done) -ge $DEVICE_JOBS ]]; }
# nap SECONDS: a pause without a process (bash's own read, timing out on a FIFO nobody writes):
# `sleep` is a fork and an exec in the window being measured.
mkfifo "$BASE/nap"
exec 6<>"$BASE/nap"
nap() { read -r -t "$1" -u 6 _ || true; }
wait_files() {
  # A deadline on the clock, not a count of polls: on a loaded machine each poll takes longer.
  local want=$((FILES_SEEN + $1)) end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    # First a pause, then a look: the greps run after most releases are over, not during them.
    nap 0.05
    if [[ $(files_closed) -ge $want ]]; then
      FILES_SEEN=$want
      ((TO_IPPEVE == 0)) && return 0
      DEVICE_JOBS=$((DEVICE_JOBS + $1))
      wait_for "$2" device_done
      return
    fi
    # Every 50 ms: the times come from the probe, so polling faster would not shorten them, only
    # take CPU from what is measured (at 5 ms the greps took a third of a 2-core machine).
  done
  FILES_SEEN=$(files_closed)
  return 1
}

# latencies LABEL: one line per completed release of series LABEL, "<ms> <bytes of its last
# file>": from its mark to the COUNT-th file closed after it (releases run one at a time).
latencies() {
  awk -v label="$1" '
    $2 == "mark" { want = ($3 == label) ? $4 : 0; start = $1; got = 0; next }
    $2 ~ /\.part$/ { next }
    want > 0 { got++; if (got == want) { printf "%.3f %s\n", ($1 - start) / 1e6, $NF; want = 0 } }
  ' "$PROBE_OUT"
}

# stats FILE: the first column's {n, p50_ms, p99_ms, mean_ms, max_ms} as JSON (nearest rank).
stats() {
  sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
    function rank(p,  i) { i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; return v[i] }
    END { if (NR == 0) { print "{\"n\": 0}"; exit }
          printf "{\"n\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f, \"max_ms\": %.3f}\n",
                 NR, rank(50), rank(99), s / NR, v[NR] }'
}

# ---- CUPS's own local release --------------------------------------------------------------------
CUPS_P50=null
if want cups; then
say "CUPS: private cupsd, queue to the device with ?waitjob=false ..."
ippeve_cups_up "$BASE/cups" held
# cups_series LABEL: RELEASES held jobs (plus one warm-up), released one at a time by the libcups
# client; a line on its input releases the next one.
cups_series() {
  local label=$1 i
  mkfifo "$BASE/$label.in"
  "$BIN/lpm_cups_release_client" --printer held --document "$DOC" --jobs $((RELEASES + 1)) --prefix "$label" \
    <"$BASE/$label.in" >"$BASE/$label.out" 2>"$BASE/logs/$label.log" &
  local pid=$!
  BENCH_PIDS+=("$pid")
  exec 8>"$BASE/$label.in"
  wait_for 60 grep -q '^ready' "$BASE/$label.out" || ippeve_die "lpm_cups_release_client could not hold the jobs"
  for ((i = 0; i <= RELEASES; i++)); do
    # The warm-up release (0) is not a mark of the series.
    if ((i == 0)); then mark warmup 1; else mark "$label" 1; fi
    printf 'release\n' >&8
    wait_files 1 10 || say "  $label: release $i did not reach the device within 10 s"
  done
  exec 8>&-
  net_stop_pid "$pid"
}
# ipptool_series LABEL: the same held jobs, one `ipptool` process per Release-Job.
ipptool_series() {
  local label=$1 i id
  cat >"$BASE/release-job.test" <<'TEST'
{
  NAME "Release-Job"
  OPERATION Release-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR integer job-id $jobid
  ATTR name requesting-user-name bench
  STATUS successful-ok
}
TEST
  # Hold them with the client (no releases: its input is closed at once).
  "$BIN/lpm_cups_release_client" --printer held --document "$DOC" --jobs $((RELEASES + 1)) --prefix "$label" \
    </dev/null >"$BASE/$label.out" 2>"$BASE/logs/$label.log" || ippeve_die "could not hold the jobs for $label"
  i=0
  for id in $(awk '/^held /{print $2}' "$BASE/$label.out"); do
    if ((i == 0)); then mark warmup 1; else mark "$label" 1; fi
    ipptool -q -d jobid="$id" "ipp://127.0.0.1:$CUPS_PORT/printers/held" "$BASE/release-job.test" ||
      say "  $label: ipptool Release-Job of job $id failed"
    wait_files 1 10 || say "  $label: release $i did not reach the device within 10 s"
    i=$((i + 1))
  done
}

say "CUPS: $RELEASES releases of held jobs (libcups client) ..."
cups_series cups
say "CUPS: $RELEASES releases of held jobs (ipptool per release) ..."
ipptool_series cupstool
latencies cups >"$BASE/cups.ms"
latencies cupstool >"$BASE/cupstool.ms"
CUPS_STATS=$(stats "$BASE/cups.ms")
CUPS_P50=$(jq '.p50_ms // null' <<<"$CUPS_STATS")
cups_bytes=$(awk '{print $2}' "$BASE/cups.ms" | sort -u | paste -sd, -)
emit "$(jq -n --argjson s "$CUPS_STATS" --argjson doc "$DOC_SIZE" --arg bytes "$cups_bytes" '$s + {name: "release_cups_local",
  value: $s.p50_ms, unit: "ms", document_bytes: $doc, bytes_at_device: $bytes,
  how: "Release-Job (lpm_cups_release_client: libcups, one connection) to the document closed at the device"}')"
emit "$(jq -n --argjson s "$(stats "$BASE/cupstool.ms")" --argjson peer "$CUPS_P50" '$s + {name: "release_cups_local_ipptool",
  value: $s.p50_ms, unit: "ms", peer_value: $peer,
  how: "one ipptool process per Release-Job: what starting a program per request adds"}')"
cups_down
fi

# ---- ours: the release network --------------------------------------------------------------------
say "lpm: bringing the network up ..."
# One station badging in several times a second: the directory's per-printer badge rate limit
# (5/s, burst 20, there against a badge reader gone wrong) would refuse it; lifted here.
NET_DIRECTORY_ARGS="--badge-rate 0" net_up "$BASE/net" >"$BASE/logs/net-up.log"
# start_station NAME [--no-resume]: one long-running station reading badges from a FIFO (fd 7),
# printing to the ippeveprinter.
start_station() {
  local name=$1
  shift
  mkfifo "$BASE/$name.badges"
  "$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" \
    --device "${STATION_DEVICE:-$IPPEVE_URI}" --name bench "$@" <"$BASE/$name.badges" >"$BASE/$name.out" 2>"$BASE/logs/$name.log" &
  STATION_PID=$!
  BENCH_PIDS+=("$STATION_PID")
  exec 7>"$BASE/$name.badges"
  STATION_OUT=$BASE/$name.out
}
stop_station() {
  exec 7>&-
  net_stop_pid "$STATION_PID"
}
# released_count: the station's "released" lines so far.
released_count() { grep -c '^released ' "$STATION_OUT" || true; }
# wait_released N: until the station has said "released" N times (10 s).
released_at_least() { [[ $(released_count) -ge $1 ]]; }
wait_released() { wait_for 10 released_at_least "$1"; }
# wait_registered LOG...: until each agent has told the directory about its latest job (5 s
# each; the same test as net_wait_registered, for several agents).
wait_registered() {
  local log i last
  for log in "$@"; do
    for ((i = 0; i < 100; i++)); do
      last=$(grep -E ' job [0-9a-f-]+ held for |registered held jobs' "$log" | tail -n 1)
      [[ -z $last || $last == *"registered held jobs"* ]] && break
      sleep 0.05
    done
  done
}

LPM_ERROR=
# lpm_series LABEL [--no-resume]: RELEASES (plus one warm-up) prints and badge-ins, one at a time.
lpm_series() {
  local label=$1 i
  shift
  start_station "$label" "$@"
  for ((i = 0; i <= RELEASES; i++)); do
    "$BIN/lpm" print "$DOC" --socket "$AGENT_SOCK" --title "$label-$i" >/dev/null
    wait_registered "$ROOT/logs/agent.log"
    if ((i == 0)); then mark warmup 1; else mark "$label" 1; fi
    if ! kill -0 "$STATION_PID" 2>/dev/null || ! printf '%s\n' "$BADGE" >&7 2>/dev/null; then
      LPM_ERROR="the station exited: $(tail -n 3 "$BASE/logs/$label.log" | tr '\n' ' ')"
      say "  $LPM_ERROR"
      break
    fi
    if ! wait_files 1 10 || ! wait_released $((i + 1)); then
      LPM_ERROR="release $i of $label did not complete at the device within 10 s: $(tail -n 3 "$BASE/logs/$label.log" | tr '\n' ' ')"
      say "  $LPM_ERROR"
      break
    fi
    if ((i % 50 == 0 && i > 0)); then say "  $label: $i/$RELEASES"; fi
  done
  stop_station
}

# emit_lpm NAME LABEL: the series' figures beside CUPS's.
emit_lpm() {
  local name=$1 label=$2 s full=0 resumed=0
  s=$(stats <(latencies "$label"))
  if [[ -f $BASE/$label.out ]]; then
    full=$(grep -c 'full handshake' "$BASE/$label.out" || true)
    resumed=$(grep -c 'resumed handshake' "$BASE/$label.out" || true)
  fi
  local equal
  equal=$(latencies "$label" | awk -v size="$DOC_SIZE" '$2 == size {e++} END {printf "%d", e}')
  emit "$(jq -n --argjson s "$s" --argjson peer "$CUPS_P50" --argjson full "$full" --argjson resumed "$resumed" \
    --argjson equal "$equal" --argjson doc "$DOC_SIZE" --arg error "$LPM_ERROR" '$s + {name: $ARGS.named.name,
    value: $s.p50_ms, unit: "ms", peer: "release_cups_local", peer_value: $peer,
    ratio: (if $s.n > 0 and $peer != null and $peer > 0 then ($s.p50_ms / $peer * 1000 | round / 1000) else null end),
    goal: "ratio <= 1.0", document_bytes: $doc, same_bytes_at_device: $equal,
    handshakes_full: $full, handshakes_resumed: $resumed} + (if $error != "" then {error: $error} else {} end)' \
    --arg name "$name")"
}

if want single; then
  say "lpm: $RELEASES releases, TLS sessions resumed ..."
  lpm_series lpmres
  emit_lpm release_lpm_resumed lpmres
  if [[ -z $LPM_ERROR ]]; then
    say "lpm: $RELEASES releases, cold (--no-resume) ..."
    lpm_series lpmcold --no-resume
  fi
  emit_lpm release_lpm_cold lpmcold
fi

# ---- one job on each of WORKSTATIONS workstations, one badge ------------------------------------
add_agents() { # the first agent is net_up's; adds agents 2..WORKSTATIONS bound to the same user
  local k token conf ws
  token=$("$BIN/lpm-directory" token create --data "$ROOT/directory" --kind workstation --uses $((WORKSTATIONS - 1)))
  AGENT_SOCKS=("$AGENT_SOCK")
  AGENT_LOGS=("$ROOT/logs/agent.log")
  for ((k = 2; k <= WORKSTATIONS; k++)); do
    mkdir -p "$ROOT/agent$k"
    chmod 700 "$ROOT/agent$k"
    conf=$ROOT/agent$k/configuration.xml
    sed -e "s|<DataFolder>.*</DataFolder>|<DataFolder>$ROOT/agent$k</DataFolder>|" \
      -e "s|<ControlSocket>.*</ControlSocket>|<ControlSocket>$ROOT/run/agent$k.sock</ControlSocket>|" \
      "$AGENT_CONF" >"$conf"
    "$BIN/lpm-agent" init --config "$conf" >"$ROOT/logs/agent$k-init.log" 2>&1
    ws=$("$BIN/lpm-agent" enroll --config "$conf" --token "$token" 2>>"$ROOT/logs/agent$k-init.log" |
      awk '/^workstation /{print $2; exit}')
    [[ -n $ws ]] || ippeve_die "agent $k could not enroll: $(cat "$ROOT/logs/agent$k-init.log")"
    "$BIN/lpm-directory" workstation bind --data "$ROOT/directory" --workstation "$ws" --user "$USER_ID" \
      >>"$ROOT/logs/agent$k-init.log"
    net_start "agent$k" "$ROOT/logs" "$BIN/lpm-agent" serve --config "$conf"
    AGENT_SOCKS+=("$ROOT/run/agent$k.sock")
    AGENT_LOGS+=("$ROOT/logs/agent$k.log")
  done
}

# ws_series LABEL DEVICE: WS_ROUNDS rounds (plus a warm-up) of one job on every workstation and
# one badge, through a station printing to DEVICE; sets WS_ERROR.
ws_series() {
  local label=$1 device=$2 i sock
  WS_ERROR=
  STATION_DEVICE=$device start_station "$label"
  for ((i = 0; i <= WS_ROUNDS; i++)); do
    for sock in "${AGENT_SOCKS[@]}"; do
      "$BIN/lpm" print "$DOC" --socket "$sock" --title "$label-$i" >/dev/null
    done
    wait_registered "${AGENT_LOGS[@]}"
    if ((i == 0)); then mark warmup "$WORKSTATIONS"; else mark "$label" "$WORKSTATIONS"; fi
    if ! kill -0 "$STATION_PID" 2>/dev/null || ! printf '%s\n' "$BADGE" >&7 2>/dev/null; then
      WS_ERROR="the station exited: $(tail -n 3 "$BASE/logs/$label.log" | tr '\n' ' ')"
      break
    fi
    if ! wait_files "$WORKSTATIONS" 20 || ! wait_released $((i + 1)); then
      WS_ERROR="round $i: not all $WORKSTATIONS documents were at the device within 20 s"
      local refused
      refused=$(grep -c 'server-error-busy' "$STATION_OUT" || true)
      ((refused == 0)) || WS_ERROR+=" ($refused refused by the device: server-error-busy, it takes one job at a time)"
      break
    fi
    # The warm-up may also release jobs an earlier failed series left held: count from here.
    ((i > 0)) || FILES_SEEN=$(files_closed)
  done
  [[ -z $WS_ERROR ]] || say "  $WS_ERROR"
  stop_station
  # A failed round leaves files behind that later series must not count.
  FILES_SEEN=$(files_closed)
  DEVICE_JOBS=$(ippeve_jobs_done)
}
# emit_ws NAME LABEL DEVICE-TEXT
emit_ws() {
  emit "$(jq -n --argjson s "$(stats <(latencies "$2"))" --argjson w "$WORKSTATIONS" --arg device "$3" \
    --arg error "${WS_ERROR:-$LPM_ERROR}" --arg name "$1" '$s + {name: $name, value: $s.p99_ms, unit: "ms",
    workstations: $w, device: $device,
    how: "one job on each workstation, one badge: mark to the last of the files closed at the device; sessions resumed",
    goal: "p99 <= 20 ms"} + (if $error != "" then {error: $error} else {} end)')"
}

if ! want ws; then
  :
elif [[ -z $LPM_ERROR ]]; then
  add_agents
  say "lpm: $WORKSTATIONS workstations, one job each, one badge, $WS_ROUNDS rounds, to the ippeveprinter ..."
  ws_series ws "$IPPEVE_URI"
  emit_ws release_lpm_10_workstations ws "ippeveprinter (one job at a time)"
  # The same to a device that takes jobs in parallel: the station's file:// device, in a folder
  # below the spool folder so the same probe sees it (a .part file, fsynced, renamed).
  say "lpm: the same to a file:// device ..."
  TO_IPPEVE=0
  ws_series wsfile "file://$IPPEVE_SPOOL/file-device"
  TO_IPPEVE=1
  emit_ws release_lpm_10_workstations_file wsfile "file:// (parallel, fsync per document)"
else
  emit_ws release_lpm_10_workstations ws "ippeveprinter (one job at a time)"
fi
