#!/usr/bin/env bash
# Issue 4, the directory's badge side end to end (directory, agent, release station, lpm on
# loopback): an administrator makes bob a delegate of jean and bob's badge releases jean's job
# (PM-7); an unknown badge is refused as one its holder may register; with the PIN policy
# required the station gets no ticket for the badge alone; `lpm pin set`, `lpm badges policy`,
# `lpm delegates list` and `lpm users set-federated` work through the agent and are audited.
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

out=$(LPM badges policy set --pin required)
check "badges policy set --pin required" grep -q '^pin: required$' <<<"$out"
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
check "with a PIN set, the directory asks for it and the station releases nothing without it" \
  grep -q 'badge ADM1N1: the directory asks for a PIN after this badge' <<<"$STEP_OUT"
out=$(LPM pin clear --for admin@example.com --json)
check "lpm pin clear --json says it changed" test "$(jq -r .changed <<<"$out")" = true
LPM badges policy set --pin off >/dev/null

out=$(LPM users set-federated bob@example.com)
check "BD-5: users set-federated marks bob" grep -q '^bob@example.com is federated$' <<<"$out"
check "BD-5: the directory keeps the flag" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT federated FROM users WHERE email = 'bob@example.com'")" = 1
check "the delegation, the policy, the PIN and the flag are audited" \
  test "$(audited delegate-add)$(audited badge-policy-set)$(audited pin-set)$(audited user-federated)" = 1211

echo "$IT_PASSED checks passed"
