#!/usr/bin/env bash
# Benchmarks (figures, never pass/fail). Writes one JSON object per line to stdout and to
# BUILD/bench/results.jsonl.
#   release_latency_*: badge-in to the document complete at the device, through one long-running
#     release station, cold (every TLS handshake full) and resumed (sessions reused), p50/p99.
#   stream_throughput: one large job from the agent's store to the device, MiB/s, beside a floor
#     measured in the same run (cat of the same file plus sync: the disk-to-disk cost).
#   stream_<N>mb: one STREAM_MB MiB job from a real job store through the release service, TLS and
#     the station's code into a file device, against an in-memory pipeline of the same stages
#     (decrypt, TLS, write) in the same process and run, medians of STREAM_ROUNDS interleaved
#     rounds, with the peak RSS growth (lpm_stream_bench, issue 5).
#   ecdsa_verify: ECDSA P-256 verifications per second from the key's table (PublicKey::verify)
#     against mbedtls_pk_verify in the same run (lpm_verify_bench).
#   sha256_*, aes256gcm_*: MB/s of proto::Sha256 on the x86 SHA extensions and of the job store's
#     AES-256-GCM on AES-NI + PCLMULQDQ against their mbedTLS paths, same run (lpm_hash_bench,
#     lpm_aead_bench; one JSON line per figure).
#   accounting_ingest: the accounting server's ingest, signed counts checked behind it (station signatures)
#     against the same without them, records/s at INGEST_FILL stored (lpm_ingest_bench, issue 6).
#   accounting_post: the same end to end, post-records over TLS from four agent connections in a
#     second process, against the store alone (lpm_post_bench, issue 6).
#   accounting_report_fill, accounting_report: a record store of REPORT_RECORDS records filled once
#     through ingest_with with its rollups (the fill's records/s), then 30-day enterprise reports
#     on it, each in a fresh process with a random window and zone, p50 ms (lpm_report_bench, issue
#     6). The store is kept in REPORT_BENCH_DIR (default BUILD/bench/report-REPORT_RECORDS) so the
#     next run skips the fill; remove that folder to take the fill's figure again.
#   ipp_accept_rate*, cupsd_accept_rate*, agent_rss_anon_*, agent_startup_*: the capture
#     benchmarks of issue 3, from scripts/bench_capture.sh (on a network of its own).
#   release_cups_local*, release_lpm_{resumed,cold,10_workstations}: badge-in to the document
#     closed at an ippeveprinter, against CUPS's own Release-Job to it, from
#     scripts/bench_release.sh (issue 5; in a network namespace of its own, root).
#   install_to_first_job, install_phases: a client package's install.sh --root to the first job
#     `lp` submits held by the agent started from the installed files, through a cupsd started
#     from the installed queue, from scripts/bench_install.sh (issue 7).
#   discovery_agent_start_to_found: an agent started to a release station's DNS-SD table listing
#     it, beside avahi-publish to avahi-browse in the same namespaces, from
#     scripts/bench_discovery.sh (issue 8; two network namespaces of its own, root).
#   badge_in_rate, badge_in_p99: the directory benchmark of issue 4, from
#     scripts/bench_directory.sh (on a directory of its own).
#   workstation_fill, register_rate_*, register_state: registrations and heartbeats from 100,000
#     workstations, from scripts/bench_register.sh (run last, on a directory of its own).
# Usage: scripts/bench.sh [BUILD_DIR] (env: RELEASES=200 DOC_BYTES=65536 BIG_MB=256 STREAM_MB=100
#   STREAM_ROUNDS=3 INGEST_FILL=3000000 REPORT_RECORDS=10000000 REPORT_RUNS=20
#   REPORT_BENCH_DIR=BUILD/bench/report-N)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
BIN=$BUILD/bin
RELEASES=${RELEASES:-200}
DOC_BYTES=${DOC_BYTES:-65536}
BIG_MB=${BIG_MB:-256}
STREAM_MB=${STREAM_MB:-100}
STREAM_ROUNDS=${STREAM_ROUNDS:-3}
source "$here/lib/network.sh"
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/results.jsonl
: >"$OUT"

ROOT=$(mktemp -d /tmp/lpm-bench.XXXXXX)
STATION_PID=
cleanup() {
  [[ -n $STATION_PID ]] && kill "$STATION_PID" 2>/dev/null && wait "$STATION_PID" 2>/dev/null
  net_down
  rm -rf "$ROOT"
}
trap cleanup EXIT

emit() { # emit JSON-line
  printf '%s\n' "$1" | tee -a "$OUT"
}

echo "bringing the network up in $ROOT ..." >&2
net_up "$ROOT" >"$ROOT/up.log"
head -c "$DOC_BYTES" /dev/urandom >"$ROOT/doc.bin"

# One station process reads badges from a FIFO, so TLS sessions can be reused across badges.
run_series() { # run_series MODE (resumed|cold) -> prints per-release ms lines to $ROOT/MODE.ms
  local mode=$1 extra=()
  [[ $mode == cold ]] && extra=(--no-resume)
  local fifo=$ROOT/badges.$mode
  mkfifo "$fifo"
  "$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" \
    --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" --name bench "${extra[@]}" \
    <"$fifo" >"$ROOT/$mode.out" 2>"$ROOT/$mode.log" &
  STATION_PID=$!
  exec 7>"$fifo"
  local i n
  for ((i = 1; i <= RELEASES; i++)); do
    "$BIN/lpm" print "$ROOT/doc.bin" --socket "$AGENT_SOCK" >/dev/null
    printf '%s\n' "$BADGE" >&7
    for ((n = 0; n < 2000; n++)); do
      [[ $(grep -c '^released ' "$ROOT/$mode.out") -ge $i ]] && break
      sleep 0.005
    done
    ((i % 50 == 0)) && echo "  $mode: $i/$RELEASES releases" >&2
  done
  exec 7>&-
  wait "$STATION_PID" || true
  STATION_PID=
  rm -f "$fifo" "$DEVICE_DIR"/*
  awk '/^released 1 job/{for (i = 1; i <= NF; i++) if ($i == "in") print $(i + 1)}' "$ROOT/$mode.out" >"$ROOT/$mode.ms"
}

percentile() { # percentile FILE P
  sort -n "$1" | awk -v p="$2" '{v[NR] = $1} END {if (NR == 0) {print "null"; exit} i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print v[i]}'
}

for mode in cold resumed; do
  echo "release latency, $mode TLS: $RELEASES releases of a $DOC_BYTES-byte document ..." >&2
  run_series "$mode"
  count=$(wc -l <"$ROOT/$mode.ms")
  full=$(grep -c 'full handshake' "$ROOT/$mode.out" || true)
  resumed=$(grep -c 'resumed handshake' "$ROOT/$mode.out" || true)
  hit=$(awk -v r="$resumed" -v f="$full" 'BEGIN {t = r + f; if (t == 0) print 0; else printf "%.3f", r / t}')
  for p in 50 99; do
    emit "{\"name\":\"release_latency_${mode}_p$p\",\"value\":$(percentile "$ROOT/$mode.ms" $p),\"unit\":\"ms\",\"releases\":$count,\"document_bytes\":$DOC_BYTES,\"resumption_hit_rate\":$hit}"
  done
done

echo "stream throughput: one $BIG_MB MiB job ..." >&2
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$ROOT/big.bin"
"$BIN/lpm" print "$ROOT/big.bin" --socket "$AGENT_SOCK" >/dev/null
net_release "$BADGE"
ms=$(awk '/^printed /{for (i = 1; i <= NF; i++) if ($i == "bytes,") print $(i + 1)}' <<<"$STEP_OUT" | tr -d '(' | tail -n 1)
t0=$(date +%s%N)
cat "$ROOT/big.bin" >"$ROOT/big.copy"
sync "$ROOT/big.copy"
floor_ms=$(awk -v n=$(($(date +%s%N) - t0)) 'BEGIN {printf "%.3f", n / 1e6}')
mbps=$(awk -v mb="$BIG_MB" -v ms="$ms" 'BEGIN {printf "%.1f", mb / (ms / 1000)}')
floor=$(awk -v mb="$BIG_MB" -v ms="$floor_ms" 'BEGIN {printf "%.1f", mb / (ms / 1000)}')
ratio=$(awk -v a="$mbps" -v b="$floor" 'BEGIN {printf "%.3f", a / b}')
emit "{\"name\":\"stream_throughput\",\"value\":$mbps,\"unit\":\"MiB/s\",\"job_bytes\":$((BIG_MB * 1024 * 1024)),\"peer\":\"cat+fsync of the same file\",\"peer_value\":$floor,\"ratio\":$ratio}"

echo "stream: one $STREAM_MB MiB job, store -> device against an in-memory pipeline ..." >&2
if ! line=$("$BIN/lpm_stream_bench" "$STREAM_MB" --rounds "$STREAM_ROUNDS" --folder "$ROOT/stream"); then
  line="{\"name\":\"stream_${STREAM_MB}mb\",\"value\":null,\"unit\":\"MiB/s\",\"error\":\"lpm_stream_bench failed (see above)\"}"
fi
emit "$line"
rm -rf "$ROOT/stream"

echo "ecdsa: verifications per second from the key's table against mbedtls_pk_verify ..." >&2
if ! line=$("$BIN/lpm_verify_bench" 2000); then
  line='{"name":"ecdsa_verify","value":null,"unit":"verifications/s","error":"lpm_verify_bench failed (see above)"}'
fi
emit "$line"

echo "sha256 and aes-256-gcm: accelerated paths against mbedTLS ..." >&2
for tool in lpm_hash_bench lpm_aead_bench; do
  if lines=$("$BIN/$tool" 64 --rounds 5); then
    while IFS= read -r line; do emit "$line"; done <<<"$lines"
  else
    emit "{\"name\":\"$tool\",\"value\":null,\"unit\":\"MB/s\",\"error\":\"$tool failed (see above)\"}"
  fi
done

echo "accounting: ingest with signature checks against without, at ${INGEST_FILL:-3000000} stored ..." >&2
# A transaction per batch, then four (the service's group commit under load); five series of each
# mode, alternating, their medians.
for group in 1 4; do
  if ! line=$("$BIN/lpm_ingest_bench" --fill "${INGEST_FILL:-3000000}" --records 60000 --batch 500 --group $group --repeat 5); then
    line='{"name":"accounting_ingest","value":null,"unit":"records/s","error":"lpm_ingest_bench failed (see above)"}'
  fi
  emit "$line"
done

echo "accounting: ingest end to end, post-records over TLS, at ${INGEST_FILL:-3000000} stored ..." >&2
if ! line=$("$BIN/lpm_post_bench" --fill "${INGEST_FILL:-3000000}" --records 120000 --batch 500 --clients 4); then
  line='{"name":"accounting_post","value":null,"unit":"records/s","error":"lpm_post_bench failed (see above)"}'
fi
emit "$line"

REPORT_RECORDS=${REPORT_RECORDS:-10000000}
REPORT_RUNS=${REPORT_RUNS:-20}
REPORT_DIR=${REPORT_BENCH_DIR:-$BUILD/bench/report-$REPORT_RECORDS}
if [[ -f $REPORT_DIR/fill.json ]]; then
  echo "accounting: $REPORT_DIR holds a fill: reused if it has the same parameters ($REPORT_RECORDS records), refused otherwise ..." >&2
else
  echo "accounting: filling $REPORT_DIR with $REPORT_RECORDS records through ingest_with and its rollups, once" >&2
  echo "  (10 M: about 14 minutes and 12.4 GB on a 2-core VM; kept for the next run; REPORT_RECORDS, REPORT_BENCH_DIR) ..." >&2
fi
if line=$("$BIN/lpm_report_bench" fill --folder "$REPORT_DIR" --records "$REPORT_RECORDS"); then
  [[ -n $line ]] && emit "$line"
  echo "accounting: $REPORT_RUNS 30-day enterprise reports, each in a fresh process ..." >&2
  if ! line=$("$BIN/lpm_report_bench" run --folder "$REPORT_DIR" --runs "$REPORT_RUNS"); then
    line='{"name":"accounting_report","value":null,"unit":"ms","error":"lpm_report_bench run failed (see above)"}'
  fi
else
  line='{"name":"accounting_report","value":null,"unit":"ms","error":"lpm_report_bench fill failed or refused the folder (see above)"}'
fi
emit "$line"

echo "capture: durable accept rate against cupsd, agent memory and start-up ..." >&2
"$here/bench_capture.sh" "$BUILD"

echo "release: badge-in to an IPP device against CUPS's own local release ..." >&2
"$here/bench_release.sh" "$BUILD"

echo "packaging: install.sh --root to the first job held by the installed agent ..." >&2
"$here/bench_install.sh" "$BUILD"

echo "discovery: agent start to found by a station, beside avahi-publish to avahi-browse ..." >&2
"$here/bench_discovery.sh" "$BUILD"

echo "directory: badge-ins per second and latency from many printers ..." >&2
"$here/bench_directory.sh" "$BUILD"

echo "directory: registrations and heartbeats per second from many workstations ..." >&2
"$here/bench_register.sh" "$BUILD"
