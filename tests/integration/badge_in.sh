#!/usr/bin/env bash
# Issue 4, the directory's badge side end to end (directory, agent, release station, lpm on
# loopback): an administrator makes bob a delegate of jean and bob's badge releases jean's job
# (PM-7); an unknown badge is refused as one its holder may register; with the PIN policy
# required the station gets no ticket for the badge alone; `lpm pin set`, `lpm badges policy`,
# `lpm delegates list` and `lpm users set-federated` work through the agent and are audited.
# Issue 5, the station's prompts: badge + PIN releases (a wrong PIN asked again, an empty line
# cancels); an unknown badge is registered by the user who signs in at the printer and releases
# at once, replacing their old badge id (BD-1, TS-2); a federated user's is refused (BD-5).
set -euo pipefail
BIN=$(cd "${1:?usage: badge_in.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin

# An administrator and bob, with passwords; the administrator's role comes from the platform.
net_hook_before_agent() {
  local d=$ROOT/directory
  cat >"$ROOT/first.csv" <<'EOF'
EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT
admin@example.com,CREATE,Admin-Password-1,Ada,Admin,Ada Admin,aadmin,,,,IT
bob@example.com,CREATE,Bob-Password-22,Bob,Builder,Bob B.,bob,,,,Sales
EOF
  "$BIN/lpm-directory" user import --data "$d" --file "$ROOT/first.csv" >"$ROOT/first-import.log"
  "$BIN/lpm-directory" role grant --data "$d" --role enterprise-admin --email admin@example.com >/dev/null
  "$BIN/lpm-directory" badge add --data "$d" --badge B0B0B0 --email bob@example.com >/dev/null
}
net_up "$ROOT" >"$ROOT/up.log"
LPM() { "$BIN/lpm" "$@" --socket "$AGENT_SOCK"; }
audited() { sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE action = '$1'"; }

# jean (the OS account's bound user) holds a job before anyone logs in.
mkdir -p "$ROOT/docs"
printf '%%PDF-1.4 jean document\n' >"$ROOT/docs/jean.pdf"
job=$(LPM print "$ROOT/docs/jean.pdf" --title "Jean notes" | awk '/^job /{print $2}')
check "jean has a held job" test -n "$job"

net_release B0B0B0
check "before any delegation bob's badge releases nothing" grep -q 'released 0 job' <<<"$STEP_OUT"

printf 'Admin-Password-1\n' | LPM login --email admin@example.com --password-stdin >/dev/null
out=$(LPM delegates add bob@example.com --for jean.dupont@example.com)
check "PM-7: an administrator makes bob a delegate of jean" \
  grep -q '^bob@example.com may release the jobs of jean.dupont@example.com$' <<<"$out"
listed=$(LPM delegates list --for jean.dupont@example.com --json)
check "PM-7: delegates list --json names bob as jean's delegate" \
  test "$(jq -r 'select(.relation == "delegate") | .email' <<<"$listed")" = bob@example.com
net_release B0B0B0
check "PM-7: bob's badge releases jean's job" grep -q 'released 1 job(s) for Bob B.' <<<"$STEP_OUT"
check "jean's job reached the device" bash -c "ls '$DEVICE_DIR'/$job.* >/dev/null"
check "PM-7: the badge-in is audited with its delegator" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE action = 'badge-in' AND detail LIKE '%delegators 1%'")" -ge 1

net_release UNKNOWN-77
check "BD-1: the station sees an unknown badge (not_found: the one answer it may offer registration on)" \
  grep -q 'badge UNKNOWN-77: unknown badge' <<<"$STEP_OUT"

# Issue 8: release without the directory is off by default, and a PIN cannot go with it.
check "release without the directory is off by default" \
  grep -q '^release without the directory: off$' <<<"$(LPM badges policy show)"
out=$(LPM badges policy set --offline-hours 4)
check "issue 8: badges policy set --offline-hours 4" \
  grep -q '^release without the directory: on (printer certificates last 4 h)$' <<<"$out"
out=$(LPM badges policy set --pin required 2>&1) && fail "a PIN was required with release without the directory on"
check "issue 8: a PIN policy is refused while release without the directory is on, saying why" \
  grep -q 'cannot be checked without the directory' <<<"$out"
out=$(LPM badges policy set --offline-hours 25 2>&1) && fail "--offline-hours 25 was taken"
check "issue 8: --offline-hours takes 0 to 24" grep -q 'offline-hours' <<<"$out"
out=$(LPM badges policy set --offline-hours 0 --pin required)
check "badges policy set --pin required (with --offline-hours 0)" grep -q '^pin: required$' <<<"$out"
check "badges policy show --json" test "$(LPM badges policy show --json | jq -r .pin)" = required
net_release "$BADGE"
check "with the PIN policy required, the badge alone gets no ticket: jean has no PIN" \
  grep -q "badge $BADGE: forbidden: .*lpm pin set" <<<"$STEP_OUT"
out=$(printf '12\n' | LPM pin set --pin-stdin 2>&1) && fail "a two-digit PIN was taken"
check "a PIN has 4 to 12 digits" grep -q '4 to 12 digits' <<<"$out"
out=$(printf '2468\n' | LPM pin set --pin-stdin)
check "lpm pin set sets the caller's own PIN" grep -q '^PIN set for admin@example.com$' <<<"$out"
LPM badges add ADM1N1 --email admin@example.com >/dev/null
net_release ADM1N1
check "with a PIN set, the station asks for it and releases nothing without it (input ended)" \
  grep -q 'badge ADM1N1: cancelled (end of input)' <<<"$STEP_OUT"
check "issue 5: the station's PIN prompt" grep -q '^PIN for badge ADM1N1 (empty line to cancel):$' <<<"$STEP_OUT"
# A badge line, then what the person types at the prompts (net_release prints its argument as is).
net_release $'ADM1N1\n1357\n2468'
check "issue 5: a wrong PIN is said and asked again" grep -q '^badge ADM1N1: unauthenticated: wrong PIN$' <<<"$STEP_OUT"
check "issue 5: badge + PIN releases" grep -q '^released 0 job(s) for Ada Admin in ' <<<"$STEP_OUT"
check "issue 5: the PIN is never shown or logged" \
  bash -c "! grep -q -e 2468 -e 1357 <<<\"\$1\" && ! grep -q -e 2468 -e 1357 \"\$2\"" _ "$STEP_OUT" "$ROOT/logs/release.log"
check "issue 5: the release with the PIN is audited as such" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE action = 'badge-in' AND detail LIKE '%(with PIN)%'")" -ge 1
net_release $'ADM1N1\n\nB0B0B0'
check "issue 5: an empty line cancels the PIN prompt; the next line is a badge" \
  grep -q '^badge ADM1N1: cancelled$' <<<"$STEP_OUT"
out=$(LPM pin clear --for admin@example.com --json)
check "lpm pin clear --json says it changed" test "$(jq -r .changed <<<"$out")" = true
LPM badges policy set --pin off >/dev/null

# BD-1, TS-2: bob's card now reads as another id; unknown, he signs in at the printer (a wrong
# password first), it becomes his badge, replacing the old one, and jean's new job (bob is her
# delegate) is released at once.
job2=$(LPM print "$ROOT/docs/jean.pdf" --title "Jean notes 2" | awk '/^job /{print $2}')
net_release $'B0B0B1\nbob@example.com\nnot-his-password\nbob@example.com\nBob-Password-22'
check "BD-1: an unknown badge is offered self-registration" \
  grep -q '^badge B0B0B1: unknown badge: sign in to register it (empty line to cancel)$' <<<"$STEP_OUT"
check "BD-1: a wrong password is said and the sign-in asked again" \
  grep -q '^badge B0B0B1: unauthenticated: wrong e-mail address or password$' <<<"$STEP_OUT"
check "BD-1 TS-2: the badge is registered to bob" grep -q '^badge B0B0B1 registered to Bob B.$' <<<"$STEP_OUT"
check "BD-1: the registration releases at once" grep -q '^released 1 job(s) for Bob B. in ' <<<"$STEP_OUT"
check "BD-1: jean's second job reached the device" bash -c "ls '$DEVICE_DIR'/$job2.* >/dev/null"
check "BD-1: the password is never shown or logged" \
  bash -c "! grep -q Bob-Password-22 <<<\"\$1\" && ! grep -q Bob-Password-22 \"\$2\"" _ "$STEP_OUT" "$ROOT/logs/release.log"
net_release B0B0B0
check "TS-2: bob's old badge id is unknown now" grep -q '^badge B0B0B0: unknown badge' <<<"$STEP_OUT"
net_release B0B0B1
check "TS-2: the new id releases without prompts" grep -q '^released 0 job(s) for Bob B. in ' <<<"$STEP_OUT"
check "BD-1: the self-registration is audited" test "$(audited badge-register)" = 1

out=$(LPM users set-federated bob@example.com)
check "BD-5: users set-federated marks bob" grep -q '^bob@example.com is federated$' <<<"$out"
check "BD-5: the directory keeps the flag" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT federated FROM users WHERE email = 'bob@example.com'")" = 1
net_release $'B0B0B2\nbob@example.com\nBob-Password-22'
check "BD-5: a federated user's self-registration is refused with the directory's message" \
  grep -q '^badge B0B0B2: forbidden: .*corporate directory' <<<"$STEP_OUT"
check "BD-5: the refused badge stays unknown, the registered one stays" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM badges WHERE badge IN ('B0B0B1', 'B0B0B2')")" = 1
check "the delegation, the three policy changes, the PIN and the flag are audited" \
  test "$(audited delegate-add)$(audited badge-policy-set)$(audited pin-set)$(audited user-federated)" = 1311

echo "$IT_PASSED checks passed"
