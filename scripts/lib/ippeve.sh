# Shared by tests/integration/ippeve_device.sh and scripts/bench_release.sh: CUPS's
# ippeveprinter as a real IPP Everywhere device (PEERS.md, "CUPS and an IPP Everywhere printer"),
# a private cupsd with a queue to it, and the PDFs they print. Every process is stopped by PID.
#
# ippeveprinter will not start without a system D-Bus (even with DNS-SD off), so it gets a
# private one, and both run inside a network namespace the caller made: `ippeve_enter_netns`
# re-runs the calling script under `unshare --net` (root only) with only a loopback, up.
#
#   ippeve_enter_netns "$0" "$@"   first line of a script: re-exec it in a netns of its own
#   ippeve_up DIR [PORT]           start ippeveprinter with everything under DIR; sets IPPEVE_URI
#                                  (ipp://127.0.0.1:PORT/ipp/print), IPPEVE_PORT, IPPEVE_PID,
#                                  IPPEVE_SPOOL (where each received document is kept as a file)
#   ippeve_down                    stop it and its bus
#   ippeve_jobs_done               how many jobs it has finished (completed or aborted)
#   ippeve_cups_up DIR QUEUE       a private cupsd (lib/cups.sh) with queue QUEUE to that printer
#                                  (?waitjob=false, -m everywhere); cups_down stops it
#   ippeve_make_pdf FILE PAGES BYTES   a PDF of PAGES pages holding an incompressible image of
#                                  about BYTES bytes (no binary fixture in the tree)
#
# The device counts: ippeveprinter runs IPPEVE_COUNTER (written into DIR) on each document and
# takes "ATTR:" lines from its stderr. ippeveprinter itself only passes on what the script says
# (it multiplies nothing by copies, and of the job counters it takes only job-impressions and
# job-impressions-completed: no job-media-sheets-completed). The script counts like a printer:
# a PDF's pages (qpdf --show-npages) times the job's copies (IPP_COPIES), any other format one
# page per copy. These counts are a fixture, not device truth.

source "$(dirname "${BASH_SOURCE[0]}")/cups.sh"
# net_stop_pid (SIGTERM, then SIGKILL after 5 s) comes from lib/network.sh.
declare -F net_stop_pid >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/network.sh"

IPPEVE_PID=
IPPEVE_BUS_PID=
IPPEVE_FORMATS=${IPPEVE_FORMATS:-application/pdf,application/postscript,image/pwg-raster,text/plain,application/octet-stream}

ippeve_die() {
  echo "error: $*" >&2
  exit 1
}

# True only in the network namespace ippeve_enter_netns made for this test: the marker is
# written from inside that namespace by the shell unshare started there. A namespace that merely
# looks private (only a loopback: a container, say) is not one the test made, so the private
# D-Bus and ippeveprinter never start in it.
ippeve_in_own_netns() {
  local mine
  mine=$(readlink /proc/self/ns/net) || return 1
  [[ -n ${LPM_IPPEVE_NETNS:-} && ${LPM_IPPEVE_NETNS} == "$mine" ]]
}

# ippeve_enter_netns SCRIPT ARGS...: unless already inside one, re-executes SCRIPT under
# `unshare --net` (a new namespace with only a loopback: nothing reaches the real network), and
# brings its loopback up. Needs root.
ippeve_enter_netns() {
  if ! ippeve_in_own_netns; then
    [[ $(id -u) -eq 0 ]] || ippeve_die "needs root: it runs ippeveprinter in a network namespace of its own (unshare --net)"
    command -v unshare >/dev/null || ippeve_die "unshare not found (Debian package util-linux)"
    # The marker tells the re-run shell that the namespace it is in was made for it.
    exec unshare --net -- bash -c 'LPM_IPPEVE_NETNS=$(readlink /proc/self/ns/net) exec bash "$@"' bash "$@"
  fi
  command -v ip >/dev/null || ippeve_die "ip not found (Debian package iproute2)"
  ip link set lo up || ippeve_die "cannot bring the loopback of the network namespace up"
}

# Writes the counting script (see the header) to FILE.
ippeve_write_counter() {
  cat >"$1" <<'SH'
#!/bin/sh
# ippeveprinter -c: counts the document ($1) like a printer and reports it on stderr.
doc=$1
pages=1
if [ "$(head -c 5 "$doc")" = "%PDF-" ]; then
  if ! pages=$(qpdf --show-npages "$doc" 2>/dev/null); then
    echo "ERROR: qpdf cannot read the PDF document" >&2
    exit 1
  fi
fi
copies=${IPP_COPIES:-1}
impressions=$((pages * copies))
# The colour mode each job asked for, one line per job, beside this script (tests read it).
echo "${IPP_PRINT_COLOR_MODE:-unset}" >>"$(dirname "$0")/color-modes.log"
echo "ATTR: job-impressions=$impressions job-impressions-completed=$impressions" >&2
echo "INFO: $pages page(s) x $copies copies" >&2
exit 0
SH
  chmod 755 "$1"
}

# ippeve_up DIR [PORT]: see the header. Fails the caller when the printer does not answer in 10 s.
ippeve_up() {
  local dir=$1
  IPPEVE_PORT=${2:-$(free_port)}
  ippeve_in_own_netns || ippeve_die "ippeve_up runs only in a network namespace of its own (ippeve_enter_netns)"
  local tool
  for tool in ippeveprinter:cups-ipp-utils ipptool:cups-ipp-utils dbus-daemon:dbus-daemon qpdf:qpdf; do
    command -v "${tool%%:*}" >/dev/null || ippeve_die "${tool%%:*} not found (Debian package ${tool##*:})"
  done
  mkdir -p "$dir/spool" "$dir/bus"
  IPPEVE_SPOOL=$dir/spool
  IPPEVE_COUNTER=$dir/count-pages.sh
  ippeve_write_counter "$IPPEVE_COUNTER"

  # The private system bus: a socket in DIR, any local client allowed (it is only ours).
  cat >"$dir/bus/system.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/bus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
XML
  dbus-daemon --config-file="$dir/bus/system.conf" --nopidfile --fork --print-pid=3 3>"$dir/bus/pid" \
    2>"$dir/bus/log" ||
    ippeve_die "cannot start the private system bus"
  IPPEVE_BUS_PID=$(head -n 1 "$dir/bus/pid")
  export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus/system_bus_socket

  # -k keeps each document in the spool folder; -D file:///dev/null sends the counter's output
  # nowhere (without it each job also leaves an empty .prn file there); -r off: no DNS-SD.
  ippeveprinter -p "$IPPEVE_PORT" -n localhost -k -d "$IPPEVE_SPOOL" -r off -D file:///dev/null \
    -f "$IPPEVE_FORMATS" -c "$IPPEVE_COUNTER" ${IPPEVE_VERBOSE:+-v} "${IPPEVE_NAME:-lpm-test-device}" \
    >"$dir/ippeveprinter.log" 2>&1 &
  IPPEVE_PID=$!
  IPPEVE_LOG=$dir/ippeveprinter.log
  IPPEVE_URI=ipp://127.0.0.1:$IPPEVE_PORT/ipp/print
  local i
  for ((i = 0; i < 200; i++)); do
    if ipptool -q -T 2 "$IPPEVE_URI" get-printer-attributes.test 2>/dev/null; then
      echo "$IPPEVE_URI"
      return 0
    fi
    if ! kill -0 "$IPPEVE_PID" 2>/dev/null; then
      cat "$dir/ippeveprinter.log" >&2
      ippeve_die "ippeveprinter exited before it answered"
    fi
    sleep 0.05
  done
  cat "$dir/ippeveprinter.log" >&2
  ippeve_die "ippeveprinter did not answer within 10 s"
}

# ippeveprinter takes one job at a time: while one is being received or its counter runs, a
# Print-Job or Create-Job gets server-error-busy ("Currently printing another job."; CUPS's IPP
# backend then retries after about 10 s). A caller that wants an idle device waits for this.
ippeve_jobs_done() {
  local n
  n=$(grep -c '\] Processing time was ' "$IPPEVE_LOG" 2>/dev/null) || true
  echo "${n:-0}"
}

ippeve_down() {
  [[ -z $IPPEVE_PID ]] || net_stop_pid "$IPPEVE_PID"
  IPPEVE_PID=
  [[ -z $IPPEVE_BUS_PID ]] || net_stop_pid "$IPPEVE_BUS_PID"
  IPPEVE_BUS_PID=
}

# ippeve_cups_up DIR QUEUE: a private cupsd in DIR (CUPS_SERVER, CUPS_PID: lib/cups.sh) with a
# queue to the ippeveprinter started by ippeve_up. ?waitjob=false: CUPS's IPP backend does not
# wait (about a second) for the printer to complete each job. CUPS's filters run as lp: every
# folder above DIR must let others through (chmod 711 on a mktemp -d folder), or each job stops
# with "Filter failed".
ippeve_cups_up() {
  local dir=$1 queue=$2
  [[ -n ${IPPEVE_URI:-} ]] || ippeve_die "ippeve_cups_up needs the printer of ippeve_up first"
  local up=$dir
  while up=$(dirname "$up") && [[ $up != / ]]; do
    [[ $(($(stat -c %#a "$up") & 1)) -eq 1 ]] || ippeve_die "$up is closed to others: CUPS's filters (user lp) cannot reach $dir"
  done
  cups_up "$dir" || ippeve_die "cannot start the private cupsd"
  # The PPD is made from the printer's answer to the device URI, which the printer refuses with
  # a query string in it: make the queue first, then add ?waitjob=false.
  lpadmin -p "$queue" -E -v "$IPPEVE_URI" -m everywhere ||
    ippeve_die "lpadmin could not make queue $queue to $IPPEVE_URI"
  lpadmin -p "$queue" -v "$IPPEVE_URI?waitjob=false" || ippeve_die "lpadmin could not set ?waitjob=false on $queue"
}

# ippeve_make_pdf FILE PAGES BYTES: a valid PDF (checked with qpdf) of PAGES pages, each showing
# its number and one shared grey image of about BYTES random (incompressible) bytes, stored
# uncompressed: the file is about BYTES + 1 KB, and a filter that recompresses it (CUPS's
# pdftopdf) cannot make it much smaller.
ippeve_make_pdf() {
  local out=$1 pages=$2 bytes=$3
  local width=256 height=$(((bytes + 255) / 256))
  local part=$out.parts offsets=() kids="" p n
  mkdir -p "$part"
  # Objects: 1 catalog, 2 pages, 3 font, 4 image, then per page i: a page and its content.
  : >"$part/body"
  add_obj() { # add_obj NUMBER TEXT-FILE: appends "N 0 obj ... endobj" and records its offset
    offsets[$1]=$(stat -c %s "$part/body")
    { printf '%d 0 obj\n' "$1"; cat "$2"; printf '\nendobj\n'; } >>"$part/body"
  }
  printf '%%PDF-1.4\n%%\342\343\317\323\n' >"$part/body"
  for ((p = 0; p < pages; p++)); do kids+="$((5 + 2 * p)) 0 R "; done
  printf '<< /Type /Catalog /Pages 2 0 R >>' >"$part/obj"
  add_obj 1 "$part/obj"
  printf '<< /Type /Pages /Kids [ %s] /Count %d >>' "$kids" "$pages" >"$part/obj"
  add_obj 2 "$part/obj"
  printf '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>' >"$part/obj"
  add_obj 3 "$part/obj"
  {
    printf '<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray' "$width" "$height"
    printf ' /BitsPerComponent 8 /Length %d >>\nstream\n' $((width * height))
    head -c $((width * height)) /dev/urandom
    printf '\nendstream'
  } >"$part/obj"
  add_obj 4 "$part/obj"
  for ((p = 0; p < pages; p++)); do
    n=$((5 + 2 * p))
    printf 'q 400 0 0 400 106 200 cm /Im1 Do Q BT /F1 24 Tf 72 720 Td (lpm test page %d of %d) Tj ET\n' \
      $((p + 1)) "$pages" >"$part/content"
    printf '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R' $((n + 1)) >"$part/obj"
    printf ' /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 4 0 R >> >> >>' >>"$part/obj"
    add_obj "$n" "$part/obj"
    { printf '<< /Length %d >>\nstream\n' "$(stat -c %s "$part/content")"; cat "$part/content"; printf 'endstream'; } \
      >"$part/obj"
    add_obj $((n + 1)) "$part/obj"
  done
  local count=$((5 + 2 * pages)) xref
  xref=$(stat -c %s "$part/body")
  {
    printf 'xref\n0 %d\n0000000000 65535 f \n' "$count"
    for ((n = 1; n < count; n++)); do printf '%010d 00000 n \n' "${offsets[n]}"; done
    printf 'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' "$count" "$xref"
  } >>"$part/body"
  mv "$part/body" "$out"
  rm -rf "$part"
  unset -f add_obj
  qpdf --check "$out" >/dev/null 2>&1 || ippeve_die "ippeve_make_pdf: qpdf finds $out broken"
  [[ $(qpdf --show-npages "$out") == "$pages" ]] || ippeve_die "ippeve_make_pdf: $out does not have $pages pages"
}
