#!/usr/bin/env bash
# Issue 3: on one workstation, a local user who is not a job's owner can neither see nor delete
# it through `lpm`; an OS account bound to no directory user is refused with a message that
# says what to do; the owner's delete queues a *deleted* record (reason user) that reaches the
# accounting server when TrackDeletedJobs is on. Two OS accounts: root and nobody.
set -euo pipefail
BIN=$(cd "${1:?usage: agent_ownership.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin

[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to act as a second OS account"; exit 0; }
id nobody >/dev/null 2>&1 || fail "the OS account nobody is missing"
# The second and third accounts must reach the control socket and the documents.
chmod 711 "$ROOT"

net_hook_before_agent() {
  BOB_ID=$("$BIN/lpm-directory" user add --data "$ROOT/directory" --email bob@example.com --name Bob)
  NET_EXTRA_BINDS="<Bind account=\"nobody\" user=\"$BOB_ID\"/>"
}
NET_TRACK_DELETED=true
net_up "$ROOT" >"$ROOT/up.log"

as_nobody() { runuser -u nobody -- "$@"; }
mkdir -p "$ROOT/docs"
chmod 755 "$ROOT/docs"
printf '%%PDF-1.4 root document\n' >"$ROOT/docs/root.pdf"
printf '%%PDF-1.4 nobody document\n' >"$ROOT/docs/nobody.pdf"
chmod 644 "$ROOT/docs/"*

job_root=$("$BIN/lpm" print "$ROOT/docs/root.pdf" --socket "$AGENT_SOCK" --title "Root payroll" | awk '/^job /{print $2}')
job_nobody=$(as_nobody "$BIN/lpm" print "$ROOT/docs/nobody.pdf" --socket "$AGENT_SOCK" --title "Nobody notes" |
  awk '/^job /{print $2}')
check "both users' jobs are stored" test -n "$job_root" -a -n "$job_nobody"

root_list=$("$BIN/lpm" jobs --socket "$AGENT_SOCK")
nobody_list=$(as_nobody "$BIN/lpm" jobs --socket "$AGENT_SOCK")
check "root sees its own job" grep -q "$job_root" <<<"$root_list"
check "root does not see nobody's job" bash -c "! grep -q '$job_nobody' <<<'$root_list'"
check "nobody sees its own job" grep -q "$job_nobody" <<<"$nobody_list"
check "nobody sees neither the id nor the title of root's job" \
  bash -c "! grep -q -e '$job_root' -e 'Root payroll' <<<'$nobody_list'"

set +e
out=$(as_nobody "$BIN/lpm" jobs delete "$job_root" --socket "$AGENT_SOCK" 2>&1)
rc=$?
set -e
check "nobody cannot delete root's job (exit 1)" test "$rc" -eq 1
check "and is told there is no such job, as for a job that does not exist" grep -q "not_found" <<<"$out"
check "root's job is still there" grep -q "$job_root" <<<"$("$BIN/lpm" jobs --socket "$AGENT_SOCK")"

set +e
out=$(runuser -u daemon -- "$BIN/lpm" jobs --socket "$AGENT_SOCK" 2>&1)
rc=$?
set -e
check "an unbound OS account is refused" test "$rc" -eq 1
check "with a message naming the account and what to do" grep -q "daemon.*IdentityBinding" <<<"$out"

check "root deletes its own job" "$BIN/lpm" jobs delete "$job_root" --socket "$AGENT_SOCK"
check "it is gone" bash -c "! grep -q '$job_root' <<<'$("$BIN/lpm" jobs --socket "$AGENT_SOCK")'"
check "nobody's job is untouched" grep -q "$job_nobody" <<<"$(as_nobody "$BIN/lpm" jobs --socket "$AGENT_SOCK")"

# The outbox posts at once (ReportingInterval 0): the accounting server stores the record.
db=$ROOT/accounting/state.db
found=""
for _ in $(seq 1 100); do
  # records_as_text: the records as sent (the table keeps ids in 16 bytes and names as codes).
  found=$(sqlite3 "$db" "SELECT event || ' ' || reason FROM records_as_text WHERE job = '$job_root'" \
    2>/dev/null || true)
  [[ -n $found ]] && break
  sleep 0.05
done
check "the accounting server holds a deleted record with reason user" test "$found" = "deleted user"
