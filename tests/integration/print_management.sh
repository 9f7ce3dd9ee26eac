#!/usr/bin/env bash
# Issue 4: Print Management end to end through `lpm`, the agent and a real directory on loopback.
# A Print Release Management Administrator logs in; Print Management's user list starts empty
# and its users cannot be managed before they are imported (PM-2); Import from User Accounts asks
# for confirmation (PM-3) and reports both counts (AMB-18); print groups are created with quotas
# and colour, edited as one change with a member moving from another group (GR-8, AMB-17), and
# deleted while staying listed with --all (GR-9); the CSV import sets groups and quotas from the
# sample `lpm print-users import --sample` prints (PM-4, AMB-16) and refuses a deleted group
# (TS-11); a user losing the print role leaves at the next import from User Accounts (TS-16).
set -euo pipefail
BIN=$(cd "${1:?usage: print_management.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin

# The users come from a CSV import on the directory's host; only the sample's three users hold
# Print Release Management User (net_up's enterprise-wide grant is taken back).
net_hook_before_agent() {
  local d=$ROOT/directory
  cat >"$ROOT/first.csv" <<'EOF'
EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT
admin@example.com,CREATE,Admin-Password-1,Ada,Admin,Ada Admin,aadmin,,,,IT
jdoe@company.com,CREATE,Jdoe-Password-1,John,Doe,Johnny,jdoe,,,,
llane@company.com,CREATE,Llane-Password-1,Lois,Lane,Lois,llane,,,,
ckent@company.com,CREATE,Ckent-Password-1,Clark,Kent,Clark,ckent,,,,
outsider@example.com,CREATE,Outsider-Password-1,Out,Sider,,,,,,
EOF
  "$BIN/lpm-directory" user import --data "$d" --file "$ROOT/first.csv" >"$ROOT/first-import.log"
  "$BIN/lpm-directory" role revoke --data "$d" --role prm-user --scope enterprise >/dev/null
  "$BIN/lpm-directory" role grant --data "$d" --role prm-admin --email admin@example.com >/dev/null
  local u
  for u in jdoe llane ckent; do
    "$BIN/lpm-directory" role grant --data "$d" --role prm-user --email "$u@company.com" >/dev/null
  done
}
net_up "$ROOT" >"$ROOT/up.log"

LPM() { "$BIN/lpm" "$@" --socket "$AGENT_SOCK"; }
printf 'Admin-Password-1\n' | LPM login --email admin@example.com --password-stdin >/dev/null

# --- PM-2: the list starts empty; nobody can be managed before the import ----------------------------
out=$(LPM print-users list)
check "PM-2: Print Management's own list starts empty and says how users come in" \
  grep -q '^no Print Management users: `lpm print-users sync`' <<<"$out"
check "AMB-18: the list shows both counts (6 users in User Accounts)" \
  grep -q '^0 Print Management users of 6 users in User Accounts$' <<<"$out"
out=$(LPM print-groups create 'Group 1' --quota 300 --color)
check "GR-7: print-groups create with a quota and colour" \
  grep -q '^created print group "Group 1": quota 300, colour allowed, 0 members$' <<<"$out"
out=$(LPM print-users set jdoe@company.com --group 'Group 1' 2>&1) && fail "a user not imported was managed"
check "PM-2, TS-15: a user not imported yet cannot be managed, and the error says how to import" \
  grep -q 'failed jdoe@company.com: jdoe@company.com is not a Print Management user: users come in with Import from User Accounts' <<<"$out"

# --- PM-3: Import from User Accounts ----------------------------------------------------------------
out=$(LPM print-users sync </dev/null 2>&1) && fail "import from User Accounts ran without a confirmation"
check "PM-3: without a terminal the import from User Accounts needs --yes (it is confirmed twice)" \
  grep -q 'confirmed twice (PM-3).*add --yes' <<<"$out"
check "PM-3: nothing was imported without the confirmation" \
  grep -q '^0 Print Management users' <(LPM print-users list)
out=$(LPM print-users sync --yes)
check "PM-3, AMB-18: the import adds the users holding PRM User and shows both counts" \
  grep -q '^Import from User Accounts: 3 added, 0 removed; now 3 Print Management users of 6 users in User Accounts$' <<<"$out"
check "TS-15: the added users are named" grep -q '^added: ckent@company.com, jdoe@company.com, llane@company.com$' <<<"$out"

# --- PM-4, AMB-16: the CSV import of groups and quotas -----------------------------------------------
LPM print-users import --sample >"$ROOT/sample.csv"
check "PM-4: the sample file is offered (EMAIL,GROUP,QUOTA)" test "$(head -1 "$ROOT/sample.csv")" = EMAIL,GROUP,QUOTA
out=$(LPM print-users import "$ROOT/sample.csv")
check "PM-4, AMB-16: the sample imports cleanly" grep -q '3 records: 3 applied' <<<"$out"
listed=$(LPM print-users list --json)
quota_of() { jq -r --arg e "$1" "select(.email == \$e) | $2" <<<"$listed"; }
check "PM-4: jdoe is in Group 1 with a quota of their own" test "$(quota_of jdoe@company.com '.group + " " + (.quota | tostring)')" = "Group 1 500"
check "AMB-17: llane has the group's quota" test "$(quota_of llane@company.com '(.quota | tostring) + " " + (.group_quota | tostring)')" = "null 300"
check "PM-4: an empty GROUP leaves ckent's group alone; QUOTA sets theirs" test "$(quota_of ckent@company.com '.group + "/" + (.quota | tostring)')" = "/200"
check "AMB-18: --json ends with both counts" test "$(tail -1 <<<"$listed" | jq -r '"\(.pm_users) \(.enterprise_users)"')" = "3 6"
out=$(LPM print-users list)
check "the table shows the group's quota as such" grep -q 'llane@company.com .*Group 1 *300 (group) *0 *yes' <<<"$out"

# --- GR-8, AMB-17: one edit, saved whole; a member moves --------------------------------------------
LPM print-groups create 'Group 2' >/dev/null
out=$(LPM print-groups update 'Group 2' --quota 50 --add jdoe@company.com ckent@company.com)
check "GR-8: the edit sets the quota and adds the members in one change" \
  grep -q '^updated print group "Group 2": quota 50, colour not allowed, 2 members$' <<<"$out"
check "AMB-17: a member moved from their other group, and the answer says so" \
  grep -q '^moved jdoe@company.com from print group "Group 1"' <<<"$out"
out=$(LPM print-groups update 'Group 2' --rename 'Floor 2' --add outsider@example.com 2>&1) && fail "an edit with a bad member was saved"
check "GR-8: one member not in Print Management refuses the whole edit" grep -q 'add_members: outsider@example.com is not a Print Management user' <<<"$out"
check "GR-8: the refused edit renamed nothing" test "$(LPM print-groups list --json | jq -r 'select(.name == "Group 2") | .members')" = 2

# --- GR-9, TS-11: deleting a group ---------------------------------------------------------------------
out=$(LPM print-groups delete 'Group 1')
check "GR-9: print-groups delete leaves the members in no group" grep -q '^deleted Group 1 (1 member left in no print group' <<<"$out"
check "GR-9: a deleted group is not listed" bash -c "! '$BIN/lpm' print-groups list --socket '$AGENT_SOCK' | grep -q 'Group 1'"
check "GR-9, RP-11: --all still lists it, marked deleted" \
  test "$(LPM print-groups list --all --json | jq -r 'select(.name == "Group 1") | (.deleted_ms > 0)')" = true
printf 'EMAIL,GROUP,QUOTA\nllane@company.com,Group 1,\njdoe@company.com,Group 2,\n' >"$ROOT/again.csv"
out=$(LPM print-users import "$ROOT/again.csv")
check "TS-11: a record naming the deleted group fails, saying it may have been deleted" \
  grep -q 'print group not found: "Group 1"; it may have been deleted' <<<"$out"
check "PM-4: the other record applies" grep -q '2 records: 1 applied.*1 failed' <<<"$out"
check "PM-4: the import created no group" test "$(LPM print-groups list --all --json | jq -s length)" = 2

# --- TS-16: a user losing the role leaves at the next import from User Accounts, not before -----------
"$BIN/lpm-directory" role revoke --data "$ROOT/directory" --role prm-user --email ckent@company.com >/dev/null
check "TS-16: without a new import from User Accounts ckent is still there" \
  test "$(LPM print-users list --json | jq -r 'select(.email == "ckent@company.com") | .email')" = ckent@company.com
out=$(LPM print-users sync --yes)
check "TS-16: the next import from User Accounts removes ckent" grep -q '0 added, 1 removed; now 2 Print Management users of 6' <<<"$out"
check "TS-16: ckent is gone from Print Management" \
  test -z "$(LPM print-users list --json | jq -r 'select(.email == "ckent@company.com") | .email')"

check "every change is in the directory's audit log, by the administrator" \
  test "$(sqlite3 "$ROOT/directory/state.db" "SELECT count(*) FROM audit WHERE action IN ('pm-sync', 'print-group-create', 'print-group-update', 'print-group-delete') AND actor LIKE '%admin@example.com'")" = 6

echo "$IT_PASSED checks passed"
