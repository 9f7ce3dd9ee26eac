#!/usr/bin/env bash
# Issue 6, quotas and colour at printers (AMB-17, PM-5, GR-8) end to end with the real directory,
# agents and release station on loopback. Print Management is imported from User Accounts; Jean
# (net_up's user and badge) has a quota of his own of 3 impressions in a print group that allows
# colour, Bob is in a print group without colour, Carol is taken out of Print Management. At a
# station with a file:// device (it applies no settings): Jean's 2-page job prints and his
# 5-page job is refused over quota and stays held, `lpm print-users list` shows the 2 impressions
# used and his next badge-in says 1 impression is left; Bob's colour job is refused (this device
# cannot make it monochrome, and later the enterprise refuses colour) and stays held while his
# monochrome job prints; Carol prints without limits. `lpm print-policy` is shown to any signed-in
# user and set only by a Print Management administrator.
# Each user prints on a workstation of their own (the OS account running the test is bound to
# Jean on net_up's agent, to Bob and to Carol on the two added ones), so no second OS account is
# needed.
set -euo pipefail
BIN=$(cd "${1:?usage: quota_release.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin lpm-quota

JEAN=${DEMO_EMAIL:-jean.dupont@example.com}
net_hook_before_agent() {
  local d=$ROOT/directory
  cat >"$ROOT/people.csv" <<'EOF'
EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT
admin@example.com,CREATE,Admin-Password-1,Ada,Admin,Ada Admin,aadmin,,,,IT
bob@example.com,CREATE,Bob-Password-22,Bob,Builder,Bob B.,bob,,,,Sales
carol@example.com,CREATE,Carol-Password-3,Carol,Clerk,Carol C.,carol,,,,Sales
EOF
  "$BIN/lpm-directory" user import --data "$d" --file "$ROOT/people.csv" >"$ROOT/logs/people-import.log"
  "$BIN/lpm-directory" role grant --data "$d" --role prm-admin --email admin@example.com >/dev/null
  "$BIN/lpm-directory" badge add --data "$d" --badge B0B0B0 --email bob@example.com >/dev/null
  "$BIN/lpm-directory" badge add --data "$d" --badge CA201C --email carol@example.com >/dev/null
  BOB_ID=$(sqlite3 "$d/state.db" "SELECT id FROM users WHERE email = 'bob@example.com'")
  CAROL_ID=$(sqlite3 "$d/state.db" "SELECT id FROM users WHERE email = 'carol@example.com'")
}
net_up "$ROOT" >"$ROOT/up.log"
[[ -n ${BOB_ID:-} && -n ${CAROL_ID:-} ]] || fail "bob and carol were not created"
# One more workstation each for Bob and Carol: its configuration binds this OS account to them
# (net_agent_config binds it to USER_ID, set for the one call only).
USER_ID=$BOB_ID net_add_agent ws-bob 127.0.0.1 127.0.0.1
BOB_SOCK=$XA_SOCK
USER_ID=$CAROL_ID net_add_agent ws-carol 127.0.0.1 127.0.0.1
CAROL_SOCK=$XA_SOCK

LPM() { "$BIN/lpm" "$@" --socket "$AGENT_SOCK"; } # the administrator signs in here (jobs stay Jean's)
AS_BOB() { "$BIN/lpm" "$@" --socket "$BOB_SOCK"; }
printf 'Admin-Password-1\n' | LPM login --email admin@example.com --password-stdin >/dev/null
printf 'Bob-Password-22\n' | AS_BOB login --email bob@example.com --password-stdin >/dev/null

# --- Print Management: groups, quotas, colour -----------------------------------------------------
out=$(LPM print-users sync --yes)
check "PM-3: Import from User Accounts brings in the four users holding PRM User" \
  grep -q 'now 4 Print Management users' <<<"$out"
LPM print-users remove carol@example.com >/dev/null
LPM print-groups create Colour --quota 100 --color >/dev/null
LPM print-groups create Mono --quota 50 >/dev/null
out=$(LPM print-groups update Colour --add "$JEAN")
check "GR-8: Jean joins a print group that allows colour (quota 100)" \
  grep -q '^updated print group "Colour": quota 100, colour allowed, 1 members*$' <<<"$out"
LPM print-users set bob@example.com --group Mono >/dev/null
LPM print-users set "$JEAN" --quota 3 >/dev/null
listed=$(LPM print-users list --json)
field() { jq -r --arg e "$1" "select(.email == \$e) | $2" <<<"$listed"; }
check "PM-5, AMB-17: Jean's own quota (3) overrides his group's (100), colour allowed, nothing used" \
  test "$(field "$JEAN" '"\(.quota) \(.group_quota) \(.color_allowed) \(.used)"')" = "3 100 true 0"
check "PM-5, AMB-17: Bob has his group's quota and no colour" \
  test "$(field bob@example.com '"\(.quota) \(.group_quota) \(.color_allowed)"')" = "null 50 false"
check "AMB-17: Carol is not in Print Management" test -z "$(field carol@example.com .email)"

# --- documents: PostScript whose DSC comments give the page count --------------------------------
mkdir -p "$ROOT/docs"
ps_doc() { # ps_doc FILE PAGES
  local i
  {
    printf '%%!PS-Adobe-3.0\n%%%%Pages: %d\n%%%%EndComments\n' "$2"
    for ((i = 1; i <= $2; i++)); do printf '%%%%Page: %d %d\nshowpage\n' "$i" "$i"; done
    printf '%%%%EOF\n'
  } >"$1"
}
# submit SOCKET TITLE PAGES [lpm print options...]: prints the job id.
submit() {
  local sock=$1 title=$2 pages=$3
  shift 3
  ps_doc "$ROOT/docs/$title.ps" "$pages"
  "$BIN/lpm" print "$ROOT/docs/$title.ps" --socket "$sock" --title "$title" "$@" | awk '/^job /{print $2}'
}
state_of() { "$BIN/lpm" jobs --json --socket "$1" | jq -r --arg j "$2" 'select(.id == $j) | .state'; }
at_device() { [[ -n $(ls "$DEVICE_DIR/$1".* 2>/dev/null) ]]; }
lacks() { ! grep -q "$1" <<<"$2"; } # lacks PATTERN TEXT
used_of() { LPM print-users list --json | jq -r --arg e "$1" 'select(.email == $e) | .used'; }

# --- 1. Jean: 3 impressions left; a 2-page job prints, a 5-page job is refused ------------------------
jean2=$(submit "$AGENT_SOCK" jean-2p 2)
jean5=$(submit "$AGENT_SOCK" jean-5p 5)
check "Jean's two jobs are held, counted 2 and 5 pages" \
  test "$(LPM jobs --json | jq -r 'select(.state == "held") | "\(.title)=\(.pages)"' | sort | tr '\n' ' ')" = "jean-2p=2 jean-5p=5 "
net_release "$BADGE"
echo "$STEP_OUT" >"$ROOT/logs/release-jean-1.txt"
check "AMB-17: at badge-in the station tells Jean his quota (3 impressions left)" \
  grep -q '^quota for Jean Dupont: 3 impressions left this month$' <<<"$STEP_OUT"
check "PM-5, AMB-17: the 5-page job is refused over quota" \
  grep -q '^refused "jean-5p" from .*: over quota: Jean Dupont may print [13] impressions* more this month and this job needs 5 impressions$' <<<"$STEP_OUT"
check "AMB-17: the 2-page job is not refused" lacks '^refused "jean-2p"' "$STEP_OUT"
check "AMB-17: the workstation's summary counts the refused job" \
  grep -q '^workstation .*: 1 of 2 job(s) released (1 refused) via ' <<<"$STEP_OUT"
check "the station reports one released job for Jean" grep -q '^released 1 job(s) for Jean Dupont' <<<"$STEP_OUT"
check "the 2-page job is at the device" at_device "$jean2"
check "AMB-17: the refused job is not at the device" test -z "$(ls "$DEVICE_DIR/$jean5".* 2>/dev/null)"
check "AMB-17: the 2-page job is printed, the refused 5-page job stays held on the workstation" \
  test "$(state_of "$AGENT_SOCK" "$jean2") $(state_of "$AGENT_SOCK" "$jean5")" = "printed held"
wait_for 5 test "$(used_of "$JEAN")" = 2 || true
check "PM-5, AMB-17: print-users list shows the 2 impressions charged to Jean this month (settle-quota)" \
  test "$(used_of "$JEAN")" = 2
check "AMB-17: the table's USED column says 2 for Jean" \
  grep -Eq "^$JEAN .* 3 +2 +yes *\$" <(LPM print-users list)

net_release "$BADGE"
echo "$STEP_OUT" >"$ROOT/logs/release-jean-2.txt"
check "AMB-17: the next badge-in says 1 impression is left (the first reservation was given back)" \
  grep -q '^quota for Jean Dupont: 1 impression left this month$' <<<"$STEP_OUT"
check "AMB-17: the held 5-page job is refused again, over quota (1 impression left, 5 needed)" \
  grep -q '^refused "jean-5p" from .*: over quota: Jean Dupont may print 1 impression more this month and this job needs 5 impressions$' <<<"$STEP_OUT"
check "AMB-17: nothing was printed, and the 5-page job is still held" \
  test "$(grep -c '^released 0 job(s) for Jean Dupont' <<<"$STEP_OUT") $(state_of "$AGENT_SOCK" "$jean5")" = "1 held"
check "AMB-17: a refused job costs nothing: Jean has still used 2" test "$(used_of "$JEAN")" = 2

# --- 2. Bob: his print group does not allow colour ---------------------------------------------------
bob_colour=$(submit "$BOB_SOCK" bob-colour 1)
bob_mono=$(submit "$BOB_SOCK" bob-mono 1 --color monochrome)
check "Bob's colour and monochrome jobs are held as such" \
  test "$(AS_BOB jobs --json | jq -r '"\(.title)=\(.color)"' | sort | tr '\n' ' ')" = "bob-colour=color bob-mono=monochrome "
net_release B0B0B0
echo "$STEP_OUT" >"$ROOT/logs/release-bob-1.txt"
check "AMB-17: Bob is told his quota and that colour jobs are refused (a file device applies no settings)" \
  grep -q '^quota for Bob B\.: 50 impressions left this month; colour jobs are refused$' <<<"$STEP_OUT"
check "PM-5, AMB-17: Bob's colour job is refused: the device cannot print it in monochrome" \
  grep -q '^refused "bob-colour" from ws-bob: colour printing is not allowed for Bob B\. (print group) and this device cannot print it in monochrome$' <<<"$STEP_OUT"
check "AMB-17: Bob's monochrome job prints" grep -q '^workstation ws-bob: 1 of 2 job(s) released (1 refused) via ' <<<"$STEP_OUT"
check "AMB-17: the monochrome job is at the device, the colour one is not" \
  test "$(at_device "$bob_mono" && echo yes)/$(at_device "$bob_colour" && echo yes)" = "yes/"
check "AMB-17: the colour job stays held on Bob's workstation" \
  test "$(state_of "$BOB_SOCK" "$bob_mono") $(state_of "$BOB_SOCK" "$bob_colour")" = "printed held"
wait_for 5 test "$(used_of bob@example.com)" = 1 || true
check "PM-5: Bob's monochrome page is charged to him" test "$(used_of bob@example.com)" = 1

# --- 3. the enterprise's colour rule: print-policy ----------------------------------------------------
out=$(AS_BOB print-policy show)
check "AMB-17: print-policy show works for a plain signed-in user (defaults: UTC, mono)" \
  test "$out" = $'quota-zone UTC\ncolor-denied mono'
out=$(AS_BOB print-policy set --color-denied refuse 2>&1) && fail "AMB-17: a plain user changed the print policy"
check "AMB-17: print-policy set by a plain user is refused as forbidden ($out)" grep -qi 'forbidden' <<<"$out"
check "AMB-17: the refused change changed nothing" \
  test "$(AS_BOB print-policy show --json | jq -r .color_denied)" = mono
out=$(LPM print-policy set --color-denied refuse)
check "AMB-17: the Print Management administrator sets color-denied refuse" grep -q '^color-denied refuse$' <<<"$out"
check "AMB-17: print-policy show says color-denied refuse" grep -q '^color-denied refuse$' <(AS_BOB print-policy show)
net_release B0B0B0
echo "$STEP_OUT" >"$ROOT/logs/release-bob-2.txt"
check "AMB-17: with color-denied refuse Bob's colour job is refused by the enterprise's rule" \
  grep -q '^refused "bob-colour" from ws-bob: colour printing is not allowed for Bob B\. (print group) and this enterprise refuses colour jobs then: print it in monochrome$' <<<"$STEP_OUT"
check "AMB-17: and it is still held" test "$(state_of "$BOB_SOCK" "$bob_colour")" = held

# --- 4. Carol is not in Print Management: no limits ----------------------------------------------------
carol=$(submit "$CAROL_SOCK" carol-10p 10)
net_release CA201C
echo "$STEP_OUT" >"$ROOT/logs/release-carol.txt"
check "AMB-17: a user not in Print Management gets no quota line" lacks '^quota for' "$STEP_OUT"
check "AMB-17: and her 10-page colour job prints" grep -q '^released 1 job(s) for Carol C\.' <<<"$STEP_OUT"
check "Carol's job is at the device" at_device "$carol"

# --- 5. what a user sees at their desk: lpm quota ------------------------------------------------------
out=$(AS_BOB quota)
check "AMB-17: lpm quota tells Bob what is left this month and why colour is refused" \
  test "$out" = "bob@example.com: 49 of 50 impressions left in $(date -u +%Y-%m) (UTC): 1 used
quota: 50 impressions a month (print group \"Mono\")
colour: not allowed (print group): colour jobs are refused"
check "AMB-17: lpm quota --for needs a role that reads users" \
  grep -q 'forbidden' <(AS_BOB quota --for "$JEAN" 2>&1 || true)
check "AMB-17: the administrator sees Jean's: 1 left, 2 used" \
  test "$(LPM quota --for "$JEAN" --json | jq -r '"\(.left) \(.used) \(.own_quota)"')" = "1 2 true"

# --- 6. a station killed after printing, before it settled: the charge comes at its next start --------
jean1=$(submit "$AGENT_SOCK" jean-1p 1)
net_wait_registered
set +e
printf '%s\n' "$BADGE" | LPM_FAULT=station.before_report:1 "$BIN/lpm-release" run --data "$ROOT/printer" \
  --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" \
  --name "Printer 2nd floor" >"$ROOT/logs/crash.out" 2>"$ROOT/logs/crash.log"
rc=$?
set -e
check "the station died at the fault point, after the device took Jean's 1-page job (exit 86)" \
  test "$rc/$(at_device "$jean1" && echo yes)" = "86/yes"
check "AMB-17: its quota charge was journaled with the outcome" \
  test "$(sqlite3 "$ROOT/printer/state.db" 'SELECT count(*) FROM settles')" -eq 1
printf '' | "$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" \
  --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" --name "Printer 2nd floor" \
  >"$ROOT/logs/restart.out" 2>"$ROOT/logs/restart.log"
check "AMB-17: at its next start the station settles it: Jean has used 3, once" test "$(used_of "$JEAN")" = 3
check "AMB-17: and forgets the charge" test "$(sqlite3 "$ROOT/printer/state.db" 'SELECT count(*) FROM settles')" -eq 0
check "the job is printed on Jean's workstation (late report)" test "$(state_of "$AGENT_SOCK" "$jean1")" = printed

# --- 7. accounting: every printed job counted with the counts the station signed ---------------------
wait_for 10 test "$(grep -c 'post-records from .* [1-9][0-9]* stored' "$ROOT/logs/accounting.log")" -ge 4 || true
check "the accounting server stored the four printed jobs" \
  test "$(grep -o 'post-records from .* \([0-9]*\) stored' "$ROOT/logs/accounting.log" | awk '{s += $(NF - 1)} END {print s}')" = 4
# The signed counts are checked behind ingest (issue 6): the records say "pending" until then.
no_pending() { ! "$BIN/lpm-accounting" report --data "$ROOT/accounting" | grep -q '^# printed records by counts check:.*pending'; }
wait_for 10 no_pending || true
check "a monochrome job's estimated counts are the signed ones (none unsigned or invalid)" \
  grep -q '^# printed records by counts check: estimated 4$' <<<"$("$BIN/lpm-accounting" report --data "$ROOT/accounting")"

echo "$IT_PASSED checks passed"
