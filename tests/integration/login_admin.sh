#!/usr/bin/env bash
# Issue 4: `lpm login` through the agent on the whole network (directory, agent, release station,
# accounting on loopback): the login binds the OS account to its directory user (a job printed
# afterwards is theirs, with no <Bind> in configuration.xml); administrative commands reach the
# directory through the agent with the person's session and are checked against their roles
# (an enterprise administrator imports users and badges and reads the log; a user without an
# administrative role is refused; no login is refused); a wrong password is refused; logout ends
# it. Two OS accounts: root and nobody.
set -euo pipefail
BIN=$(cd "${1:?usage: login_admin.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
FIXTURES=$here/../fixtures/seed
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin

[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to act as a second OS account"; exit 0; }
id nobody >/dev/null 2>&1 || fail "the OS account nobody is missing"
chmod 711 "$ROOT"

# Users with passwords come in the way an operator brings the first ones: a CSV import on the
# directory's host; the first administrator's role comes from the platform (RL-15).
net_hook_before_agent() {
  local d=$ROOT/directory
  cat >"$ROOT/first.csv" <<'EOF'
EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT
admin@example.com,CREATE,Admin-Password-1,Ada,Admin,Ada Admin,aadmin,,,,IT
bob@example.com,CREATE,Bob-Password-22,Bob,Builder,Bob B.,bob,,,,Sales
EOF
  "$BIN/lpm-directory" user import --data "$d" --file "$ROOT/first.csv" >"$ROOT/first-import.log"
  "$BIN/lpm-directory" role grant --data "$d" --role enterprise-admin --email admin@example.com >/dev/null
}
net_up "$ROOT" >"$ROOT/up.log"

LPM() { "$BIN/lpm" "$@" --socket "$AGENT_SOCK"; }
as_nobody() { runuser -u nobody -- "$@"; }
NOBODY_LPM() { as_nobody "$BIN/lpm" "$@" --socket "$AGENT_SOCK"; }

# --- not logged in, wrong password -------------------------------------------------------------
out=$(LPM users list 2>&1) && fail "users list worked without a login"
check "an administrative command without a login says to log in" grep -q 'lpm login' <<<"$out"
out=$(printf 'wrong password\n' | LPM login --email admin@example.com --password-stdin 2>&1) && fail "a wrong password was accepted"
check "UA-4: a wrong password is refused" grep -q 'wrong e-mail address or password' <<<"$out"

# --- the enterprise administrator ----------------------------------------------------------------
out=$(printf 'Admin-Password-1\n' | LPM login --email Admin@Example.com --password-stdin)
check "lpm login names the user, the OS account and the roles" \
  grep -q 'logged in as admin@example.com.*as root.*Enterprise Administrator' <<<"$out"
who=$(LPM whoami --json)
check "whoami gives the user and roles" test "$(jq -r .email <<<"$who")" = admin@example.com
listed=$(LPM users list --json)
check "users list (users_read) shows the imported users" test "$(jq -s 'map(.email) | sort | join(",")' -r <<<"$listed")" = "admin@example.com,bob@example.com,jean.dupont@example.com"

out=$(LPM users import "$FIXTURES/users_sample.csv" --password-links)
check "UA-7: the sample imports through the agent; the summary counts each record" \
  grep -q '3 records: 1 applied (1 with warnings), 2 failed' <<<"$out"
import_id=$(awk '/^import /{sub(":", "", $2); print $2; exit}' <<<"$out")
check "the import's id is printed" test -n "$import_id"
shown=$(LPM imports show "$import_id" --json)
check "imports show --json: a summary then one object per record" test "$(jq -s length <<<"$shown")" = 4
out=$(LPM badges import "$FIXTURES/badges_sample.csv")
check "BD-7: badges import through the agent" grep -q '3 records: 1 applied' <<<"$out"
head -c 1048577 /dev/zero | tr '\0' '\n' >"$ROOT/big.csv"
out=$(LPM users import "$ROOT/big.csv" 2>&1) && fail "a file over 1 MB was sent"
check "UA-10: a file over 1 MB is refused before it is sent" grep -q '1,048,576' <<<"$out"
printf 'email,operation\n' >"$ROOT/lower.csv"
out=$(LPM users import "$ROOT/lower.csv" 2>&1) && fail "a wrong header was accepted"
check "UA-8: a wrong header is refused whole, with the expected header" grep -q 'it must be exactly EMAIL,OPERATION' <<<"$out"

# --- a user without an administrative role, on another OS account --------------------------------
out=$(printf 'Bob-Password-22\n' | NOBODY_LPM login --email bob@example.com --password-stdin)
check "nobody logs in as bob" grep -q 'logged in as bob@example.com.*as nobody' <<<"$out"
out=$(NOBODY_LPM users list 2>&1) && fail "bob listed users without a role that allows it"
check "RL-14, TS-1: a user without an administrative role is refused, naming the roles that would do" \
  grep -q 'needs one of these roles' <<<"$out"
out=$(NOBODY_LPM users import "$FIXTURES/users_sample.csv" 2>&1) && fail "bob imported users"
check "a user without users_write cannot import" grep -q 'forbidden' <<<"$out"

# The login binds nobody to bob: a job printed now is bob's, with no <Bind> in configuration.xml.
mkdir -p "$ROOT/docs" && chmod 755 "$ROOT/docs"
printf '%%PDF-1.4 bob document\n' >"$ROOT/docs/bob.pdf" && chmod 644 "$ROOT/docs/bob.pdf"
job=$(NOBODY_LPM print "$ROOT/docs/bob.pdf" --title "Bob notes" | awk '/^job /{print $2}')
check "a job printed after lpm login is stored" test -n "$job"
bob_id=$(sqlite3 "$ROOT/directory/state.db" "SELECT id FROM users WHERE email = 'bob@example.com'")
check "the job belongs to the directory user bob (the login's binding)" \
  grep -q "job $job held for $bob_id" "$ROOT/logs/agent.log"

# --- logout ----------------------------------------------------------------------------------------
LPM logout >/dev/null
out=$(LPM users list 2>&1) && fail "users list worked after logout"
check "after logout the administrative commands ask for a login again" grep -q 'lpm login' <<<"$out"
NOBODY_LPM logout >/dev/null
out=$(NOBODY_LPM print "$ROOT/docs/bob.pdf" 2>&1) && fail "nobody printed after logout"
check "after logout the OS account is no longer bound" grep -q 'not bound to a directory user' <<<"$out"
audited() { test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE action IN ('login', 'logout', 'login-failed')")" -ge 5; }
# The agent forgets a login at once and tells the directory in the background.
check "logins, the failed one and both logouts are in the directory's audit log" wait_for 5 audited

echo "$IT_PASSED checks passed"
