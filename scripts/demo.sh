#!/usr/bin/env bash
# The whole network on loopback, step by step: ./bootstrap.sh demo runs this after building.
# Usage: scripts/demo.sh [BIN_DIR]   (default build/bin)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-$here/../build/bin}" && pwd)
source "$here/lib/network.sh"

ROOT=$(mktemp -d /tmp/lpm-demo.XXXXXX)
cleanup() {
  net_down
  rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat <<TXT

LPM serverless print release: the whole network on this machine (loopback only).

  lpm print  ->  lpm-agent (your computer keeps the job)
  badge in   ->  lpm-release asks lpm-directory who you are and where your jobs are,
                 gets a signed ticket, pulls the jobs straight from your computer,
                 writes them to the printer (here a folder), and the agent reports
                 each printed job to lpm-accounting.

Every arrow is mutual TLS with pinned keys. Working folder: $ROOT

TXT
demo_start=$(net_ms)
net_up "$ROOT"

echo "a user prints three documents (they stay on the workstation)"
mkdir -p "$ROOT/docs"
# A real two-page PDF (Ghostscript comes with CUPS), so the agent can count its pages.
printf '%%!PS-Adobe-3.0\n%%%%Pages: 2\n%%%%EndComments\n%%%%Page: 1 1\n/Helvetica findfont 24 scalefont setfont 72 720 moveto (Quarterly report) show showpage\n%%%%Page: 2 2\n72 720 moveto (Figures) show showpage\n%%%%EOF\n' >"$ROOT/docs/report.ps"
if ! gs -q -dBATCH -dNOPAUSE -dSAFER -sDEVICE=pdfwrite -sOutputFile="$ROOT/docs/quarterly-report.pdf" "$ROOT/docs/report.ps" 2>/dev/null; then
  printf '%%PDF-1.4\n%% quarterly report\n%s\n%%%%EOF\n' "$(head -c 3000 /dev/urandom | base64 -w 76)" >"$ROOT/docs/quarterly-report.pdf"
fi
printf 'Meeting notes\n=============\n- badge in at any printer\n- jobs come straight from your PC\n' >"$ROOT/docs/meeting-notes.txt"
head -c 2000000 /dev/urandom >"$ROOT/docs/scan-archive.bin"
for f in quarterly-report.pdf meeting-notes.txt scan-archive.bin; do
  step "lpm print $f ($(stat -c %s "$ROOT/docs/$f") bytes)" "$BIN/lpm" print "$ROOT/docs/$f" --socket "$AGENT_SOCK"
done
step "lpm jobs (what the agent holds)" "$BIN/lpm" jobs --socket "$AGENT_SOCK"
printf '%s\n' "$STEP_OUT" | sed 's/^/      /'

echo "the user badges in at the printer ($BADGE)"
net_release "$BADGE"
printf '  %-62s %5d ms\n' "lpm-release: badge-in, pull from the workstation, print" "$RELEASE_MS"
printf '%s\n' "$STEP_OUT" | sed 's/^/      /'

echo "what reached the printer"
for f in "$DEVICE_DIR"/*; do
  printf '      %-44s %9d bytes  sha256 %s\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)…"
done

echo "accounting"
step "enroll an admin console (lpm) with the directory" "$BIN/lpm" console enroll --data "$ROOT/console" \
  --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --token "$TOKEN_CONSOLE"
# The agent posts each printed record at once; wait until all three are counted.
for ((i = 0; i < 100; i++)); do
  out=$("$BIN/lpm" report --data "$ROOT/console" --accounting "127.0.0.1:$ACCT_PORT" \
    --accounting-fingerprint "$ACCT_FP" 2>/dev/null || true)
  [[ $(awk -v u="$USER_ID" '$1 == u {print $2}' <<<"$out") == 3 ]] && break
  sleep 0.1
done
step "lpm report (printed jobs per user, from lpm-accounting)" "$BIN/lpm" report --data "$ROOT/console" \
  --accounting "127.0.0.1:$ACCT_PORT" --accounting-fingerprint "$ACCT_FP"
printf '%s\n' "$STEP_OUT" | sed 's/^/      /'

echo "stopping every process this demo started"
net_down
printf '\ndemo finished in %d ms; nothing is left running.\n' $(($(net_ms) - demo_start))
