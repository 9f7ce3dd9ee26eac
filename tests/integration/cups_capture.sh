#!/usr/bin/env bash
# Issue 3, capture from the real spooler: a private cupsd with the queue
#   lpadmin -p LPMServerless -E -v ipp://localhost:PORT/ipp/print -m everywhere
# pointing at the agent's IPP printer. `lp` jobs in every advertised format, submitted as two
# OS accounts (root and nobody), arrive held with the right owner, title, copies, sides and page
# count; released with lpm-release to a file device, each arrives byte-identical to the
# document the agent stored (its SHA-256). The agent runs as an unprivileged service account.
set -euo pipefail
BIN=$(cd "${1:?usage: cups_capture.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/cups.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin
it_at_exit cups_down
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (cupsd, a second OS account)"; exit 0; }
chmod 711 "$ROOT"

net_hook_before_agent() {
  BOB_ID=$("$BIN/lpm-directory" user add --data "$ROOT/directory" --email bob@example.com --name Bob)
  NET_EXTRA_BINDS="<Bind account=\"nobody\" user=\"$BOB_ID\"/>"
}
# The agent runs as an unprivileged service account of its own, as installed (here: daemon).
NET_AGENT_USER=daemon
net_up "$ROOT" >"$ROOT/up.log"
check "the agent runs as the unprivileged account daemon" test "$(stat -c %U "/proc/$AGENT_PID")" = daemon
check "its data folder is the service account's alone (0700)" test "$(stat -c '%U %a' "$ROOT/agent")" = "daemon 700"
cups_up "$ROOT/cups"
check "lpadmin builds the queue from the agent's IPP attributes (-m everywhere)" \
  lpadmin -p LPMServerless -E -v "ipp://localhost:$AGENT_IPP_PORT/ipp/print?waitjob=false" -m everywhere
# cupsd builds the PPD from the printer's attributes after lpadmin returns.
for _ in $(seq 1 100); do
  [[ -s $ROOT/cups/etc/ppd/LPMServerless.ppd ]] && break
  sleep 0.05
done
check "cupsd built the queue's PPD" test -s "$ROOT/cups/etc/ppd/LPMServerless.ppd"

# Documents made here: a 3-page A4 PDF, a 2-page Letter PostScript, a 2-page PWG raster and a
# 1-page URF (Ghostscript renders the rasters from the PostScript).
docs=$ROOT/docs
mkdir -p "$docs"
chmod 755 "$docs"
ps_pages() { # ps_pages N WIDTH HEIGHT
  local n=$1 w=$2 h=$3 i
  printf '%%!PS-Adobe-3.0\n%%%%Pages: %d\n%%%%BoundingBox: 0 0 %d %d\n%%%%EndComments\n' "$n" "$w" "$h"
  for ((i = 1; i <= n; i++)); do
    printf '%%%%Page: %d %d\n<< /PageSize [%d %d] >> setpagedevice\n' "$i" "$i" "$w" "$h"
    printf '/Helvetica findfont 24 scalefont setfont 72 700 moveto (LPM page %d) show showpage\n' "$i"
  done
  printf '%%%%EOF\n'
}
ps_pages 3 595 842 >"$docs/three.ps"
gs -q -dBATCH -dNOPAUSE -dSAFER -sDEVICE=pdfwrite -sOutputFile="$docs/a4-3pages.pdf" "$docs/three.ps"
ps_pages 2 612 792 >"$docs/letter-2pages.ps"
gs -q -dBATCH -dNOPAUSE -dSAFER -sDEVICE=pwgraster -r72 -sOutputFile="$docs/two.pwg" "$docs/letter-2pages.ps"
ps_pages 1 612 792 >"$docs/one.ps"
gs -q -dBATCH -dNOPAUSE -dSAFER -sDEVICE=urf -r72 -sOutputFile="$docs/one.urf" "$docs/one.ps" 2>/dev/null ||
  true
chmod 644 "$docs"/*

declare -A pages=([a4-3pages.pdf]=3 [letter-2pages.ps]=2 [two.pwg]=2 [one.urf]=1)
submit() { # submit ACCOUNT FILE COPIES SIDES
  local account=$1 file=$2 copies=$3 sides=$4
  local title="$account $file"
  if [[ $account == root ]]; then
    lp -d LPMServerless -n "$copies" -o "sides=$sides" -t "$title" "$docs/$file" >/dev/null
  else
    runuser -u "$account" -- env CUPS_SERVER="$CUPS_SERVER" lp -d LPMServerless -n "$copies" -o "sides=$sides" \
      -t "$title" "$docs/$file" >/dev/null
  fi
}
expected=0
for f in "${!pages[@]}"; do
  [[ -s $docs/$f ]] || continue
  submit root "$f" 2 two-sided-long-edge
  submit nobody "$f" 1 one-sided
  # The queue filters everything to PDF (its PPD prefers PDF); a raw job keeps its own format,
  # so the agent also receives PostScript, PWG raster and URF through CUPS, as
  # application/octet-stream, and must sniff the format and count the pages itself.
  lp -d LPMServerless -o raw -t "raw $f" "$docs/$f" >/dev/null
  expected=$((expected + 3))
done
declare -A raw_format=([a4-3pages.pdf]=application/pdf [letter-2pages.ps]=application/postscript
  [two.pwg]=image/pwg-raster [one.urf]=image/urf)

list() { # list ACCOUNT: the account's jobs as JSON lines
  if [[ $1 == root ]]; then "$BIN/lpm" jobs --json --socket "$AGENT_SOCK"; else
    runuser -u "$1" -- "$BIN/lpm" jobs --json --socket "$AGENT_SOCK"; fi
}
for _ in $(seq 1 300); do
  n=$(( $(list root | wc -l) + $(list nobody | wc -l) ))
  [[ $n -ge $expected ]] && break
  sleep 0.1
done
check "all $expected jobs arrived held at the agent" test "$n" -eq "$expected"

for account in root nobody; do
  list "$account" >"$ROOT/$account.jobs"
  while IFS= read -r line; do
    title=$(jq -r .title <<<"$line")
    if [[ $title == "raw "* ]]; then
      file=${title#raw }
      check "raw: '$title' kept its format (${raw_format[$file]})" test "$(jq -r .format <<<"$line")" = "${raw_format[$file]}"
      check "raw: '$title' counts ${pages[$file]} page(s)" test "$(jq -r .pages <<<"$line")" = "${pages[$file]}"
      continue
    fi
    file=${title#"$account "}
    check "$account: '$title' is held" test "$(jq -r .state <<<"$line")" = held
    if [[ $account == root ]]; then
      check "$account: '$title' has 2 copies" test "$(jq -r .copies <<<"$line")" = 2
      check "$account: '$title' is two-sided-long-edge" test "$(jq -r .sides <<<"$line")" = two-sided-long-edge
      check "$account: '$title' belongs to the directory user bound to root" \
        test "$(jq -r .user <<<"$line")" = "$USER_ID"
    else
      check "$account: '$title' has 1 copy" test "$(jq -r .copies <<<"$line")" = 1
      check "$account: '$title' is one-sided" test "$(jq -r .sides <<<"$line")" = one-sided
      check "$account: '$title' belongs to the directory user bound to nobody" \
        test "$(jq -r .user <<<"$line")" = "$BOB_ID"
    fi
    check "$account: '$title' counts ${pages[$file]} page(s) ($(jq -r .format <<<"$line"))" \
      test "$(jq -r .pages <<<"$line")" = "${pages[$file]}"
  done <"$ROOT/$account.jobs"
done

# Release root's jobs (the badge belongs to the user bound to root): each file at the device is
# the document the agent stored, byte for byte.
net_release "$BADGE"
while IFS= read -r line; do
  job=$(jq -r .id <<<"$line")
  file=$(ls "$DEVICE_DIR"/"$job".* 2>/dev/null | head -n 1)
  check "job $job reached the device" test -n "$file"
  check "the device got exactly the stored document ($job)" \
    test "$(sha256sum "$file" | cut -d' ' -f1)" = "$(jq -r .sha256 <<<"$line")"
done <"$ROOT/root.jobs"
check "nobody's jobs were not released by root's badge" \
  test "$(list nobody | jq -r .state | sort -u)" = held

# `lpm doctor` (issue 7) on this workstation: all is well (the queue above feeds the agent); then
# the directory goes away and the doctor says so, with a failing exit code.
doctor_out=$("$BIN/lpm" doctor --socket "$AGENT_SOCK") || fail "lpm doctor failed on a healthy workstation: $doctor_out"
echo "$doctor_out" >"$ROOT/logs/doctor-ok.txt"
check "lpm doctor: every check passes, the queue prints to the agent" \
  test "$(grep -c '^ok ' <<<"$doctor_out")/$(grep -c '^FAIL' <<<"$doctor_out" || true)" = "7/0"
check "lpm doctor names the print queue it found" grep -q '^ok    print queue: "LPMServerless" prints to the agent' <<<"$doctor_out"
net_stop_pid "${NET_PIDS[0]}" # the directory, started first
set +e
doctor_out=$("$BIN/lpm" doctor --socket "$AGENT_SOCK")
rc=$?
set -e
echo "$doctor_out" >"$ROOT/logs/doctor-down.txt"
check "lpm doctor exits 1 once the directory is gone" test "$rc" -eq 1
check "lpm doctor says the directory is not reachable" grep -q '^FAIL  directory: not reachable' <<<"$doctor_out"
lpadmin -x LPMServerless
set +e
doctor_out=$("$BIN/lpm" doctor --socket "$AGENT_SOCK" --json)
set -e
check "lpm doctor --json: a missing queue is one failed check with the lpadmin line to make it" \
  grep -q 'lpadmin -p LPMServerless -E -v ipp://127.0.0.1:' <(jq -r 'select(.check == "print queue" and .ok == false) | .detail' <<<"$doctor_out")
