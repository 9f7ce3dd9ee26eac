#!/usr/bin/env bash
# Install benchmark of issue 7 (figures, never pass/fail), run by scripts/bench.sh. From the
# start of `install.sh --root` (a client package made by `lpm package create`), through the
# agent and a private cupsd both started from the installed files (the queue the install
# defined), to the first job `lp` submits held by the agent. The seed's client shows its queue
# about 30 s after install; the goal here is 10 s. RUNS rounds (default 10), each into a fresh
# root, p50 and p99 of the total and of each phase. Appends JSON lines to
# BUILD/bench/results.jsonl:
#   install_to_first_job   total ms (p50, p99), peer_value 30000 (the seed's figure, not
#                          measured here), ratio p50 / peer
#   install_phases         p50 ms of: install.sh (unpack, configuration, enrollment with the
#                          directory, queue), agent ready, cupsd ready, lp to held
# Usage: scripts/bench_install.sh [BUILD_DIR]   (root: cupsd runs its backends as lp)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
RUNS=${RUNS:-10}
source "$here/lib/network.sh"
source "$here/lib/cups.sh"
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/results.jsonl
[[ $(id -u) -eq 0 ]] || net_die "run it as root (cupsd runs its backends as lp)"

ROOT=$(mktemp -d /tmp/lpm-bench-install.XXXXXX)
chmod 711 "$ROOT"
cleanup() {
  cups_down
  net_down
  rm -rf "$ROOT"
}
trap cleanup EXIT

echo "bringing the network up in $ROOT ..." >&2
net_up "$ROOT" >"$ROOT/up.log"
(cd "$BUILD" && cpack -G DEB -B "$ROOT/cpack" -D CPACK_COMPONENTS_ALL=agent -D CPACK_OUTPUT_FILE_PREFIX="$ROOT/debs") \
  >"$ROOT/cpack.log" 2>&1 || net_die "cpack failed (see $ROOT/cpack.log)"
capture_port=$(free_port)
raw_port=$(free_port)
release_port=$(free_port)
token=$("$BIN/lpm-directory" token create --data "$ROOT/directory" --kind workstation --uses "$RUNS")
(cd "$ROOT" && "$BIN/lpm" package create --agent-deb "$(ls "$ROOT"/debs/lpm-agent_*.deb)" \
  --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --accounting "127.0.0.1:$ACCT_PORT" \
  --accounting-fingerprint "$ACCT_FP" --token "$token" --bind "$(id -un)=$USER_ID" --site bench \
  --capture-port "$capture_port" --raw-port "$raw_port" --release-port "$release_port" --lan-discovery false \
  --output "$ROOT/client.tar.gz" >/dev/null)
printf '%%!PS\n/Helvetica findfont 20 scalefont setfont 72 700 moveto (bench) show showpage\n' >"$ROOT/doc.ps"

ms() { date +%s%3N; }
totals=() installs=() agents=() cupses=() helds=()
for ((i = 1; i <= RUNS; i++)); do
  run=$ROOT/run$i
  mkdir -p "$run/target" "$run/logs"
  tar -xzf "$ROOT/client.tar.gz" -C "$run"
  t0=$(ms)
  "$run/lpm-client/install.sh" --root "$run/target" >"$run/logs/install.log" 2>&1 ||
    net_die "install.sh failed: $(tail -n 3 "$run/logs/install.log")"
  t1=$(ms)
  net_start agent "$run/logs" "$run/target/usr/bin/lpm-agent" serve --config "$run/target/etc/lpm/configuration.xml" \
    --data-dir "$run/target/var/lib/lpm-agent" --control-socket "$run/agent.sock"
  agent_pid=${NET_PIDS[-1]}
  t2=$(ms)
  CUPS_PRINTERS_CONF=$run/target/etc/cups/printers.conf cups_up "$run/cups" >/dev/null
  t3=$(ms)
  lp -d LPMServerless "$ROOT/doc.ps" >/dev/null
  for ((n = 0; n < 2000; n++)); do
    grep -q "held for $USER_ID" "$run/logs/agent.log" && break
    sleep 0.01
  done
  grep -q "held for $USER_ID" "$run/logs/agent.log" || net_die "round $i: no job held within 20 s"
  t4=$(ms)
  totals+=($((t4 - t0)))
  installs+=($((t1 - t0)))
  agents+=($((t2 - t1)))
  cupses+=($((t3 - t2)))
  helds+=($((t4 - t3)))
  echo "round $i: total $((t4 - t0)) ms (install $((t1 - t0)), agent $((t2 - t1)), cupsd $((t3 - t2)), lp to held $((t4 - t3)))" >&2
  cups_down
  net_stop_pid "$agent_pid"
  "$run/lpm-client/install.sh" --uninstall --root "$run/target" >/dev/null 2>&1 || true
  rm -rf "$run"
done

pct() { # pct P values...: the P-th percentile (nearest rank)
  local p=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{v[NR]=$1} END {r=int((p*NR+99)/100); if (r<1) r=1; print v[r]}'
}
p50=$(pct 50 "${totals[@]}")
p99=$(pct 99 "${totals[@]}")
ratio=$(awk -v a="$p50" 'BEGIN {printf "%.3f", a / 30000}')
line="{\"bench\":\"install_to_first_job\",\"runs\":$RUNS,\"p50_ms\":$p50,\"p99_ms\":$p99,\"goal_ms\":10000,\"peer\":\"the seed's client: queue about 30 s after install (its figure, not measured here)\",\"peer_value\":30000,\"ratio\":$ratio}"
printf '%s\n' "$line" | tee -a "$OUT"
line="{\"bench\":\"install_phases\",\"runs\":$RUNS,\"install_sh_p50_ms\":$(pct 50 "${installs[@]}"),\"agent_ready_p50_ms\":$(pct 50 "${agents[@]}"),\"cupsd_ready_p50_ms\":$(pct 50 "${cupses[@]}"),\"lp_to_held_p50_ms\":$(pct 50 "${helds[@]}")}"
printf '%s\n' "$line" | tee -a "$OUT"
