#!/usr/bin/env bash
# Issue 5, "tests with real peers", delegation (PM-7) with three people on one workstation:
# jean (OS account root, the badge net_up registers), bob (nobody) and carol (daemon). Bob signs in
# with `lpm login` and makes jean his delegate himself (`lpm delegates add`): jean's badge then
# releases jean's job and bob's, carol's badge never releases bob's; after bob's
# `lpm delegates remove` jean's badge releases only jean's jobs and bob's stay held until bob
# badges in himself.
set -euo pipefail
BIN=$(cd "${1:?usage: release_delegation.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin lpm-delegation
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to act as the OS accounts nobody and daemon"; exit 0; }
{ id nobody && id daemon; } >/dev/null 2>&1 || fail "the OS accounts nobody and daemon are needed"
chmod 711 "$ROOT" # the other accounts reach the control socket and their documents

net_hook_before_agent() {
  local d=$ROOT/directory
  cat >"$ROOT/people.csv" <<'EOF'
EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT
bob@example.com,CREATE,Bob-Password-22,Bob,Builder,Bob B.,bob,,,,Sales
carol@example.com,CREATE,Carol-Password-3,Carol,Clerk,Carol C.,carol,,,,Sales
EOF
  "$BIN/lpm-directory" user import --data "$d" --file "$ROOT/people.csv" >"$ROOT/logs/people-import.log"
  "$BIN/lpm-directory" badge add --data "$d" --badge B0B0B0 --email bob@example.com >/dev/null
  "$BIN/lpm-directory" badge add --data "$d" --badge CA201C --email carol@example.com >/dev/null
  BOB_ID=$(sqlite3 "$d/state.db" "SELECT id FROM users WHERE email = 'bob@example.com'")
  CAROL_ID=$(sqlite3 "$d/state.db" "SELECT id FROM users WHERE email = 'carol@example.com'")
  NET_EXTRA_BINDS="<Bind account=\"nobody\" user=\"$BOB_ID\"/><Bind account=\"daemon\" user=\"$CAROL_ID\"/>"
}
net_up "$ROOT" >"$ROOT/up.log"
[[ -n ${BOB_ID:-} && -n ${CAROL_ID:-} ]] || fail "bob and carol were not created"

mkdir -p "$ROOT/docs"
chmod 755 "$ROOT/docs"
# print_as ACCOUNT NAME: a job of that account's user; prints its id.
print_as() {
  local account=$1 name=$2 runner=()
  [[ $account == root ]] || runner=(runuser -u "$account" --)
  printf '%s document %s\n' "$account" "$name" >"$ROOT/docs/$name.txt"
  chmod 644 "$ROOT/docs/$name.txt"
  "${runner[@]}" "$BIN/lpm" print "$ROOT/docs/$name.txt" --socket "$AGENT_SOCK" --title "$name" |
    awk '/^job /{print $2}'
}
at_device() { [[ -n $(ls "$DEVICE_DIR/$1".* 2>/dev/null) ]]; }
state_of() { # state_of ACCOUNT JOB: the job's state as its owner's `lpm jobs` shows it
  local runner=()
  [[ $1 == root ]] || runner=(runuser -u "$1" --)
  "${runner[@]}" "$BIN/lpm" jobs --socket "$AGENT_SOCK" | awk -v j="$2" '$0 ~ j { for (i = 1; i <= NF; i++) if ($i == "held" || $i == "printed") { print $i; exit } }'
}
as_bob() { runuser -u nobody -- "$BIN/lpm" "$@" --socket "$AGENT_SOCK"; }

jean1=$(print_as root jean-1)
bob1=$(print_as nobody bob-1)
bob2=$(print_as nobody bob-2)
carol1=$(print_as daemon carol-1)
check "jean, bob and carol each hold jobs" test -n "$jean1" -a -n "$bob1" -a -n "$bob2" -a -n "$carol1"

net_release CA201C
check "without any delegation carol's badge releases only carol's job" \
  grep -q '^released 1 job(s) for Carol C\.' <<<"$STEP_OUT"
check "carol's job is at the device" at_device "$carol1"
check "bob's jobs are not" bash -c "! ls '$DEVICE_DIR'/$bob1.* '$DEVICE_DIR'/$bob2.* 2>/dev/null"

# Bob, signed in on this workstation, lets jean release his jobs.
printf 'Bob-Password-22\n' | as_bob login --email bob@example.com --password-stdin >/dev/null
out=$(as_bob delegates add jean.dupont@example.com)
check "PM-7: bob makes jean his delegate" \
  grep -q '^jean.dupont@example.com may release the jobs of bob@example.com$' <<<"$out"

net_release CA201C
check "carol's badge still releases none of bob's jobs" grep -q '^released 0 job(s) for Carol C\.' <<<"$STEP_OUT"
check "bob's jobs are still held" test "$(state_of nobody "$bob1")$(state_of nobody "$bob2")" = heldheld

net_release "$BADGE"
check "PM-7: jean's badge releases jean's job and bob's two" grep -q '^released 3 job(s) for Jean Dupont' <<<"$STEP_OUT"
for job in "$jean1" "$bob1" "$bob2"; do
  check "job $job is at the device" at_device "$job"
done
check "bob's jobs are printed (bob's own view)" test "$(state_of nobody "$bob1")$(state_of nobody "$bob2")" = printedprinted

# Bob takes it back.
out=$(as_bob delegates remove jean.dupont@example.com)
check "bob removes jean as his delegate" grep -q 'jean.dupont@example.com' <<<"$out"
jean2=$(print_as root jean-2)
bob3=$(print_as nobody bob-3)
net_release "$BADGE"
check "after delegates remove, jean's badge releases only jean's job" \
  grep -q '^released 1 job(s) for Jean Dupont' <<<"$STEP_OUT"
check "jean's new job is at the device" at_device "$jean2"
check "bob's new job is not, and stays held" \
  test "$(at_device "$bob3" && echo at-device || state_of nobody "$bob3")" = held
net_release CA201C
check "carol's badge releases none of bob's jobs either" grep -q '^released 0 job(s) for Carol C\.' <<<"$STEP_OUT"
net_release B0B0B0
check "bob's own badge releases his held job" grep -q '^released 1 job(s) for Bob B\.' <<<"$STEP_OUT"
check "bob's job is at the device" at_device "$bob3"
check "the device holds the six documents, each once" test "$(find "$DEVICE_DIR" -type f | wc -l)" -eq 6

echo "$IT_PASSED passed, 0 failed"
