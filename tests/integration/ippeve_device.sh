#!/usr/bin/env bash
# Issue 5: CUPS's ippeveprinter as the release station's test device (scripts/lib/ippeve.sh),
# proved here on its own: it runs in a network namespace this test makes (the script re-runs
# itself under `unshare --net`; root only) with a private system bus, keeps every document it
# receives as a file byte for byte, and reports impressions through its counting script, so a
# release through it can be checked end to end (bytes in = bytes out, counts come back).
#
# What ippeveprinter does with counts (found here): it reports exactly what the -c script says
# in "ATTR: job-impressions-completed=N" and multiplies nothing by copies; our script counts like
# a printer (PDF pages x copies), so a 3-page PDF with copies=2 reports 6. The script also notes
# each job's print-color-mode: the last part checks a user whose print group allows no colour gets
# a monochrome job at a device that applies settings (issue 6, AMB-17).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"
source "$here/../../scripts/lib/ippeve.sh"
ippeve_enter_netns "$0" "$@"
BIN=$(cd "${1:?usage: ippeve_device.sh BIN_DIR}" && pwd)

it_begin lpm-ippeve
chmod 711 "$ROOT" # CUPS's filters (user lp) read the queue's files below it
mkdir -p "$ROOT/logs" "$ROOT/docs"
PROBE_PID=
stop_probe() { [[ -z $PROBE_PID ]] || net_stop_pid "$PROBE_PID"; }
it_at_exit ippeve_down
it_at_exit cups_down
it_at_exit stop_probe

check "ippeveprinter answers in a network namespace of our own, with a private system bus" \
  ippeve_up "$ROOT/ippeve"
ln -s ../ippeve/ippeveprinter.log "$ROOT/logs/ippeveprinter.log"
check "its URI is on the namespace's loopback" test "$IPPEVE_URI" = "ipp://127.0.0.1:$IPPEVE_PORT/ipp/print"
# unshare execs in place: our parent is whoever started the test, in the namespace we left.
check "this test does not run in the network namespace it was started in" \
  test "$(readlink /proc/$PPID/ns/net)" != "$(readlink /proc/self/ns/net)"

# Every document the device keeps, as the probe the benchmark uses sees it.
"$BIN/lpm_spool_probe" "$IPPEVE_SPOOL" >"$ROOT/logs/probe.out" 2>"$ROOT/logs/probe.log" &
PROBE_PID=$!
wait_for 5 grep -qs '^ready' "$ROOT/logs/probe.log" || fail "lpm_spool_probe did not start"

ippeve_make_pdf "$ROOT/docs/three.pdf" 3 20000
check "the generated document is a valid 3-page PDF" test "$(qpdf --show-npages "$ROOT/docs/three.pdf")" -eq 3
printf 'one page of plain text\n' >"$ROOT/docs/note.txt"
printf '%%PDF-1.4\nthis is not a PDF body\n%%%%EOF\n' >"$ROOT/docs/broken.pdf"

# One Print-Job, then Get-Job-Attributes until the job is done; prints its state and counts.
cat >"$ROOT/print-job.test" <<'TEST'
{
  NAME "Print-Job"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name lpm-test
  ATTR name job-name $jobname
  ATTR mimeMediaType document-format $format
  GROUP job-attributes-tag
  ATTR integer copies $copies
  FILE $filename
  STATUS successful-ok
  EXPECT job-id OF-TYPE integer
}
{
  NAME "Get-Job-Attributes until the job is done"
  # Asked again every 50 ms (ipptool's own repeat interval is 5 s).
  DELAY "0,0.05"
  OPERATION Get-Job-Attributes
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR integer job-id $job-id
  ATTR name requesting-user-name lpm-test
  STATUS successful-ok
  EXPECT job-state WITH-VALUE >6 REPEAT-NO-MATCH REPEAT-LIMIT 200
  DISPLAY job-state
  DISPLAY job-impressions-completed
}
TEST
# print_job FILE FORMAT COPIES NAME: sets JOB_STATE, JOB_IMPRESSIONS (empty when not reported).
print_job() {
  local out
  out=$(ipptool -t -T 10 -d jobname="$4" -d format="$2" -d copies="$3" -f "$1" "$IPPEVE_URI" \
    "$ROOT/print-job.test" 2>&1) || {
    printf '%s\n' "$out" >"$ROOT/logs/ipptool-$4.log"
    fail "ipptool Print-Job of $1 failed"
  }
  JOB_STATE=$(sed -n 's/.*job-state (enum) = \([a-z-]*\).*/\1/p' <<<"$out" | tail -n 1)
  JOB_IMPRESSIONS=$(sed -n 's/.*job-impressions-completed (integer) = \([0-9]*\).*/\1/p' <<<"$out" | tail -n 1)
}
# spool_file NAME: the one kept document whose file name holds NAME (ippeveprinter names each
# "<job-id>-<job-name>.<ext>"), or nothing.
spool_file() {
  local found=("$IPPEVE_SPOOL"/*-"$1".*)
  [[ ${#found[@]} -eq 1 && -f ${found[0]} ]] && echo "${found[0]}"
}
has_spool_file() { [[ -n $(spool_file "$1") ]]; }

print_job "$ROOT/docs/three.pdf" application/pdf 2 three
check "a 3-page PDF with copies=2 completes at the device" test "$JOB_STATE" = completed
check "Get-Job-Attributes reports job-impressions-completed 6: 3 pages x 2 copies (got ${JOB_IMPRESSIONS:-none})" \
  test "${JOB_IMPRESSIONS:-0}" -eq 6
kept=$(spool_file three)
check "the device keeps the document as a file in its spool folder" test -n "$kept"
check "the bytes it received equal the bytes submitted" cmp -s "$ROOT/docs/three.pdf" "$kept"
size=$(stat -c %s "$ROOT/docs/three.pdf")
check "lpm_spool_probe saw that file closed, with its size ($size bytes)" \
  wait_for 5 grep -Eq "^[0-9]+ $kept $size\$" "$ROOT/logs/probe.out"

print_job "$ROOT/docs/note.txt" text/plain 1 note
check "a text document counts as one impression per copy" test "$JOB_STATE" = completed -a "${JOB_IMPRESSIONS:-0}" -eq 1
check "and is kept byte for byte too" cmp -s "$ROOT/docs/note.txt" "$(spool_file note)"

print_job "$ROOT/docs/broken.pdf" application/pdf 1 broken
check "a PDF the counter cannot read is aborted at the device, not counted (state $JOB_STATE)" \
  test "$JOB_STATE" = aborted -a "${JOB_IMPRESSIONS:-0}" -eq 0

# Marks: a line on the probe's input comes back on its clock, in order with the files.
exec 8> >(exec "$BIN/lpm_spool_probe" --marks "$IPPEVE_SPOOL" >"$ROOT/logs/marks.out" 2>/dev/null)
printf 'before three\n' >&8
printf '@%s stamped by the writer\n' "$EPOCHREALTIME" >&8
printf 'after\n' >&8
exec 8>&-
check "lpm_spool_probe --marks prints each input line with a monotonic time" \
  wait_for 5 grep -Eq '^[0-9]+ mark before three$' "$ROOT/logs/marks.out"
check "a mark stamped by its writer (@EPOCHREALTIME) gets that instant, on the same clock, before the next" \
  wait_for 5 awk '/ mark stamped by the writer$/ {s = $1} / mark after$/ {a = $1} END {exit !(s > 0 && a > 0 && s <= a)}' \
  "$ROOT/logs/marks.out"

# CUPS's queue to the same device (what the release benchmark compares against).
check "a private cupsd with an IPP Everywhere queue to the device (lpadmin -m everywhere)" \
  ippeve_cups_up "$ROOT/cups" device
check "the queue's device URI does not wait for each job (?waitjob=false)" \
  grep -q "waitjob=false" <(lpstat -v device)
lp -d device -t cups-three "$ROOT/docs/three.pdf" >/dev/null
check "a job printed through CUPS arrives at the device (filtered by pdftopdf)" \
  wait_for 10 has_spool_file cups-three
check "with its pages intact" test "$(qpdf --show-npages "$(spool_file cups-three)")" -eq 3

# ---- lpm-release through this device (issue 5) -------------------------------------------------
# The whole network on this namespace's loopback; the station prints to the device over IPP.
cups_down # its queue would keep the device busy with nothing of ours
net_up "$ROOT" >"$ROOT/logs/net-up.log"
export NET_DEVICE=$IPPEVE_URI
job_state() { "$BIN/lpm" jobs --socket "$AGENT_SOCK" | awk -v j="$1" '$1 == j {print $3}'; }
lpm_print() { "$BIN/lpm" print "$@" --socket "$AGENT_SOCK" | awk '/^job /{print $2}'; }

before=$(ippeve_jobs_done)
three=$(lpm_print "$ROOT/docs/three.pdf" --copies 2)
net_release "$BADGE"
check "the station prints the held PDF through the IPP device" grep -q 'printed "three.pdf"' <<<"$STEP_OUT"
check "the device counted pages x copies and the station says so (6 impressions)" \
  grep -q '6 impression(s)' <<<"$STEP_OUT"
wait_for 10 test "$(ippeve_jobs_done)" -gt "$before" || true
released=$(ls -t "$IPPEVE_SPOOL"/*three* 2>/dev/null | head -n 1)
check "the device kept the document" test -n "$released"
check "the bytes at the device equal the bytes submitted" cmp -s "$released" "$ROOT/docs/three.pdf"
check "the job is printed on the workstation" test "$(job_state "$three")" = printed

# Late binding at an interactive station: one copy submitted, two asked at the printer.
late=$(lpm_print "$ROOT/docs/three.pdf")
net_wait_registered
STEP_OUT=$(printf '%s\n1 copies=2\n' "$BADGE" | "$BIN/lpm-release" run --data "$ROOT/printer" \
  --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --device "$IPPEVE_URI" --interactive \
  2>>"$ROOT/logs/release.log")
check "late binding: copies=2 chosen at the station reaches the device (6 impressions)" \
  grep -Eq 'printed "three.pdf" \([0-9]+ bytes, 6 impression\(s\)' <<<"$STEP_OUT"
check "the late-bound job is printed on the workstation" test "$(job_state "$late")" = printed

# A setting the device does not support: refused before any byte moves, the job held again.
two=$(lpm_print "$ROOT/docs/three.pdf" --sides two-sided-long-edge)
files_before=$(ls "$IPPEVE_SPOOL" | wc -l)
net_release "$BADGE"
check "a two-sided job on a one-sided device is refused with the reason" \
  grep -q 'failed "three.pdf" .*cannot print two-sided-long-edge' <<<"$STEP_OUT"
check "the refused job is held again" test "$(job_state "$two")" = held
check "nothing reached the device" test "$(ls "$IPPEVE_SPOOL" | wc -l)" -eq "$files_before"
"$BIN/lpm" jobs delete "$two" --socket "$AGENT_SOCK" >/dev/null

# Three workstations' jobs at once: the device takes one job at a time (it answers Create-Job
# "busy" meanwhile); the station asks again until each is in.
lpm_print "$ROOT/docs/note.txt" >/dev/null
socks=()
for ws in ws2 ws3; do
  net_add_agent "$ws" 127.0.0.1 127.0.0.1 >/dev/null
  socks+=("$XA_SOCK")
  "$BIN/lpm" print "$ROOT/docs/note.txt" --socket "$XA_SOCK" >/dev/null
done
done_before=$(ippeve_jobs_done)
net_release "$BADGE"
check "three workstations' jobs released together to a device that takes one at a time" \
  grep -q "released 3 job" <<<"$STEP_OUT"
check "the device finished three more jobs" wait_for 10 test "$(ippeve_jobs_done)" -ge $((done_before + 3))

# Quotas and colour at a device that applies settings (issue 6, AMB-17). An administrator comes in
# while everything runs and imports the users into Print Management; Jean is then in no print
# group, so no group allows him colour, and with the enterprise's default rule (mono) his colour
# job prints in monochrome here instead of being refused.
printf '%s\n' 'EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT' \
  'admin@example.com,CREATE,Admin-Password-1,Ada,Admin,Ada Admin,aadmin,,,,IT' >"$ROOT/admin.csv"
"$BIN/lpm-directory" user import --data "$ROOT/directory" --file "$ROOT/admin.csv" >"$ROOT/logs/admin-import.log"
"$BIN/lpm-directory" role grant --data "$ROOT/directory" --role prm-admin --email admin@example.com >/dev/null
printf 'Admin-Password-1\n' | "$BIN/lpm" login --email admin@example.com --password-stdin --socket "$AGENT_SOCK" >/dev/null
"$BIN/lpm" print-users sync --yes --socket "$AGENT_SOCK" >/dev/null
colour=$(lpm_print "$ROOT/docs/three.pdf")
color_log=$(dirname "$IPPEVE_COUNTER")/color-modes.log
modes_before=$(wc -l <"$color_log" 2>/dev/null || echo 0)
net_release "$BADGE"
check "AMB-17: at badge-in the station says Jean's colour prints in monochrome" \
  grep -q '^quota for Jean Dupont: colour prints in monochrome$' <<<"$STEP_OUT"
check "AMB-17: his colour job prints, in monochrome, and the line says why" \
  grep -q 'printed "three.pdf" .*colour is not allowed for Jean Dupont: printed in monochrome' <<<"$STEP_OUT"
wait_for 10 test "$(wc -l <"$color_log")" -gt "$modes_before" || true
check "AMB-17: the device was asked for print-color-mode monochrome" test "$(tail -n 1 "$color_log")" = monochrome
check "the job is printed on the workstation" test "$(job_state "$colour")" = printed
# -------------------------------------------------------------------------------------------------

echo "$IT_PASSED passed, 0 failed"
