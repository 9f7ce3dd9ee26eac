#!/usr/bin/env bash
# Issue 4: `lpm login` through the agent on the whole network (directory, agent, release station,
# accounting on loopback): the login binds the OS account to its directory user (a job printed
# afterwards is theirs, with no <Bind> in configuration.xml); administrative commands reach the
# directory through the agent with the person's session and are checked against their roles
# (an enterprise administrator imports users and badges and reads the log; a user without an
# administrative role is refused; no login is refused); a wrong password is refused; the
# administrative commands work end to end (users add/show/delete, badges add/find, a role granted
# works at once for the grantee's login and stops on revoke, account groups, the password policy,
# the audit log exported as CSV); a password link handed over by the administrator sets a new
# user's password with no login (UA-4); logout ends it. Two OS accounts: root and nobody.
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

# The accounting server reads the directory's people every second here (default 300 s): reports
# find users by name, and a deleted user's name goes (issue 6).
NET_ACCOUNTING_ARGS="--people-refresh 1"
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

# --- administration through lpm: users, badges, roles, groups, password policy, audit ---------------
bob_lists() { NOBODY_LPM users list >/dev/null 2>&1; }
out=$(printf 'Carol-Password-33\n' | LPM users add --email Carol@Example.com --first-name Carol --department QA --password-stdin)
check "UA-4: users add creates a user with a password" grep -q '^created user carol@example.com (' <<<"$out"
out=$(printf 'short\n' | LPM users add --email weak@example.com --password-stdin 2>&1) && fail "a password the policy refuses was accepted"
check "UA-3: users add checks the password against the policy" grep -q 'the policy asks for at least' <<<"$out"
shown=$(LPM users show carol@example.com --json)
check "UA-5: users show gives the profile" test "$(jq -r '.department + " " + (.has_password | tostring)' <<<"$shown")" = "QA true"
out=$(LPM badges add ' C0FFEE ' --email carol@example.com)
check "BD-2, BD-3: badges add registers a permanent badge, trimmed" \
  grep -q '^badge C0FFEE registered for carol@example.com (permanent)' <<<"$out"
out=$(LPM badges add BEEF01 --email carol@example.com)
check "AMB-13, TS-2: a new permanent badge replaces the stored one and says so" grep -q 'replaces the permanent badge C0FFEE' <<<"$out"
check "BD-6: badges find takes a complete badge id" test "$(LPM badges find beef01 --json | jq -r .email)" = carol@example.com
out=$(LPM badges find carol 2>&1) && fail "a part of an e-mail found a user's badges"
check "TS-4: a part of an e-mail finds nothing" grep -q 'not_found' <<<"$out"

# Roles: bob's login (OS account nobody) gets a right the moment it is granted, loses it on revoke.
out=$(LPM roles grant prm-helpdesk --email bob@example.com)
check "roles grant names the role, the scope and the user" \
  grep -q 'granted Print Release Management Helpdesk at user scope to bob@example.com' <<<"$out"
check "RL-1: the grantee's new role works at once, in the same login" bob_lists
out=$(LPM roles grant enterprise-admin --email bob@example.com 2>&1) && fail "a platform role was granted through lpm"
check "RL-15: the platform roles are refused" grep -q 'RL-15' <<<"$out"
LPM roles revoke prm-helpdesk --email bob@example.com >/dev/null
out=$(NOBODY_LPM users list 2>&1) && fail "bob listed users after the revoke"
check "a revoked role stops working at once, naming the roles that would do" grep -q 'needs one of these roles' <<<"$out"
out=$(NOBODY_LPM roles describe prm-helpdesk)
check "RL-2: anyone signed in reads what a role is for" grep -q 'Print Release Management Helpdesk (prm-helpdesk)' <<<"$out"

# Account groups: a group role reaches the members; deleting the group keeps the users.
out=$(LPM groups create 'QA#Team')
check "GR-2, AMB-8: groups create sanitises the name and says so" \
  grep -q 'created account group "QA_Team" (renamed from "QA#Team"' <<<"$out"
LPM groups add qa_team carol@example.com bob@example.com >/dev/null
check "GR-4: groups list counts the members" \
  test "$(LPM groups list --json | jq -r 'select(.name == "QA_Team") | .members')" = 2
LPM roles grant prm-helpdesk --group QA_Team >/dev/null
check "GR-5: a group's role reaches its members" bob_lists
out=$(LPM groups delete QA_Team)
check "GR-3: groups delete removes the memberships" grep -q 'deleted QA_Team (2 memberships removed)' <<<"$out"
out=$(NOBODY_LPM users list 2>&1) && fail "a deleted group's role still worked"
check "GR-3: the users stay" test "$(LPM users show bob@example.com --json | jq -r .email)" = bob@example.com

# Deleting a user asks first; with --yes it goes, badges and all.
out=$(LPM users delete carol@example.com </dev/null 2>&1) && fail "users delete ran without a confirmation"
check "UA-6: without a terminal users delete needs --yes" grep -q -- '--yes' <<<"$out"
out=$(LPM users delete carol@example.com --yes)
check "UA-6: users delete --yes deletes" grep -q '^deleted carol@example.com$' <<<"$out"
out=$(LPM badges find BEEF01 2>&1) && fail "a deleted user's badge was still found"
check "AMB-6: the deleted user's badges went with them" grep -q 'not_found' <<<"$out"

LPM password-policy set --min-length 14 --complexity 3 --history 5 >/dev/null
check "UA-3: the password policy is saved in one update" test "$(LPM password-policy show --json | jq -r .min_length)" = 14

# The audit log: the administrator's changes with who made them; CSV for spreadsheets.
out=$(LPM audit --all --csv "$ROOT/audit.csv")
check "audit --csv says how many entries it wrote" grep -q "^wrote [0-9]* entries to $ROOT/audit.csv" <<<"$out"
check "AMB-22: the CSV starts with a UTF-8 BOM and the header" \
  test "$(head -c 34 "$ROOT/audit.csv" | od -An -tx1 | tr -d ' \n' | head -c 6)" = efbbbf
check "the export holds the role grant, made by the administrator" grep -q 'admin@example.com,role-grant,' "$ROOT/audit.csv"
check "the export holds the user's deletion" grep -q ',user-delete,' "$ROOT/audit.csv"
out=$(NOBODY_LPM audit 2>&1) && fail "bob read the audit log"
check "a user without audit_read cannot read the audit log" grep -q 'audit-list needs one of these roles' <<<"$out"

# Workstations, enrollment tokens and printers over lpm (RL-11, RL-12).
ws_name=$(LPM workstations list --json | jq -r '.name' | head -1)
check "RL-12: workstations list shows this workstation" test -n "$ws_name"
check "RL-12: the look-up is in the audit log" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE action = 'helpdesk-lookup'")" -ge 1
out=$(LPM workstations bind "$ws_name" bob@example.com)
check "RL-11: workstations bind binds" grep -q "^bound bob@example.com to workstation" <<<"$out"
check "RL-11: the binding is listed" bash -c "'$BIN/lpm' workstations show '$ws_name' --json --socket '$AGENT_SOCK' | jq -e '.bound_users | index(\"bob@example.com (admin)\")' >/dev/null"
out=$(LPM workstations unbind "$ws_name" bob@example.com)
check "RL-11: workstations unbind unbinds" grep -q "^unbound bob@example.com from workstation" <<<"$out"
token=$(LPM tokens create --kind printer)
check "tokens create --kind printer prints a token once" grep -Eq '^[0-9a-f]{32}$' <<<"$token"
out=$(NOBODY_LPM tokens create --kind printer 2>&1) && fail "bob created a printer token"
out=$(LPM tokens list)
check "tokens list shows the token by id, never its text" \
  bash -c "grep -q 'printer' <<<'$out' && ! grep -q '$token' <<<'$out'"
token_id=$(LPM tokens list --json | jq -r 'select(.kind == "printer") | .id' | head -1)
out=$(LPM tokens revoke "$token_id")
check "tokens revoke revokes by id" grep -q "revoked" <<<"$out"
mkdir -p "$ROOT/station2"
"$BIN/lpm-release" init --data "$ROOT/station2" >/dev/null
out=$("$BIN/lpm-release" enroll --data "$ROOT/station2" --directory "127.0.0.1:$DIR_PORT" \
  --directory-fingerprint "$DIR_FP" --token "$token" --name revoked-token 2>&1) &&
  fail "a revoked token enrolled a printer"
check "a revoked token enrolls nothing" grep -q 'revoked' <<<"$out"
out=$(LPM tokens list --all --json)
check "tokens list --all shows the revoked token" \
  test "$(jq -r "select(.id == \"$token_id\") | .revoked_ms > 0" <<<"$out")" = true

# lpm printers enroll prints the command that enrolls a release station; run as printed, it works.
out=$(LPM printers enroll --name "Lobby printer")
check "printers enroll prints the station's command with the directory's address and key" \
  grep -Eq "lpm-release enroll --data DATA_FOLDER --directory 127\.0\.0\.1:[0-9]+ --directory-fingerprint [0-9a-f]{64} --token [0-9a-f]{32} --name 'Lobby printer'" <<<"$out"
command=$(grep -o 'lpm-release enroll .*' <<<"$out" | sed "s|^lpm-release|$BIN/lpm-release|; s|DATA_FOLDER|$ROOT/station2|")
check "the printed command enrolls the station" bash -c "$command | grep -q '^enrolled '"
station2_fp=$("$BIN/lpm-release" init --data "$ROOT/station2" | awk '/^fingerprint/{print $2}')
check "printers list shows the new station" bash -c "'$BIN/lpm' printers list --json --socket '$AGENT_SOCK' | jq -e 'select(.name == \"Lobby printer\")' >/dev/null"
out=$(LPM printers revoke "Lobby printer")
check "printers revoke revokes its key" grep -q 'revoked' <<<"$out"

# The enterprise retention policy (RT-1, RT-2), delivered to agents with register replies.
out=$(NOBODY_LPM retention set --released 2d --unreleased 8h 2>&1) && fail "bob set the retention policy"
check "AMB-19: a user without the PRM administrator's permission cannot set retention" grep -q 'forbidden' <<<"$out"
out=$(LPM retention set --released 2d --unreleased 8h)
check "RT-1, RT-2: retention set saves both durations" grep -q 'unreleased jobs  8h' <<<"$out"
check "RT-1: any signed-in user reads the policy" \
  test "$(NOBODY_LPM retention show --json | jq -r '.released_hours')" = 48
out=$(LPM retention set --released 5h --unreleased 8h 2>&1) && fail "a duration off the list was taken"
check "AMB-19: durations come from the list" grep -q 'not a retention choice' <<<"$out"

# --- an administrator purges a user's jobs on the workstations (PM-6) -----------------------------
printf '%%PDF-1.4 jean document\n' >"$ROOT/docs/jean.pdf"
jean_job=$(LPM print "$ROOT/docs/jean.pdf" --title "Jean notes" | awk '/^job /{print $2}')
check "jean (root's bound user) has a held job" test -n "$jean_job"
"$BIN/lpm-directory" jobs purge --data "$ROOT/directory" --email jean.dupont@example.com >"$ROOT/purge.out"
check "the purge is queued for the workstation" grep -q 'queued for 1 workstation' "$ROOT/purge.out"
# The command rides on the agent's next register reply: a change of its held jobs sends one now.
NOBODY_LPM print "$ROOT/docs/bob.pdf" --title "Bob again" >/dev/null
purged() { grep -q "directory command .*purge-user.*job(s) of user $USER_ID deleted" "$ROOT/logs/agent.log"; }
check "the agent carries out the purge with its next register" wait_for 10 purged
check "jean's job is gone from the workstation" bash -c "! '$BIN/lpm' jobs --socket '$AGENT_SOCK' | grep -q '$jean_job'"
check "bob's jobs stay" bash -c "runuser -u nobody -- '$BIN/lpm' jobs --socket '$AGENT_SOCK' | grep -q 'Bob notes'"
# That register reply also carried the revocation list and the retention policy.
revoked_kept() {
  test "$(sqlite3 "$ROOT/agent/state.db" "SELECT count(*) FROM revoked_keys WHERE fingerprint = '$station2_fp'")" = 1
}
check "the agent keeps the revoked station's key from its register reply" wait_for 10 revoked_kept
check "RT-2: the agent applies the enterprise's retention policy as a ceiling" \
  grep -q 'enterprise retention policy: released jobs 48 h, unreleased 8 h' "$ROOT/logs/agent.log"

# --- a password link: the directory here has no mail command, so the administrator hands it over --
out=$(LPM users add --email dora@example.com)
check "UA-4: users add without a password says the link needs handing over" \
  grep -q 'no mail command: give them a password link with `lpm users password-link --email dora@example.com`' <<<"$out"
dora_link=$(LPM users password-link --email dora@example.com --json | jq -r .link)
check "UA-4: users password-link prints the link when nothing can be mailed" grep -Eq '^[0-9a-f]{64}$' <<<"$dora_link"

# --- usage reports through the agent (issue 6): the login's roles decide what it may see ------------
out=$(LPM report --level enterprise --type summary --last 7 --zone Europe/Paris)
check "RP-3: an enterprise administrator's lpm report reaches the accounting server through the agent ($out)" \
  grep -q '^summary, enterprise, .* (Europe/Paris)$' <<<"$out"
check "RP-9: no data for this selection" grep -q 'no data for this selection' <<<"$out"
out=$(NOBODY_LPM report --last 7 --zone UTC)
check "AMB-20: a user's own report needs no id: the session says whose ($out)" \
  grep -q "^summary, user $bob_id, .* (UTC)\$" <<<"$out"
out=$(NOBODY_LPM report --level enterprise --last 7 2>&1) && fail "bob read the enterprise's report"
check "AMB-20: a user is refused the enterprise level ($out)" grep -q 'administrators' <<<"$out"
out=$(NOBODY_LPM report --level user --entity "$USER_ID" --last 7 2>&1) && fail "bob read jean's report"
check "AMB-20: and another user's usage ($out)" grep -q 'your own usage' <<<"$out"
csv=$(LPM report --level enterprise --type by-printer --from 2026-11-01 --to 2026-11-02 --csv -)
check "AMB-22: the relayed report as CSV starts with the byte-order mark" \
  test "$(head -c 3 <<<"$csv" | od -An -tx1 | tr -d ' ')" = efbbbf
out=$(LPM report --level user --entity "bob b." --last 7)
check "RP-12: an administrator's report finds Bob by his name, in any case ($(head -1 <<<"$out"))" \
  grep -q "^summary, user $bob_id, " <<<"$out"
out=$(NOBODY_LPM report --level user --entity "ada admin" --last 7 2>&1) && fail "bob read a report by another's name"
check "RP-12: a user asking by another's name learns nothing ($out)" \
  bash -c "grep -q 'your own usage' <<<\"\$1\" && ! grep -qi 'admin@example.com' <<<\"\$1\"" _ "$out"
# RP-10: a user deleted in the directory loses their name and e-mail at the accounting server and
# is found by neither; their records (none here; tests/unit/accounting/test_people.cpp) stay.
printf 'Erin-Password-778\n' | LPM users add --email erin@example.com --first-name Erin --last-name Lee \
  --password-stdin >/dev/null
acct_person() { sqlite3 "$ROOT/accounting/state.db" "SELECT name || '|' || email || '|' || (deleted_ms > 0) FROM people WHERE id = '$1'"; }
erin_id=$(sqlite3 "$ROOT/directory/state.db" "SELECT id FROM users WHERE email = 'erin@example.com'")
erin_listed() { [[ $(acct_person "$erin_id") == "Erin Lee|erin@example.com|0" ]]; }
check "the accounting server learns a new user from the directory (list-people)" wait_for 10 erin_listed
out=$(LPM report --level user --entity "erin lee" --last 7)
check "RP-12: and a report finds her by name" grep -q "^summary, user $erin_id, " <<<"$out"
LPM users delete erin@example.com --yes >/dev/null
erin_anonymised() { [[ $(acct_person "$erin_id") == "||1" ]]; }
check "RP-10: once deleted in the directory her name and e-mail are erased at the accounting server" \
  wait_for 10 erin_anonymised
out=$(LPM report --level user --entity erin@example.com --last 7)
check "RP-10: a deleted user is not found by e-mail ($(head -1 <<<"$out"))" \
  grep -q "^summary, user erin@example.com, " <<<"$out"

# --- logout ----------------------------------------------------------------------------------------
LPM logout >/dev/null
out=$(printf 'Dora-Password-4455\n' | LPM password set --link "$dora_link" --password-stdin)
check "UA-4: lpm password set needs no login: the link sets the password" \
  grep -q '^password set for dora@example.com' <<<"$out"
out=$(printf 'Dora-Password-4455\n' | LPM login --email dora@example.com --password-stdin)
check "UA-4: the user logs in with the password the link set" grep -q 'logged in as dora@example.com' <<<"$out"
LPM logout >/dev/null
out=$(printf 'Other-Password-6677\n' | LPM password set --link "$dora_link" --password-stdin 2>&1) &&
  fail "a password link worked twice"
check "UA-4: a password link works once" grep -q 'already used' <<<"$out"
check "UA-4: the link's text is in no audit row" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE detail LIKE '%$dora_link%'")" = 0
out=$(LPM users list 2>&1) && fail "users list worked after logout"
check "after logout the administrative commands ask for a login again" grep -q 'lpm login' <<<"$out"
out=$(LPM report --last 7 2>&1) && fail "lpm report worked after logout"
check "lpm report without a login says to log in" grep -q 'lpm login' <<<"$out"
NOBODY_LPM logout >/dev/null
out=$(NOBODY_LPM print "$ROOT/docs/bob.pdf" 2>&1) && fail "nobody printed after logout"
check "after logout the OS account is no longer bound" grep -q 'not bound to a directory user' <<<"$out"
audited() { test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE action IN ('login', 'logout', 'login-failed')")" -ge 5; }
# The agent forgets a login at once and tells the directory in the background.
check "logins, the failed one and both logouts are in the directory's audit log" wait_for 5 audited

echo "$IT_PASSED checks passed"
