#!/usr/bin/env bash
# Issue 5: `lpm-release run --interactive`. After the badge the station lists the user's jobs
# (title, pages, workstation, age) and asks; the answer prints some, deletes some, leaves the
# rest held. A line it cannot carry out (an unknown number, late binding on a device that
# cannot apply it) is refused with the reason and asked again. No answer prints nothing.
set -euo pipefail
BIN=$(cd "${1:?usage: release_interactive.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin

net_up "$ROOT" >"$ROOT/up.log"
mkdir -p "$ROOT/docs"
for name in alpha beta gamma; do
  printf 'document %s\n' "$name" >"$ROOT/docs/$name.txt"
  id=$("$BIN/lpm" print "$ROOT/docs/$name.txt" --socket "$AGENT_SOCK" | awk '/^job /{print $2}')
  [[ -n $id ]] || fail "lpm print $name gave no job id"
  declare "job_$name=$id"
  sleep 0.01 # listed in submission order
done
job_state() { "$BIN/lpm" jobs --socket "$AGENT_SOCK" | awk -v j="$1" '$1 == j {print $3}'; }
station() { # station INPUT: one interactive run
  printf '%b' "$1" | "$BIN/lpm-release" run --data "$ROOT/printer" --directory "127.0.0.1:$DIR_PORT" \
    --directory-fingerprint "$DIR_FP" --device "file://$DEVICE_DIR" --interactive 2>>"$ROOT/logs/release.log"
}
net_wait_registered

out=$(station "$BADGE\n9\n1 mono\n1; delete 2\n")
check "the table lists the three jobs with their workstation" test "$(grep -cE '^ +[123] +(alpha|beta|gamma)\.txt .* vm ' <<<"$out")" -eq 3
check "the question is asked" grep -q "print which?" <<<"$out"
check "an unknown number is refused with the reason" grep -q "no job 9 in the list (1 to 3)" <<<"$out"
check "late binding on a device that cannot apply it is refused" \
  grep -q "this printer's device cannot apply copies, sides or monochrome" <<<"$out"
check "the accepted line prints job 1" grep -q 'printed "alpha.txt"' <<<"$out"
check "and deletes job 2" grep -q 'deleted "beta.txt" from vm' <<<"$out"
check "one job released" grep -q "released 1 job" <<<"$out"
check "alpha is printed on the workstation" test "$(job_state "$job_alpha")" = printed
check "beta is gone" test -z "$(job_state "$job_beta")"
check "gamma, not named, stays held" test "$(job_state "$job_gamma")" = held
check "alpha's bytes are at the device" cmp -s "$DEVICE_DIR/$job_alpha.txt" "$ROOT/docs/alpha.txt"
check "beta never reached the device" test ! -e "$DEVICE_DIR/$job_beta.txt"

out=$(station "$BADGE\n")
check "no answer (end of input) prints nothing" grep -q "no answer: nothing printed, the jobs stay held" <<<"$out"
check "gamma is still held" test "$(job_state "$job_gamma")" = held

out=$(station "$BADGE\nnone\n")
check "none prints nothing" grep -q "released 0 job" <<<"$out"
out=$(station "$BADGE\n\n")
check "an empty line prints everything left" grep -q 'printed "gamma.txt"' <<<"$out"
check "gamma is printed" test "$(job_state "$job_gamma")" = printed

echo "$IT_PASSED passed, 0 failed"
