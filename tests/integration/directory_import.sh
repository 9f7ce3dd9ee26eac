#!/usr/bin/env bash
# Issue 4: CSV imports through `lpm-directory` on the seed's sample files and hostile files:
# precise whole-file and per-record errors, nothing half-applied, the log of `import show`, and
# an import killed after a record (fault point import.after_record) that `import resume`
# finishes with every record applied exactly once. Then backup while the directory serves (on
# 127.0.0.1, port 0) and restore once it is stopped.
set -euo pipefail
BIN=$(cd "${1:?usage: directory_import.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
FIXTURES=$here/../fixtures/seed
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin
D=$ROOT/dir
DIRCTL() { "$BIN/lpm-directory" "$@"; }
DIRCTL init --data "$D" >/dev/null
DIRCTL password-policy set --data "$D" --min-length 8 --complexity 1 --history 3 >/dev/null
# Imports hash passwords at the real Argon2id cost (RFC 9106): no test override here.
sql() { sqlite3 "$D/state.db" "$1"; }

# --- whole-file errors: nothing recorded ---------------------------------------------------
out=$(DIRCTL user import --data "$D" --file "$FIXTURES/users_sample_as_printed.csv" 2>&1) && fail "wrapped header accepted"
check "UA-8, AMB-1: the header as printed (wrapped) is refused, quoting the expected one" \
  grep -q 'it must be exactly EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT' <<<"$out"
head -c 1048577 /dev/zero | tr '\0' '\n' >"$ROOT/big.csv"
out=$(DIRCTL user import --data "$D" --file "$ROOT/big.csv" 2>&1) && fail "a file over 1 MB was accepted"
check "UA-10, AMB-10: a file of 1,048,577 bytes is refused before reading" grep -q 'too_large' <<<"$out"
printf 'email,operation\nA@B.C,CREATE\n' >"$ROOT/lower.csv"
out=$(DIRCTL user import --data "$D" --file "$ROOT/lower.csv" 2>&1) && fail "a lower-case header was accepted"
check "UA-8: a header in the wrong case is refused" grep -q 'upper case' <<<"$out"
printf 'BADGE,OPERATION,EMAIL\n"20171a,DELETE,\n' >"$ROOT/unbalanced.csv"
out=$(DIRCTL badge import --data "$D" --file "$ROOT/unbalanced.csv" 2>&1) && fail "an unbalanced quote was accepted"
check "AMB-3: an unbalanced quote refuses the whole file" grep -q 'line 2' <<<"$out"
check "nothing of the refused files was recorded" test "$(sql 'SELECT count(*) FROM imports')" = 0

# --- the seed's samples ----------------------------------------------------------------------
DIRCTL user add --data "$D" --email llane@company.com >/dev/null
out=$(DIRCTL user import --data "$D" --file "$FIXTURES/users_sample.csv" --password-links 2>&1)
check "UA-7: the sample creates jdoe, updates llane, and fails ckent's DELETE alone" \
  grep -q '3 records: 2 applied (2 with warnings), 1 failed' <<<"$out"
check "AMB-2: short records are taken with a warning per record" grep -q 'the record has 9 values; the header has 11' <<<"$out"
check "UA-19: the group of the sample is created" test "$(sql "SELECT name FROM account_groups")" = "Group 1"
check "UA-21, AMB-7: custom attributes stored as canonical JSON" \
  test "$(sql "SELECT custom_attributes FROM users WHERE email = 'jdoe@company.com'")" = '{"key1":"value1","key2":"value2"}'
import_id=$(sql "SELECT id FROM imports ORDER BY id LIMIT 1")
log=$("$BIN/lpm-directory" import show --data "$D" --id "$import_id")
check "the import log has a row per record with its line and result" \
  grep -Eq '^4 +4 +ckent@company.com +failed +no user has the e-mail address ckent@company.com' <<<"$log"
json=$("$BIN/lpm-directory" import show --data "$D" --id "$import_id" --json)
check "import show --json gives one object per record" test "$(jq -s length <<<"$json")" = 3
check "an import that is done no longer holds its file (it may hold passwords)" \
  test "$(sql "SELECT length(content) FROM imports WHERE id = '$import_id'")" = 0

out=$(DIRCTL badge import --data "$D" --file "$FIXTURES/badges_sample.csv" 2>&1)
check "BD-7: the badge sample gives jdoe and llane temporary badges" \
  test "$(sql "SELECT count(*) FROM badges WHERE temporary = 1")" = 2
check "BD-10, AMB-11: the DELETE naming a user that does not exist fails its record" grep -q '1 failed' <<<"$out"

# --- hostile records fail alone --------------------------------------------------------------
cat >"$ROOT/hostile.csv" <<'EOF'
EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT
good@example.com,CREATE,Secret-12,,,,,,,,
bad-email,CREATE,Secret-12,,,,,,,,
x@example.com,MERGE,Secret-12,,,,,,,,
y@example.com,CREATE,Secret-12,,,,,,,,,extra
z@example.com,CREATE,Secret-12,,,,,NewGroup,"{'a':{'b':'c'}}",,
EOF
out=$(DIRCTL user import --data "$D" --file "$ROOT/hostile.csv" 2>&1)
check "AMB-6: good records apply, each bad record fails alone" grep -q '5 records: 1 applied (0 with warnings), 4 failed' <<<"$out"
check "a bad record applies nothing (no user z, no group NewGroup)" \
  test "$(sql "SELECT count(*) FROM users WHERE email = 'z@example.com'")$(sql "SELECT count(*) FROM account_groups WHERE name = 'NewGroup'")" = 00

# --- killed mid-import, resumed: every record once --------------------------------------------
{
  echo 'EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT'
  for i in 1 2 3 4 5 6; do echo "crash$i@example.com,CREATE,Secret-12,,,,,Crash Group,,,"; done
} >"$ROOT/crash.csv"
set +e
LPM_FAULT=import.after_record:3 "$BIN/lpm-directory" user import --data "$D" --file "$ROOT/crash.csv" >/dev/null 2>&1
rc=$?
set -e
check "the import died at the fault point (exit 86)" test "$rc" = 86
check "three records were applied before the kill" test "$(sql "SELECT count(*) FROM users WHERE email LIKE 'crash%'")" = 3
out=$(DIRCTL import resume --data "$D")
check "import resume finishes it" grep -q '6 records: 6 applied' <<<"$out"
check "each record applied exactly once: 6 users, 6 log rows, 6 memberships" \
  test "$(sql "SELECT count(*) FROM users WHERE email LIKE 'crash%'") $(sql "SELECT count(*) FROM import_log l JOIN imports i ON i.id = l.import_id WHERE i.file_name = 'crash.csv'") $(sql "SELECT count(*) FROM group_members m JOIN account_groups g ON g.id = m.group_id WHERE g.name = 'Crash Group'")" = "6 6 6"
check "nothing is left unfinished" grep -q 'no import is unfinished' <<<"$(DIRCTL import resume --data "$D")"

# --- backup while serving; restore only when stopped ------------------------------------------
"$BIN/lpm-directory" serve --data "$D" --listen 127.0.0.1:0 >"$ROOT/serve.out" 2>"$ROOT/serve.log" &
SERVE_PID=$!
stop_serve() { [[ -z ${SERVE_PID:-} ]] || { kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=; }; }
it_at_exit stop_serve
wait_for 10 grep -q '^ready ' "$ROOT/serve.out" || fail "lpm-directory serve did not start"
users_before=$(sql "SELECT count(*) FROM users")
DIRCTL backup --data "$D" --file "$ROOT/backup.db" >/dev/null
check "backup while serving writes a 0600 file" test "$(stat -c %a "$ROOT/backup.db")" = 600
out=$(DIRCTL backup --data "$D" --file "$ROOT/backup.db" 2>&1) && fail "a backup overwrote a file"
check "a backup never overwrites a file" grep -q 'exists' <<<"$out"
out=$(DIRCTL restore --data "$D" --file "$ROOT/backup.db" 2>&1) && fail "restore ran under a serving directory"
check "restore refuses while the directory serves" grep -q 'another lpm-directory serves' <<<"$out"
out=$(DIRCTL serve --data "$D" --listen 127.0.0.1:0 2>&1) && fail "a second serve started on the same folder"
check "one process serves a folder at a time" grep -q 'another lpm-directory serves' <<<"$out"
stop_serve
DIRCTL user add --data "$D" --email after-backup@example.com >/dev/null
printf 'not a database' >"$ROOT/garbage.db"
out=$(DIRCTL restore --data "$D" --file "$ROOT/garbage.db" 2>&1) && fail "garbage restored"
check "a file that is not a directory backup is refused and changes nothing" \
  test "$(sql "SELECT count(*) FROM users")" = $((users_before + 1))
sqlite3 "$ROOT/other.db" "CREATE TABLE records(id TEXT); INSERT INTO records VALUES ('x')"
out=$(DIRCTL restore --data "$D" --file "$ROOT/other.db" 2>&1) && fail "another program's database restored"
check "another program's SQLite database is refused ($out)" grep -q 'has no table users' <<<"$out"
check "and changes nothing" test "$(sql "SELECT count(*) FROM users")" = $((users_before + 1))
out=$(DIRCTL restore --data "$D" --file "$ROOT/backup.db")
check "restore brings back the backup's users" test "$(sql "SELECT count(*) FROM users")" = "$users_before"
check "the replaced database is kept beside" ls "$D"/state.db.replaced-* >/dev/null

echo "$IT_PASSED checks passed"
