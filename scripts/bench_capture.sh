#!/usr/bin/env bash
# Capture benchmarks of issue 3 (figures, never pass/fail), run by scripts/bench.sh. Appends one
# JSON object per line to BUILD/bench/results.jsonl and prints it:
#   ipp_accept_rate[_4conn]   Print-Jobs of a small PDF stored durably per second by the agent's
#                             IPP printer (the configuration the crash test passes: net_up's),
#                             beside a private cupsd holding jobs with SyncOnClose Yes (the
#                             issue's peer; ratio = agent / it) and with SyncOnClose Yes plus
#                             DirtyCleanInterval 0 (ratio_dirty0), with fsyncs per job of each
#   cupsd_accept_rate_{sync,sync_dirty0,default}[_4conn]   each cupsd setting on its own
#   ipp_accept_rate_unpaged   the agent with documents it does not count pages of (diagnostic)
#   agent_rss_anon_{idle,held}  the agent's anonymous RSS 1 s after start, empty and holding
#                             HELD_JOBS jobs (Pss, Pss_Anon and what holds the memory beside)
#   agent_startup_{empty,held}  exec of `lpm-agent serve` to the capture listener accepting a
#                             TCP connection (and to "ready")
# The machine is shared and its disk's fsync latency varies: the servers run in interleaved
# rounds (agent, each cupsd, agent, ...) and each figure is the median over the rounds.
# Usage: scripts/bench_capture.sh [BUILD_DIR]
# Environment: ROUNDS (3); ACCEPT_JOBS (300) and ACCEPT_SECONDS (2) bound each timed run;
# COUNT_JOBS (100) jobs in each fsync-counting run (strace); HELD_JOBS (10000); DOC_BYTES (2048).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
ROUNDS=${ROUNDS:-3}
ACCEPT_JOBS=${ACCEPT_JOBS:-300}
ACCEPT_SECONDS=${ACCEPT_SECONDS:-2}
COUNT_JOBS=${COUNT_JOBS:-100}
HELD_JOBS=${HELD_JOBS:-10000}
DOC_BYTES=${DOC_BYTES:-2048}
source "$here/lib/network.sh"
source "$here/lib/cups.sh"
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/results.jsonl

for tool in lpm_ipp_accept_bench lpm_store_fill lpm_agent_probe lpm-agent; do
  [[ -x $BIN/$tool ]] || net_die "$BIN/$tool is missing: build it first (cmake --build $BUILD)"
done
command -v jq >/dev/null || net_die "jq is needed (Debian package jq)"
HAVE_STRACE=0
command -v strace >/dev/null && HAVE_STRACE=1

ROOT=$(mktemp -d /tmp/lpm-bench-capture.XXXXXX)
STRACE_PID=
declare -A CUPSD_PID CUPSD_URI
cleanup() {
  if [[ -n $STRACE_PID ]]; then
    kill -INT "$STRACE_PID" 2>/dev/null || true
    wait "$STRACE_PID" 2>/dev/null || true
  fi
  local name
  for name in "${!CUPSD_PID[@]}"; do
    CUPS_PID=${CUPSD_PID[$name]} cups_down
  done
  net_down
  rm -rf "$ROOT"
}
trap cleanup EXIT

say() { printf '[%3d s] %s\n' "$SECONDS" "$*" >&2; }
emit() { # emit JSON: one compact line to stdout and the results file
  jq -c . <<<"$1" | tee -a "$OUT"
}

# fsync_count PID COMMAND...: runs COMMAND while strace counts PID's fsync-family calls (all its
# threads and children); sets FSYNC_CALLS. Without strace: FSYNC_CALLS=null, COMMAND still runs.
fsync_count() {
  local pid=$1 trace=$ROOT/strace.$1
  shift
  if [[ $HAVE_STRACE -eq 0 ]]; then
    FSYNC_CALLS=null
    "$@"
    return
  fi
  strace -f -qq -c -e trace=fsync,fdatasync,sync_file_range,syncfs,sync,msync -o "$trace" -p "$pid" &
  STRACE_PID=$!
  local n
  for ((n = 0; n < 200; n++)); do
    [[ $(awk '/^TracerPid:/{print $2}' "/proc/$pid/status") != 0 ]] && break
    sleep 0.01
  done
  sleep 0.2 # strace attaches to the other threads after the first
  "$@"
  kill -INT "$STRACE_PID"
  wait "$STRACE_PID" || true
  STRACE_PID=
  FSYNC_CALLS=$(awk '$NF ~ /^(fsync|fdatasync|sync_file_range|syncfs|sync|msync)$/ {n += $4} END {print n + 0}' "$trace")
  say "    fsync-family calls: $(awk '$NF ~ /sync/ {printf "%s %s  ", $NF, $4}' "$trace")"
}

client() { # client URI LABEL JOBS SECONDS CONNECTIONS [flags...]: one run, its JSON line
  local uri=$1 label=$2 jobs=$3 seconds=$4 conns=$5
  shift 5
  "$BIN/lpm_ipp_accept_bench" --uri "$uri" --jobs "$jobs" --seconds "$seconds" --connections "$conns" \
    --user "$(id -un)" --doc-bytes "$DOC_BYTES" --label "$label" "$@"
}

# fsyncs_per_job PID URI [client flags...]: a separate, slower run of COUNT_JOBS jobs under strace.
fsyncs_per_job() {
  local pid=$1 uri=$2
  shift 2
  fsync_count "$pid" client "$uri" count "$COUNT_JOBS" 30 1 "$@" >"$ROOT/count.json"
  if [[ $FSYNC_CALLS == null ]]; then
    echo null
    return
  fi
  jq -r --argjson calls "$FSYNC_CALLS" 'if .jobs > 0 then ($calls / .jobs * 100 | round / 100) else null end' \
    "$ROOT/count.json"
}

# median FILE: the rounds of one server and connection count (JSON lines) summed up: the median
# round's rate and p50, the worst p99, every round's rate.
median() {
  jq -s 'sort_by(.jobs_per_s) as $r | $r[($r | length) / 2 | floor] as $m | {label: $m.label,
    jobs_per_s: $m.jobs_per_s, rounds: map(.jobs_per_s), jobs: (map(.jobs) | add),
    refused: (map(.refused) | add), connections: $m.connections, document_bytes: $m.document_bytes,
    request_p50_ms: $m.request_p50_ms, request_p99_ms: (map(.request_p99_ms) | max)}' "$1"
}

# --- the agent, configured as in the crash test (scripts/lib/network.sh) -----------------------
say "capture benchmarks in $ROOT"
SECONDS=0
NET_IPP_PORT=$(free_port)
net_up "$ROOT" >"$ROOT/up.log"
AGENT_URI=ipp://127.0.0.1:$AGENT_IPP_PORT/ipp/print
probe() { # probe LABEL: starts the agent, measures start-up and memory, stops it
  "$BIN/lpm_agent_probe" --port "$AGENT_IPP_PORT" --settle-ms 1000 --label "$1" \
    --log "$ROOT/logs/probe-$1.log" -- "$BIN/lpm-agent" serve --config "$AGENT_CONF"
}
# Start-up and memory of the empty agent: stop the one net_up started, probe a fresh one.
net_stop_pid "$AGENT_PID"
say "agent start-up and memory, empty store ..."
EMPTY=$(probe empty)
net_start agent "$ROOT/logs" "$BIN/lpm-agent" serve --config "$AGENT_CONF"
AGENT_PID=${NET_PIDS[-1]}

# --- private cupsds holding every job (job-hold-until=indefinite on a raw queue) ---------------
# sync: SyncOnClose Yes (the issue's "durable" cupsd). sync-dirty0: SyncOnClose Yes and
# DirtyCleanInterval 0: cupsd then writes and fsyncs the job's control file (and its job cache)
# before the IPP answer, the closest to durable it gets (it never fsyncs the document or the
# spool folder). default: SyncOnClose No. With the default DirtyCleanInterval (30 s) cupsd
# writes a held job's control file up to 30 s after answering.
cupsd_start() { # cupsd_start NAME SYNC DIRTY_CLEAN_INTERVAL
  CUPS_SYNC_ON_CLOSE=$2 CUPS_DIRTY_CLEAN_INTERVAL=$3 cups_up "$ROOT/cups-$1"
  CUPSD_PID[$1]=$CUPS_PID
  CUPS_PID=
  # A raw queue (no PPD: nothing is filtered); held jobs never reach its device.
  lpadmin -p bench -E -v "ipp://127.0.0.1:9/ipp/print" 2>/dev/null
  CUPSD_URI[$1]=ipp://127.0.0.1:$CUPS_PORT/printers/bench
}
cupsd_start sync Yes 30
cupsd_start sync-dirty0 Yes 0
cupsd_start default No 30

SERVERS=(agent cupsd-sync cupsd-sync-dirty0 cupsd-default)
uri_of() { if [[ $1 == agent ]]; then echo "$AGENT_URI"; else echo "${CUPSD_URI[${1#cupsd-}]}"; fi; }
flags_of() { if [[ $1 == agent ]]; then :; else echo --hold; fi; }
pid_of() { if [[ $1 == agent ]]; then echo "$AGENT_PID"; else echo "${CUPSD_PID[${1#cupsd-}]}"; fi; }
# CPU time of a server and its waited-for children (the agent's forked page counters), in ticks.
# CPU ticks of a server and of its live children (the agent's long-lived PDF page counter is
# not reaped, so the parent's cutime/cstime would not include it).
cpu_ticks() {
  local t c
  t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat")
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
HZ=$(getconf CLK_TCK)
declare -A TICKS JOBS
say "accept rate: $ROUNDS rounds of up to $ACCEPT_JOBS Print-Jobs (${ACCEPT_SECONDS} s) of a" \
  "$DOC_BYTES-byte PDF per server, 1 and 4 connections ..."
for ((round = 1; round <= ROUNDS; round++)); do
  for server in "${SERVERS[@]}"; do
    for conns in 1 4; do
      pid=$(pid_of "$server")
      t0=$(cpu_ticks "$pid")
      # shellcheck disable=SC2046 # flags_of prints zero or one word
      client "$(uri_of "$server")" "$server" "$ACCEPT_JOBS" "$ACCEPT_SECONDS" "$conns" $(flags_of "$server") \
        >>"$ROOT/$server.$conns.jsonl"
      TICKS[$server]=$((${TICKS[$server]:-0} + $(cpu_ticks "$pid") - t0))
      JOBS[$server]=$((${JOBS[$server]:-0} + $(tail -n 1 "$ROOT/$server.$conns.jsonl" | jq .jobs)))
    done
  done
  client "$AGENT_URI" agent-unpaged "$ACCEPT_JOBS" "$ACCEPT_SECONDS" 1 --octet-stream >>"$ROOT/agent-unpaged.1.jsonl"
  say "  round $round: agent $(jq -r .jobs_per_s "$ROOT/agent.1.jsonl" | tail -n 1) jobs/s," \
    "cupsd sync $(jq -r .jobs_per_s "$ROOT/cupsd-sync.1.jsonl" | tail -n 1) jobs/s"
done
declare -A FSYNCS
for server in "${SERVERS[@]}"; do
  say "  counting $server's fsyncs over $COUNT_JOBS jobs (strace) ..."
  # shellcheck disable=SC2046
  FSYNCS[$server]=$(fsyncs_per_job "$(pid_of "$server")" "$(uri_of "$server")" $(flags_of "$server"))
done
declare -A CPU_MS # CPU ms per job over the timed runs (1 and 4 connections)
for server in "${SERVERS[@]}"; do
  CPU_MS[$server]=$(awk -v t="${TICKS[$server]}" -v j="${JOBS[$server]}" -v hz="$HZ" \
    'BEGIN {if (j > 0) printf "%.2f", t * 1000 / hz / j; else print "null"}')
done
A_RSS_AFTER=$(awk '/^RssAnon:/{print $2}' "/proc/$AGENT_PID/status")
for name in "${!CUPSD_PID[@]}"; do
  say "  cupsd $name holds $(CUPS_SERVER=$ROOT/cups-$name/cups.sock lpstat -o bench 2>/dev/null | wc -l) jobs"
  CUPS_PID=${CUPSD_PID[$name]} cups_down
  unset "CUPSD_PID[$name]"
done

ratio() { jq -n --argjson a "$1" --argjson b "$2" 'if $b.jobs_per_s > 0 then ($a.jobs_per_s / $b.jobs_per_s * 100 | round / 100) else null end'; }
for conns in 1 4; do
  suffix=
  [[ $conns == 4 ]] && suffix=_4conn
  a=$(median "$ROOT/agent.$conns.jsonl")
  s=$(median "$ROOT/cupsd-sync.$conns.jsonl")
  z=$(median "$ROOT/cupsd-sync-dirty0.$conns.jsonl")
  emit "$(jq -n --argjson a "$a" --argjson s "$s" --argjson z "$z" --argjson af "${FSYNCS[agent]}" \
    --argjson ac "${CPU_MS[agent]}" --argjson sc "${CPU_MS[cupsd-sync]}" --argjson zc "${CPU_MS[cupsd-sync-dirty0]}" \
    --argjson sf "${FSYNCS[cupsd-sync]}" --argjson zf "${FSYNCS[cupsd-sync-dirty0]}" \
    --argjson r "$(ratio "$a" "$s")" --argjson rz "$(ratio "$a" "$z")" --arg name "ipp_accept_rate$suffix" '{
      name: $name, value: $a.jobs_per_s, unit: "jobs/s", connections: $a.connections, rounds: $a.rounds,
      jobs: $a.jobs, refused: $a.refused, document_bytes: $a.document_bytes, request_p50_ms: $a.request_p50_ms,
      request_p99_ms: $a.request_p99_ms, fsyncs_per_job: $af, cpu_ms_per_job: $ac,
      peer: "cupsd, SyncOnClose Yes, held jobs", peer_value: $s.jobs_per_s, peer_fsyncs_per_job: $sf,
      peer_cpu_ms_per_job: $sc, ratio: $r, goal: "ratio >= 2", peer_dirty0_value: $z.jobs_per_s,
      peer_dirty0_fsyncs_per_job: $zf, peer_dirty0_cpu_ms_per_job: $zc, ratio_dirty0: $rz}')"
  for which in sync sync-dirty0 default; do
    case $which in
      sync) setting=Yes interval=30 ;;
      sync-dirty0) setting=Yes interval=0 ;;
      default) setting=No interval=30 ;;
    esac
    c=$(median "$ROOT/cupsd-$which.$conns.jsonl")
    emit "$(jq -n --argjson c "$c" --argjson f "${FSYNCS[cupsd-$which]}" --argjson cpu "${CPU_MS[cupsd-$which]}" \
      --arg name "cupsd_accept_rate_${which//-/_}$suffix" \
      --arg setting "$setting" --argjson interval "$interval" '{name: $name, value: $c.jobs_per_s,
        unit: "jobs/s", sync_on_close: $setting, dirty_clean_interval_s: $interval, connections: $c.connections,
        rounds: $c.rounds, jobs: $c.jobs, refused: $c.refused, request_p50_ms: $c.request_p50_ms,
        request_p99_ms: $c.request_p99_ms, fsyncs_per_job: $f, cpu_ms_per_job: $cpu}')"
  done
done
u=$(median "$ROOT/agent-unpaged.1.jsonl")
a=$(median "$ROOT/agent.1.jsonl")
emit "$(jq -n --argjson u "$u" --argjson a "$a" --argjson r "$(ratio "$u" "$a")" '{name: "ipp_accept_rate_unpaged",
  value: $u.jobs_per_s, unit: "jobs/s", connections: 1, rounds: $u.rounds, jobs: $u.jobs,
  note: "application/octet-stream: stored without a page count (no forked PDF counter)",
  peer: "the same agent with the PDF", peer_value: $a.jobs_per_s, ratio: $r}')"

# --- the agent holding HELD_JOBS jobs ---------------------------------------------------------
net_stop_pid "$AGENT_PID"
say "filling the agent's store to $HELD_JOBS held jobs ..."
FILL=$("$BIN/lpm_store_fill" --config "$AGENT_CONF" --user "$USER_ID" --held "$HELD_JOBS" --account "$(id -un)" \
  --doc-bytes "$DOC_BYTES")
say "  $FILL"
say "agent start-up and memory, $HELD_JOBS held jobs ..."
HELD=$(probe held)

for state in empty held; do
  if [[ $state == empty ]]; then
    p=$EMPTY jobs=0 goal="<= 4" name=agent_rss_anon_idle
  else
    p=$HELD jobs=$HELD_JOBS goal="<= 12" name=agent_rss_anon_held
  fi
  emit "$(jq -n --argjson p "$p" --arg name "$name" --argjson jobs "$jobs" --arg goal "$goal" '{name: $name,
    value: ($p.rss_anon_kb / 1024 * 100 | round / 100), unit: "MiB", held_jobs: $jobs, goal: $goal,
    pss_mib: ($p.pss_kb / 1024 * 100 | round / 100), pss_anon_mib: ($p.pss_anon_kb / 1024 * 100 | round / 100),
    vm_rss_mib: ($p.vm_rss_kb / 1024 * 100 | round / 100), threads: $p.threads,
    anon_kib_by_mapping: $p.anon_kb_by_mapping}')"
  emit "$(jq -n --argjson p "$p" --arg name "agent_startup_$state" --argjson jobs "$jobs" '{name: $name,
    value: $p.accept_ms, unit: "ms", held_jobs: $jobs, ready_ms: $p.ready_ms,
    what: "exec of lpm-agent serve to the capture listener accepting a TCP connection", goal: "<= 100"}')"
done
emit "$(jq -n --argjson kb "$A_RSS_AFTER" '{name: "agent_rss_anon_after_accept",
  value: ($kb / 1024 * 100 | round / 100), unit: "MiB",
  note: "the long-running agent after the accept runs (no goal; for comparison)"}')"
