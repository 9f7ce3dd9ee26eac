#!/usr/bin/env bash
# Issue 3, "Capture from the operating system's spooler", against real CUPS tools:
#  - CUPS's own conformance suites ipp-1.1.test and ipp-2.0.test, copied into a temp folder beside
#    the sample documents they name (made here: A4 and Letter, PDF and PostScript), pass against
#    the agent's IPP printer, once with -f a PDF and once with a PostScript document, with
#    exactly the skips listed below, each for its reason;
#  - `lpadmin -m everywhere` builds a queue from the printer's attributes, and `lp` through a
#    private cupsd stores jobs owned by the user who printed (root, and nobody through the CUPS
#    backend's requesting-user-name);
#  - a local user who is not a job's owner can neither list, read nor cancel it through IPP, and
#    cannot submit in someone else's name; an unbound account is refused; the raw listener
#    takes the owner from the peer socket.
set -euo pipefail
BIN=$(cd "${1:?usage: ipp_conformance.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/cups.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin
it_at_exit cups_down

[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to act as other OS accounts and to run cupsd"; exit 0; }
for tool in ipptool cupsd lpadmin lp cups-config runuser; do
  command -v "$tool" >/dev/null || fail "$tool is missing (packages cups-ipp-utils, cups-daemon, cups-client, libcups2-dev)"
done
id nobody >/dev/null 2>&1 || fail "the OS account nobody is missing"
id daemon >/dev/null 2>&1 || fail "the OS account daemon is missing"
chmod 711 "$ROOT" # other accounts reach the suite folder and the control socket

net_hook_before_agent() {
  BOB_ID=$("$BIN/lpm-directory" user add --data "$ROOT/directory" --email bob@example.com --name Bob)
  NET_EXTRA_BINDS="<Bind account=\"nobody\" user=\"$BOB_ID\"/>"
}
net_up "$ROOT" >"$ROOT/up.log"
URI=ipp://localhost:$AGENT_IPP_PORT/ipp/print
[[ -n $AGENT_IPP_PORT && -n $AGENT_RAW_PORT ]] || fail "the agent printed no capture ports"

# ---------------------------------------------------------------------------------------------
# The suites and the documents they name.
SUITE=$ROOT/suite
mkdir -p "$SUITE"
IPPTOOL_DIR=$(cups-config --datadir)/ipptool
copy_suite() { # copies a test file and whatever it INCLUDEs
  local name=$1 inc
  [[ -e $SUITE/$name ]] && return 0
  cp "$IPPTOOL_DIR/$name" "$SUITE/$name"
  for inc in $(sed -n 's/^[[:space:]]*INCLUDE[[:space:]]*[<"]\([^">]*\)[">].*/\1/p' "$SUITE/$name"); do
    [[ -e $IPPTOOL_DIR/$inc ]] && copy_suite "$inc"
  done
}
copy_suite ipp-2.0.test
check "ipp-2.0.test came with the ipp-1.1.test it includes" test -e "$SUITE/ipp-1.1.test"

# A one-page PDF with correct xref offsets (qpdf counts it without repairs).
make_pdf() { # WIDTH HEIGHT TEXT
  local w=$1 h=$2 text=$3 out i=1 xref obj offsets=()
  local content="BT /F1 24 Tf 72 $((h - 100)) Td ($text) Tj ET"
  local objs=(
    "<< /Type /Catalog /Pages 2 0 R >>"
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 $w $h] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
    "<< /Length ${#content} >>"$'\nstream\n'"$content"$'\nendstream'
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
  )
  out=$'%PDF-1.4\n'
  for obj in "${objs[@]}"; do
    offsets+=("${#out}")
    out+="$i 0 obj"$'\n'"$obj"$'\nendobj\n'
    i=$((i + 1))
  done
  xref=${#out}
  out+="xref"$'\n'"0 $i"$'\n'"0000000000 65535 f "$'\n'
  for obj in "${offsets[@]}"; do out+=$(printf '%010d 00000 n ' "$obj")$'\n'; done
  out+="trailer"$'\n'"<< /Size $i /Root 1 0 R >>"$'\nstartxref\n'"$xref"$'\n%%EOF\n'
  printf '%s' "$out"
}
make_ps() { # WIDTH HEIGHT TEXT: one DSC-conforming page
  printf '%%!PS-Adobe-3.0\n%%%%BoundingBox: 0 0 %s %s\n%%%%Pages: 1\n%%%%EndComments\n%%%%Page: 1 1\n' "$1" "$2"
  printf '<< /PageSize [%s %s] >> setpagedevice\n/Helvetica findfont 24 scalefont setfont\n' "$1" "$2"
  printf '72 %s moveto (%s) show\nshowpage\n%%%%EOF\n' "$(($2 - 100))" "$3"
}
make_pdf 595 842 "A4 test page" >"$SUITE/document-a4.pdf"
make_pdf 612 792 "US Letter test page" >"$SUITE/document-letter.pdf"
make_ps 595 842 "A4 test page" >"$SUITE/document-a4.ps"
make_ps 612 792 "US Letter test page" >"$SUITE/document-letter.ps"
# ipptool opens every FILE a suite names while reading it, even in tests it then skips: the
# JPEG tests skip (image/jpeg is not advertised), but their files must exist. Placeholders
# (a JPEG start and end marker) are never sent.
printf '\xff\xd8\xff\xd9' >"$SUITE/color.jpg"
printf '\xff\xd8\xff\xd9' >"$SUITE/gray.jpg"
chmod 755 "$SUITE"
chmod 644 "$SUITE"/*

# ---------------------------------------------------------------------------------------------
# The expected transcript of `ipptool -t` on ipp-2.0.test (which runs ipp-1.1.test first), test
# by test, as ipptool prints the names (cut at 68 characters). Each skip has its reason.
expected_transcript() {
  cat <<'EOF'
PASS RFC 8011 section 4.1.1: Bad request-id value 0
PASS RFC 8011 section 4.1.4: No Operation Attributes
PASS RFC 8011 section 4.1.4: attributes-charset
PASS RFC 8011 section 4.1.4: attributes-natural-language
PASS RFC 8011 section 4.1.4: attributes-natural-language + attributes-cha
PASS RFC 8011 section 4.1.4: attributes-charset + attributes-natural-lang
PASS RFC 8011 section 4.1.8: Unsupported IPP version 0.0
PASS RFC 8011 section 4.2: No printer-uri operation attribute
PASS RFC 8011 section 4.2.1: Print-Job Operation
PASS RFC 8011 section 4.2.3: Validate-Job Operation
PASS RFC 8011 section 4.2.5: Get-Printer-Attributes Operation (default)
PASS RFC 8011 section 4.2.5: Get-Printer-Attributes Operation (requested-
PASS RFC 8011 section 4.2.6: Get-Jobs Operation (default)
# The next four and the one after "which-jobs=completed" need a job still pending
# (SKIP-IF-DEFINED PRINT_JOB_COMPLETED): ours complete once stored ("held for release").
SKIP RFC 8011 section 4.2.6: Get-Jobs Operation (requested-attributes)
SKIP RFC 8011 section 4.2.6: Get-Jobs Operation (my-jobs)
SKIP RFC 8011 section 4.2.6: Get-Jobs Operation (my-jobs different user)
SKIP RFC 8011 section 4.2.6: Get-Jobs Operation (which-jobs=not-completed
PASS Get-Job-Attributes Until Job Complete
PASS RFC 8011 section 4.2.6: Get-Jobs Operation (which-jobs=completed)
SKIP RFC 8011 section 4.2.6: Get-Jobs Operation (which-jobs, requested-at
PASS RFC 8011 section 4.3.3: Cancel-Job Operation (completed job)
PASS RFC 8011 section 4.2.1: Print-Job Operation
PASS RFC 8011 section 4.3.3: Cancel-Job Operation (pending/processing job
PASS RFC 8011 section 4.3.4: Get-Job-Attributes Operation
# Print-URI is not supported (documents are never fetched by reference).
SKIP RFC 8011 section 4.2.2: Print-URI Operation
SKIP Print-URI with bad URI: Print-URI Operation
PASS RFC 8011 section 4.2.4: Create-Job Operation
PASS RFC 8011 section 4.3.1: Send-Document Operation
PASS Send-Document missing last-document: Create-Job Operation
PASS Send-Document missing last-document: Send-Document Operation
PASS RFC 8011 section 4.3.3: Cancel-Job Operation
# Send-URI is not supported (the Create-Job of this group only runs with Send-URI).
SKIP RFC 8011 section 4.2.4: Create-Job Operation
SKIP RFC 8011 section 4.3.2: Send-URI Operation
SKIP Send-URI with bad URI: Create-Job Operation
SKIP Send-URI with bad URI: Send-URI Operation (bad URI)
SKIP Send-URI with bad URI: Cancel-Job Operation
PASS Print-Job with copies
PASS Print-Job with A4 PDF
PASS Print-Job with A4 PDF, Duplex
PASS Print-Job with US Letter PDF
PASS Print-Job with US Letter PDF, Duplex
PASS Print-Job with A4 PostScript
PASS Print-Job with A4 PostScript, Duplex
PASS Print-Job with US Letter PostScript
PASS Print-Job with US Letter PostScript, Duplex
# image/jpeg is not in document-format-supported.
SKIP Print-Job with Color JPEG on A4
SKIP Print-Job with Color JPEG on US Letter
SKIP Print-Job with Color JPEG on 4x6
SKIP Print-Job with Grayscale JPEG on A4
SKIP Print-Job with Grayscale JPEG on US Letter
SKIP Print-Job with Grayscale JPEG on 4x6
# job-sheets-supported is none only (no banner pages).
SKIP Print-Job with A4 PDF and Standard Sheet
SKIP Print-Job with US Letter PDF and Standard Sheet
SKIP Print-Job with A4 PDF and Standard Sheet
SKIP Print-Job with US Letter PDF and Standard Sheet
# number-up-supported is 1 only (imposition is the release station's device's business).
SKIP Print-Job with A4 PDF, 2-Up
SKIP Print-Job with US Letter PDF, 2-Up
SKIP Print-Job with A4 PDF, 2-Up
SKIP Print-Job with US Letter PDF, 2-Up
# image/jpeg is not supported (and no 4x6 media).
SKIP Print-Job with JPEG on 4x6, Draft Quality
SKIP Print-Job with JPEG on 4x6, Normal Quality
SKIP Print-Job with JPEG on 4x6, High Quality
# The suite tests a printer attribute named "print-quality" (not print-quality-supported),
# which no printer has: these skip everywhere.
SKIP Print-Job with A4 PDF, Draft Quality
SKIP Print-Job with US Letter PDF, Draft Quality
# Hold-Job / Release-Job are not supported: holding is the agent's, not the spooler's.
SKIP Print-Job with job-hold-until
SKIP Release-Job
PASS PWG 5100.12 section 6.2 - Required Printer Description Attributes
EOF
}

run_suite() { # DOCUMENT: runs ipp-2.0.test with -f DOCUMENT and checks the transcript
  local doc=$1 out=$ROOT/logs/ipptool-${1//./-}.txt t0 rc
  t0=$(net_ms)
  set +e
  (cd "$SUITE" && ipptool -tI -f "$doc" "$URI" ipp-2.0.test) >"$out" 2>&1
  rc=$?
  set -e
  local ms=$(($(net_ms) - t0))
  [[ $rc -eq 0 ]] || { cat "$out" >&2; fail "ipptool exited $rc with -f $doc"; }
  local got want
  got=$(sed -n 's/^    \(.*[^ ]\) *\[\(PASS\|SKIP\|FAIL\)\]$/\2 \1/p' "$out")
  want=$(expected_transcript | grep -v '^#')
  if [[ $got != "$want" ]]; then
    diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2 || true
    grep -i "cannot\|error" "$out" >&2 || true
    fail "the ipptool transcript with -f $doc differs from the expected one (diff above: < expected, > got)"
  fi
  echo "ok - ipp-1.1.test and ipp-2.0.test pass with -f $doc: $(grep -c '^PASS' <<<"$got") passed," \
    "$(grep -c '^SKIP' <<<"$got") skipped as listed ($ms ms)"
}
run_suite document-a4.pdf
run_suite document-letter.ps

# ---------------------------------------------------------------------------------------------
# Ownership through IPP: root prints; nobody (bound to Bob) and daemon (unbound) try.
ipp_header() { # NAME OPERATION
  printf '{\n  NAME "%s"\n  OPERATION %s\n  GROUP operation-attributes-tag\n' "$1" "$2"
  printf '  ATTR charset attributes-charset utf-8\n  ATTR naturalLanguage attributes-natural-language en\n'
  printf '  ATTR uri printer-uri $uri\n'
}
{
  ipp_header "root prints a job" Print-Job
  printf '  ATTR name requesting-user-name $user\n  ATTR name job-name "Root payroll"\n'
  printf '  ATTR mimeMediaType document-format application/pdf\n  FILE document-a4.pdf\n'
  printf '  STATUS successful-ok\n  EXPECT job-id OF-TYPE integer\n  DISPLAY job-id\n}\n'
} >"$SUITE/root-prints.test"
{
  ipp_header "another user lists none of root's jobs" Get-Jobs
  printf '  ATTR name requesting-user-name $user\n  ATTR keyword which-jobs all\n'
  printf '  ATTR keyword requested-attributes job-id,job-name\n  STATUS successful-ok\n  EXPECT !job-id\n}\n'
  ipp_header "another user cannot read root's job" Get-Job-Attributes
  printf '  ATTR integer job-id $ROOT_JOB\n  ATTR name requesting-user-name $user\n'
  printf '  STATUS client-error-not-found\n  EXPECT !job-name\n}\n'
  ipp_header "another user cannot cancel root's job, even with purge-job" Cancel-Job
  printf '  ATTR integer job-id $ROOT_JOB\n  ATTR name requesting-user-name $user\n'
  printf '  ATTR boolean purge-job true\n  STATUS client-error-not-found\n}\n'
  ipp_header "another user naming root in requesting-user-name prints as itself" Print-Job
  printf '  ATTR name requesting-user-name root\n  ATTR name job-name "Spoofed"\n'
  printf '  ATTR mimeMediaType document-format application/pdf\n  FILE document-a4.pdf\n'
  printf '  STATUS successful-ok\n  EXPECT job-id OF-TYPE integer\n}\n'
} >"$SUITE/non-owner.test"
{
  ipp_header "root's job is intact" Get-Job-Attributes
  printf '  ATTR integer job-id $ROOT_JOB\n  ATTR name requesting-user-name $user\n'
  printf '  STATUS successful-ok\n  EXPECT job-state WITH-VALUE 9\n  EXPECT job-name WITH-VALUE "Root payroll"\n}\n'
} >"$SUITE/root-checks.test"
{
  ipp_header "an unbound account cannot list jobs" Get-Jobs
  printf '  ATTR name requesting-user-name $user\n  STATUS client-error-not-authorized\n}\n'
  ipp_header "an unbound account cannot print" Print-Job
  printf '  ATTR name requesting-user-name $user\n  ATTR mimeMediaType document-format application/pdf\n'
  printf '  FILE document-a4.pdf\n  STATUS client-error-not-authorized\n}\n'
} >"$SUITE/unbound.test"
chmod 644 "$SUITE"/*.test

ipp_run() { # command...: runs in the suite folder (ipptool finds FILEs there)
  (cd "$SUITE" && "$@")
}
quiet() { # command...: its output only when it fails
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || printf '%s\n' "$out" >&2
  return $rc
}
out=$(ipp_run ipptool -t "$URI" root-prints.test)
ROOT_JOB=$(sed -n 's/^ *job-id (integer) = \([0-9]*\)$/\1/p' <<<"$out")
check "root's job got an IPP job-id" test -n "$ROOT_JOB"
root_jobs_before=$("$BIN/lpm" jobs --socket "$AGENT_SOCK" | grep -c held)
check "nobody can neither list, read nor cancel root's job, nor print in root's name" \
  quiet ipp_run runuser -u nobody -- ipptool -t -d "ROOT_JOB=$ROOT_JOB" "$URI" non-owner.test
check "root's job is still there and unchanged" quiet ipp_run ipptool -t -d "ROOT_JOB=$ROOT_JOB" "$URI" root-checks.test
check "the job nobody sent in root's name belongs to nobody" \
  grep -q Spoofed <<<"$(runuser -u nobody -- "$BIN/lpm" jobs --socket "$AGENT_SOCK")"
check "and root has no more jobs than before" \
  test "$("$BIN/lpm" jobs --socket "$AGENT_SOCK" | grep -c held)" -eq "$root_jobs_before"
check "an account bound to no directory user is refused (client-error-not-authorized)" \
  quiet ipp_run runuser -u daemon -- ipptool -t "$URI" unbound.test

# ---------------------------------------------------------------------------------------------
# The raw listener: the owner is the account owning the peer socket.
cp "$SUITE/document-letter.ps" "$ROOT/raw.ps"
chmod 644 "$ROOT/raw.ps"
nobody_before=$(runuser -u nobody -- "$BIN/lpm" jobs --socket "$AGENT_SOCK" | grep -c held)
runuser -u nobody -- bash -c "cat '$ROOT/raw.ps' >/dev/tcp/127.0.0.1/$AGENT_RAW_PORT"
runuser -u daemon -- bash -c "cat '$ROOT/raw.ps' >/dev/tcp/127.0.0.1/$AGENT_RAW_PORT" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
  grep -q "raw job from .* refused: OS account 'daemon'" "$ROOT/logs/agent.log" &&
    [[ $(runuser -u nobody -- "$BIN/lpm" jobs --socket "$AGENT_SOCK" | grep -c held) -gt $nobody_before ]] && break
  sleep 0.05
done
check "a raw job from nobody is held for nobody, titled \"Raw print job\"" \
  grep -q "Raw print job" <<<"$(runuser -u nobody -- "$BIN/lpm" jobs --socket "$AGENT_SOCK")"
check "a raw job from an unbound account is refused and logged" \
  grep -q "raw job from .* refused: OS account 'daemon' is not bound" "$ROOT/logs/agent.log"

# ---------------------------------------------------------------------------------------------
# A private cupsd: `lpadmin -m everywhere` builds the queue, `lp` stores jobs for their user.
CUPS=$ROOT/cups
cups_up "$CUPS" >/dev/null || fail "cupsd did not start"
# ?waitjob=false: the backend does not poll for completion (our jobs complete at once anyway).
check "lpadmin -m everywhere creates the queue" lpadmin -p LPMServerless -E -v "$URI?waitjob=false" -m everywhere
# cupsd builds the PPD from the printer's attributes after lpadmin returns.
ppd=$CUPS/etc/ppd/LPMServerless.ppd
for ((i = 0; i < 200; i++)); do
  [[ -s $ppd ]] && break
  grep -q "PPD creation failed" "$CUPS/log/error_log" 2>/dev/null && break
  sleep 0.02
done
check "cupsd built its PPD from the printer's attributes" test -s "$ppd"
check "its PPD sends PDF through" grep -q 'cupsFilter2: "application/vnd.cups-pdf application/pdf' "$ppd"
check "its PPD offers A4 and Letter" bash -c "grep -q '^\*PageSize A4:' '$ppd' && grep -q '^\*PageSize Letter:' '$ppd'"
check "its PPD offers duplex" grep -q '^\*Duplex DuplexNoTumble' "$ppd"
check "its PPD is for a color printer" grep -q '^\*ColorDevice: True' "$ppd"
lp -d LPMServerless -t "cups-root" -o sides=two-sided-long-edge "$SUITE/document-a4.pdf" >/dev/null
runuser -u nobody -- env CUPS_SERVER="$CUPS_SERVER" lp -d LPMServerless -t "cups-nobody" "$SUITE/document-letter.pdf" >/dev/null
for ((i = 0; i < 200; i++)); do
  grep -q cups-nobody <<<"$(runuser -u nobody -- "$BIN/lpm" jobs --socket "$AGENT_SOCK")" &&
    grep -q cups-root <<<"$("$BIN/lpm" jobs --socket "$AGENT_SOCK")" && break
  sleep 0.05
done
root_list=$("$BIN/lpm" jobs --socket "$AGENT_SOCK")
nobody_list=$(runuser -u nobody -- "$BIN/lpm" jobs --socket "$AGENT_SOCK")
check "root's lp job is held for root" grep -q cups-root <<<"$root_list"
check "nobody's lp job is held for nobody (the backend named it in requesting-user-name)" \
  grep -q cups-nobody <<<"$nobody_list"
check "neither sees the other's" bash -c "! grep -q cups-nobody <<<'$root_list' && ! grep -q cups-root <<<'$nobody_list'"
