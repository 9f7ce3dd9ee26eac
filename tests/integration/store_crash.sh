#!/usr/bin/env bash
# Issue 3, crash test of the agent's job store at its named fault points (lpm/fault.h):
#   store.after_write   after a chunk of a spool file is written
#   store.after_fsync   after the spool file and its folder are fsynced, before the row commit
#   store.after_commit  after the row commit, before the submitter gets its answer
#   ipp.before_response after the IPP capture printer stored a job, before its IPP response
# Jobs are submitted both with `lpm print` (control socket) and as IPP Print-Job requests to the
# agent's capture printer (ipptool), and every store point is hit through both paths.
# Each round starts `lpm-agent serve` with LPM_FAULT=<point>:<n>, submits jobs until the agent
# dies at the point (exit status 86), starts it again and checks, through `lpm jobs` and the
# spool folder: every job whose submission the client saw succeed is there with its size; the
# job in flight is absent (write, fsync) or present and whole (commit: stored, answer lost);
# nothing else, and no stray file. At the end one badge-in releases every held job and each
# document at the device must be byte-identical to what was submitted.
#
# Usage: store_crash.sh BIN_DIR
# Environment:
#   STORE_CRASH_ROUNDS=N   N random rounds (point, n, document order) instead of the fixed plan
#                          (every point with n = 1, 2, 3): scripts/soak.sh runs hundreds.
#   STORE_CRASH_SEED=S     seed of the random rounds (printed, for replaying a failure).
#   STORE_CRASH_KEEP=1     keep the temp folder (logs, data) for a look afterwards.
#   STORE_CRASH_SUBMIT=lpm|ipp  random rounds only: submit with `lpm print` (default) or IPP.
set -euo pipefail
BIN=$(cd "${1:?usage: store_crash.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

ROUNDS=${STORE_CRASH_ROUNDS:-0}
SEED=${STORE_CRASH_SEED:-$$}
SUBMIT=${STORE_CRASH_SUBMIT:-lpm}
POINTS=(store.after_write store.after_fsync store.after_commit)
IPP_POINTS=("${POINTS[@]}" ipp.before_response)
# Points where the job is durable although the client saw no answer.
STORED_BEFORE_ANSWER=" store.after_commit ipp.before_response "

it_begin lpm-crash
IT_FAIL_NOTE="(seed $SEED)"
[[ -n ${STORE_CRASH_KEEP:-} ]] && IT_KEEP=1
[[ $ROUNDS -eq 0 ]] || IT_QUIET=1

net_up "$ROOT" >"$ROOT/up.log"
net_stop_pid "$AGENT_PID" # replaced by agents started with LPM_FAULT

# Documents around the 64 KiB chunk: one chunk, exactly one, just over, several.
mkdir -p "$ROOT/docs"
DOCS=()
for size in 1 1000 65536 65537 200000 300001; do
  head -c "$size" /dev/urandom >"$ROOT/docs/d$size"
  DOCS+=("$ROOT/docs/d$size")
done

declare -A WANT_SHA  # title -> sha256 of the document submitted
declare -A WANT_SIZE # title -> its size
declare -A EXPECT    # title -> "present" (the client saw it stored, or it was stored before the answer)
AGENT_N=0

start_agent() { # start_agent [LPM_FAULT value]
  AGENT_N=$((AGENT_N + 1))
  if [[ -n ${1:-} ]]; then
    net_start "agent-$AGENT_N" "$ROOT/logs" env LPM_FAULT="$1" "$BIN/lpm-agent" serve --config "$AGENT_CONF"
  else
    net_start "agent-$AGENT_N" "$ROOT/logs" "$BIN/lpm-agent" serve --config "$AGENT_CONF"
  fi
  AGENT_PID=${NET_PIDS[-1]}
  AGENT_IPP_PORT=$(awk '/^ipp /{print $2; exit}' "$ROOT/logs/agent-$AGENT_N.out")
}

# One IPP Print-Job, as the CUPS backend would send it (root names the owner).
cat >"$ROOT/print-job.test" <<'TEST'
{
  NAME "Print-Job"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name root
  ATTR name job-name $title
  ATTR mimeMediaType document-format application/octet-stream
  FILE $filename
  STATUS successful-ok
}
TEST

# The agent must die at its fault point: exit status 86, soon.
expect_fault_death() {
  local i rc=0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$AGENT_PID" 2>/dev/null && fail "the agent did not die at its fault point"
  wait "$AGENT_PID" || rc=$?
  local kept=() p
  for p in "${NET_PIDS[@]}"; do [[ $p == "$AGENT_PID" ]] || kept+=("$p"); done
  NET_PIDS=("${kept[@]}")
  check "the agent died at the fault point with status 86" test "$rc" -eq 86
}

submit() { # submit TITLE FILE: 0 when the client saw the job stored
  local title=$1 file=$2
  case $SUBMIT in
  lpm) "$BIN/lpm" print "$file" --title "$title" --socket "$AGENT_SOCK" >"$ROOT/submit.out" 2>&1 ;;
  ipp)
    ipptool -T 10 -f "$file" -d "title=$title" "ipp://127.0.0.1:$AGENT_IPP_PORT/ipp/print" \
      "$ROOT/print-job.test" >"$ROOT/submit.out" 2>&1
    ;;
  *) fail "unknown STORE_CRASH_SUBMIT=$SUBMIT" ;;
  esac
}

# What `lpm jobs` lists, as "title size" lines; JOB_ID[title] = id.
declare -A JOB_ID
# From `lpm jobs --json` (one object per line): "id title state size" per job.
listed() {
  "$BIN/lpm" jobs --json --socket "$AGENT_SOCK" | awk '
    function field(k, v) {
      if (!match($0, "\"" k "\":(\"[^\"]*\"|[0-9-]+)")) return "?"
      v = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
      gsub(/"/, "", v)
      return v
    }
    /^\{/ { print field("id"), field("title"), field("state"), field("size") }'
}

verify_listing() { # after a restart: exactly the expected jobs, whole, and no stray file
  local id title state size n=0
  declare -A seen=()
  while read -r id title state size; do
    [[ -n ${WANT_SIZE[$title]:-} ]] || fail "an unknown job is listed: $id $title"
    [[ ${EXPECT[$title]:-} == present ]] || fail "job '$title' is listed but its submission did not complete"
    [[ $size == "${WANT_SIZE[$title]}" ]] || fail "job '$title' lists $size bytes, ${WANT_SIZE[$title]} were sent"
    seen[$title]=1
    JOB_ID[$title]=$id
    n=$((n + 1))
  done < <(listed)
  for title in "${!EXPECT[@]}"; do
    [[ ${EXPECT[$title]} == present && -z ${seen[$title]:-} ]] && fail "job '$title' was stored but is gone"
  done
  local files
  files=$(find "$ROOT/agent/spool" -type f | wc -l)
  check "after the restart: the $n stored jobs, whole, and their $n spool files only" test "$files" -eq "$n"
}

# One round: the agent dies at POINT the N-th time; documents in the order given.
round() { # round ROUND POINT N DOC_INDEX...
  local r=$1 point=$2 n=$3
  shift 3
  start_agent "$point:$n"
  local k=0 died=0 i title
  for i in "$@"; do
    k=$((k + 1))
    title="r$r-$k"
    WANT_SHA[$title]=$(sha256sum "${DOCS[i]}" | cut -d' ' -f1)
    WANT_SIZE[$title]=$(stat -c %s "${DOCS[i]}")
    if submit "$title" "${DOCS[i]}"; then
      EXPECT[$title]=present
    else
      # The agent died with this job in flight.
      if [[ $STORED_BEFORE_ANSWER == *" $point "* ]]; then EXPECT[$title]=present; else EXPECT[$title]=absent; fi
      died=1
      break
    fi
  done
  [[ $died -eq 1 ]] || fail "round $r: $point:$n was never reached"
  expect_fault_death
  start_agent
  verify_listing
  net_stop_pid "$AGENT_PID"
}

t0=$(net_ms)
if [[ $ROUNDS -eq 0 ]]; then
  r=0
  for SUBMIT in lpm ipp; do
    if [[ $SUBMIT == ipp ]]; then points=("${IPP_POINTS[@]}"); else points=("${POINTS[@]}"); fi
    for point in "${points[@]}"; do
      for n in 1 2 3; do
        r=$((r + 1))
        round "$r" "$point" "$n" 1 5 0 3 2 4
      done
    done
  done
else
  echo "store_crash: $ROUNDS random rounds, seed $SEED"
  RANDOM=$SEED
  for ((r = 1; r <= ROUNDS; r++)); do
    if [[ $SUBMIT == ipp ]]; then
      point=${IPP_POINTS[RANDOM % ${#IPP_POINTS[@]}]}
    else
      point=${POINTS[RANDOM % ${#POINTS[@]}]}
    fi
    order=()
    for ((k = 0; k < 6; k++)); do order+=($((RANDOM % ${#DOCS[@]}))); done
    # A point within reach: chunks of the first documents for writes, one pass per job else.
    if [[ $point == store.after_write ]]; then n=$((RANDOM % 6 + 1)); else n=$((RANDOM % 3 + 1)); fi
    round "$r" "$point" "$n" "${order[@]}"
    ((r % 25 == 0)) && echo "  $r rounds, $(($(net_ms) - t0)) ms"
  done
fi
crash_ms=$(($(net_ms) - t0))

# Every job the agent holds goes to the device: byte-identical to what was submitted.
start_agent
verify_listing
held=${#JOB_ID[@]}
net_release "$BADGE"
check "the station releases all $held held jobs" grep -q "released $held job" <<<"$STEP_OUT"
for title in "${!JOB_ID[@]}"; do
  file=$(ls "$DEVICE_DIR/${JOB_ID[$title]}".* 2>/dev/null | head -n 1)
  [[ -n $file ]] || fail "job '$title' (${JOB_ID[$title]}) did not reach the device"
  [[ $(sha256sum "$file" | cut -d' ' -f1) == "${WANT_SHA[$title]}" ]] ||
    fail "job '$title': the bytes at the device differ from the bytes submitted"
done
check "all $held released documents are byte-identical to the submitted ones" true

echo "$IT_PASSED passed, 0 failed (crash rounds: $crash_ms ms)"
