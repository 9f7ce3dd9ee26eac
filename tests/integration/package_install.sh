#!/usr/bin/env bash
# Issue 7, the client package end to end (PK-4, PK-5, PK-8, PK-9, AMB-25, AMB-26):
# - CPack builds a .deb per component, each depending on the Debian 12 libraries it links.
# - `lpm package create` with every option of the seed's package builder (and ours) writes one
#   archive; install.sh --root installs it into a temporary root (nothing on this machine
#   changes): configuration.xml (0600) holds every chosen option, the workstation enrolls with a
#   test directory and the token leaves the package, the unit is enabled, the queue is defined
#   and made the default printer beside a queue the root already had.
# - The agent started from the installed files says READY=1 only once its listeners accept, and
#   a private cupsd started from the installed queue definition delivers `lp`'s job to it: held,
#   and registered with the directory.
# - install.sh --uninstall leaves the root exactly as it was; a second install of an installed
#   root is refused (PK-9: modes change by reinstalling).
# - Invalid options (negative lifespans, an unknown driver, a malformed address, a site name
#   with markup) are refused with a message naming the option, and write nothing.
set -euo pipefail
BIN=$(cd "${1:?usage: package_install.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/cups.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin lpm-package
it_at_exit cups_down
[[ $(id -u) -eq 0 ]] || fail "needs root (cupsd runs its backends as lp; the installed files are root's)"
chmod 711 "$ROOT"
# A serverless administrator and a user with no administrative role (PK-3).
net_hook_before_agent() {
  cat >"$ROOT/people.csv" <<'EOF'
EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT
admin@example.com,CREATE,Admin-Password-1,Ada,Admin,Ada Admin,aadmin,,,,IT
bob@example.com,CREATE,Bob-Password-22,Bob,Builder,Bob B.,bob,,,,Sales
EOF
  "$BIN/lpm-directory" user import --data "$ROOT/directory" --file "$ROOT/people.csv" >"$ROOT/people-import.log"
  "$BIN/lpm-directory" role grant --data "$ROOT/directory" --role spm-admin --email admin@example.com >/dev/null
}
net_up "$ROOT" >"$ROOT/up.log"
logs=$ROOT/logs

# ---- the Debian packages ----------------------------------------------------------------------
build_tree=$(cd "$BIN/.." && pwd)
(cd "$build_tree" && cpack -G DEB -B "$ROOT/cpack" -D CPACK_OUTPUT_FILE_PREFIX="$ROOT/debs") >"$logs/cpack.log" 2>&1 ||
  fail "cpack failed: $(grep -i -m 3 "error" "$logs/cpack.log")"
for pkg in lpm-agent lpm-directory lpm-accounting lpm-release lpm-cli; do
  deb=$(ls "$ROOT"/debs/${pkg}_*.deb 2>/dev/null | head -n 1)
  check "CPack built $pkg" test -f "$deb"
  check "$pkg depends on the Debian 12 runtime libraries it links (libc6, libstdc++6, libuv1)" \
    bash -c "dpkg-deb --field '$deb' Depends | grep -q 'libc6 (>=' && dpkg-deb --field '$deb' Depends | grep -q libstdc++6 && dpkg-deb --field '$deb' Depends | grep -q libuv1"
done
agent_deb=$(ls "$ROOT"/debs/lpm-agent_*.deb)
check "lpm-agent.deb carries the binary and its systemd unit" \
  bash -c "dpkg-deb -c '$agent_deb' | grep -q ' ./usr/bin/lpm-agent$' && dpkg-deb -c '$agent_deb' | grep -q ' ./usr/lib/systemd/system/lpm-agent.service$'"
check "lpm-agent.deb makes its service account in postinst" \
  bash -c "dpkg-deb --ctrl-tarfile '$agent_deb' | tar -xO ./postinst | grep -q 'adduser --system --group .* lpm-agent'"

# ---- invalid options: refused, naming the option, nothing written ----------------------------
base_args=(--agent-deb "$agent_deb" --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP"
  --accounting "127.0.0.1:$ACCT_PORT" --accounting-fingerprint "$ACCT_FP")
refused() {
  local option=$1
  shift
  local out rc=0
  out=$(cd "$ROOT" && "$BIN/lpm" package create --output "$ROOT/bad.tar.gz" "$@" 2>&1) || rc=$?
  [[ $rc -ne 0 && $out == *"$option"* && ! -e $ROOT/bad.tar.gz ]] || {
    echo "rc=$rc: $out" >&2
    return 1
  }
}
check "a negative lifespan is refused, naming --printed-lifespan-hours" \
  refused --printed-lifespan-hours "${base_args[@]}" --printed-lifespan-hours -1
check "a negative lifespan is refused, naming --unprinted-lifespan-hours" \
  refused --unprinted-lifespan-hours "${base_args[@]}" --unprinted-lifespan-hours -5
check "an unknown driver is refused, naming --driver" refused --driver "${base_args[@]}" --driver pclxl
check "a malformed address is refused, naming --accounting" \
  refused --accounting --agent-deb "$agent_deb" --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" \
  --accounting "printers:notaport" --accounting-fingerprint "$ACCT_FP"
check "a malformed fingerprint is refused, naming --directory-fingerprint" \
  refused --directory-fingerprint --agent-deb "$agent_deb" --directory "127.0.0.1:$DIR_PORT" \
  --directory-fingerprint "abc" --accounting "127.0.0.1:$ACCT_PORT" --accounting-fingerprint "$ACCT_FP"
check "a site name with markup is refused, naming --site" refused --site "${base_args[@]}" --site '<b>HQ</b>'
check "a queue name lpadmin would refuse is refused, naming --queue" refused --queue "${base_args[@]}" --queue 'a b'
check "a package without the directory is refused, naming --directory" \
  refused --directory --agent-deb "$agent_deb" --accounting "127.0.0.1:$ACCT_PORT" --accounting-fingerprint "$ACCT_FP"
check "another package than lpm-agent is refused, naming --agent-deb" \
  refused --agent-deb "${base_args[@]}" --agent-deb "$(ls "$ROOT"/debs/lpm-cli_*.deb)"

# ---- who may put a token in a package (PK-3) ------------------------------------------------------
LPM() { "$BIN/lpm" "$@" --socket "$AGENT_SOCK"; }
printf 'Bob-Password-22\n' | LPM login --email bob@example.com --password-stdin >/dev/null
token_refused() {
  local out
  ! out=$(cd "$ROOT" && LPM package create "${base_args[@]}" --token-uses 2 --output "$ROOT/bob.tar.gz" 2>&1) &&
    [[ $out == *"--token-uses"* && ! -e $ROOT/bob.tar.gz ]]
}
check "PK-3: a user without an administrative role cannot make a package that enrolls workstations" token_refused
check "PK-3: the same user makes the default package (no token)" \
  bash -c "cd '$ROOT' && '$BIN/lpm' package default ${base_args[*]} --output '$ROOT/bob-default.tar.gz' >/dev/null"
LPM logout >/dev/null
printf 'Admin-Password-1\n' | LPM login --email admin@example.com --password-stdin >/dev/null
check "PK-3: a serverless administrator's package carries a token the directory made for 2 workstations" \
  bash -c "cd '$ROOT' && '$BIN/lpm' package create ${base_args[*]} --token-uses 2 --token-days 1 --output '$ROOT/admin.tar.gz' --json --socket '$AGENT_SOCK' | jq -e '.token_created == true' >/dev/null && tar -tzf '$ROOT/admin.tar.gz' | grep -q enrollment.token"
listed_with_two_uses() { LPM tokens list --json | jq -s -e 'map(select(.kind == "workstation" and .uses == 2)) | length == 1' >/dev/null; }
check "the token is listed at the directory with 2 uses" listed_with_two_uses
LPM logout >/dev/null

# ---- a custom package with every option -------------------------------------------------------
capture_port=$(free_port)
release_port=$(free_port)
raw_port=$(free_port)
token=$("$BIN/lpm-directory" token create --data "$ROOT/directory" --kind workstation --uses 3)
mkdir -p "$ROOT/admin"
check "PK-4: lpm package create takes every setting of the seed's package builder and writes the archive" \
  bash -c "cd '$ROOT/admin' && '$BIN/lpm' package create ${base_args[*]} --token '$token' \
    --notifications false --delete-unused-folders-days 3 --serverless true --printed-lifespan-hours 12 \
    --unprinted-lifespan-hours 36 --late-binding false --track-deleted true --site 'Site A' \
    --reporting-interval 5 --driver everywhere --queue LPMTest --default-printer true \
    --bind '$(id -un)=$USER_ID' --capture-port $capture_port --release-port $release_port --raw-port $raw_port --lan-discovery false --json >'$logs/create.json'"
archive=$ROOT/admin/$(jq -r .output "$logs/create.json")
check "the archive is named after the site (lpm-client-Site-A.tar.gz)" test "$(basename "$archive")" = lpm-client-Site-A.tar.gz
tar -xzf "$archive" -C "$ROOT/admin"
pkg=$ROOT/admin/lpm-client
for f in configuration.xml install.sh lpm-agent.service enrollment.token README.txt; do
  check "PK-5: the package's one folder holds $f" test -f "$pkg/$f"
done
check "the package holds the agent's .deb" test -f "$pkg/$(basename "$agent_deb")"
check "configuration.xml and the token are 0600 in the package" \
  test "$(stat -c %a "$pkg/configuration.xml") $(stat -c %a "$pkg/enrollment.token")" = "600 600"
over_existing() {
  local out
  ! out=$("$BIN/lpm" package create "${base_args[@]}" --output "$archive" 2>&1) && [[ $out == *"--output"*"already exists"* ]]
}
check "lpm package create refuses to write over an existing archive, naming --output" over_existing

# ---- install --root into a root that already has a printer ------------------------------------
target=$ROOT/target
mkdir -p "$target/etc/cups" "$target/usr/bin"
cat >"$target/etc/cups/printers.conf" <<'CONF'
<DefaultPrinter Existing>
Info A queue the root already had
DeviceURI file:///dev/null
State Idle
Accepting Yes
</DefaultPrinter>
CONF
echo "#!/bin/sh" >"$target/usr/bin/existing-tool"
snapshot() { (cd "$target" && find . -printf '%p %y %m %s\n' | sort && find . -type f -exec md5sum {} + | sort); }
snapshot >"$ROOT/before.txt"
check "install.sh --root refuses when the root already has a default printer (nothing left behind)" \
  bash -c "! '$pkg/install.sh' --root '$target' >'$logs/install-refused.log' 2>&1 && grep -q 'already has a default printer' '$logs/install-refused.log'"
snapshot >"$ROOT/after-refused.txt"
check "the refused install undid every step it had done" cmp -s "$ROOT/before.txt" "$ROOT/after-refused.txt"
check "the refused install kept the token for the next try" test -f "$pkg/enrollment.token"
# The root's own default printer yields (an administrator would have said so in the package).
sed -i 's/DefaultPrinter/Printer/g' "$target/etc/cups/printers.conf"
snapshot >"$ROOT/before.txt"
t0=$(net_ms)
check "install.sh --root installs into the temporary root" \
  bash -c "'$pkg/install.sh' --root '$target' >'$logs/install.log' 2>&1"
conf=$target/etc/lpm/configuration.xml
check "configuration.xml is at /etc/lpm in the root, 0600" test "$(stat -c %a "$conf")" = 600
element() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$conf" | head -n 1; }
check "PK-4: configuration.xml holds every chosen option" test \
  "$(element DisplayNotifications) $(element DeleteEmptyUserFolders) $(element DeleteEmptyUserFoldersLifespan) \
$(element PrintAndKeepLifespan) $(element UnprintedJobsLifespan) $(element LateBindingEnabled) \
$(element TrackDeletedJobs) $(element SiteName) $(element ReportingInterval) $(element DefaultQueue) \
$(element DefaultPrinter) $(element CaptureListen) $(element ReleaseListen) $(element LanDiscovery)" = \
  "false true 3 12 36 false true Site A 5 LPMTest LPMTest 127.0.0.1:$capture_port 0.0.0.0:$release_port false"
check "PK-12: configuration.xml names and pins the directory and the accounting server" \
  bash -c "grep -q '<Fingerprint>$DIR_FP</Fingerprint>' '$conf' && grep -q '<Fingerprint>$ACCT_FP</Fingerprint>' '$conf' && grep -q '<Address>127.0.0.1:$ACCT_PORT</Address>' '$conf'"
check "it binds the OS account to the directory user" grep -q "<Bind account=\"$(id -un)\" user=\"$USER_ID\"" "$conf"
check "the workstation enrolled with the directory" grep -q '^install.sh: workstation ' "$logs/install.log"
ws_id=$(sed -n 's/^install.sh: workstation //p' "$logs/install.log")
check "the token left the package once used" test ! -e "$pkg/enrollment.token"
check "the agent's data folder is its own (0700)" test "$(stat -c %a "$target/var/lib/lpm-agent")" = 700
check "the unit is enabled in the root (multi-user.target.wants)" \
  test "$(readlink "$target/etc/systemd/system/multi-user.target.wants/lpm-agent.service")" = /usr/lib/systemd/system/lpm-agent.service
check "PK-8, AMB-26: the serverless queue is defined in the root's printers.conf, as its default printer" \
  grep -q "^<DefaultPrinter LPMTest>" "$target/etc/cups/printers.conf"
check "the root's own queue is still there" grep -q "^<Printer Existing>" "$target/etc/cups/printers.conf"
install_again() {
  local out
  ! out=$("$pkg/install.sh" --root "$target" 2>&1) && [[ $out == *"already"* ]]
}
check "installing again is refused (PK-9: uninstall first)" install_again
# As an administrator does for a new workstation (RL-11): its held jobs may count for the user.
"$BIN/lpm-directory" workstation bind --data "$ROOT/directory" --workstation "$ws_id" --user "$USER_ID" >/dev/null

# ---- the installed agent, fed by a cupsd started from the installed queue ---------------------
sock=$ROOT/notify.sock
"$BIN/lpm_test_notify_listener" "$sock" "tcp:$capture_port" "tcp:$raw_port" "tcp:$release_port" "unix:$ROOT/run/pk.sock" \
  >"$logs/pk-notify.out" 2>&1 &
notify_pid=$!
wait_for 5 grep -q '^listening' "$logs/pk-notify.out" || fail "the notify listener did not start"
NOTIFY_SOCKET=$sock net_start pk-agent "$logs" "$target/usr/bin/lpm-agent" serve --config "$conf" \
  --data-dir "$target/var/lib/lpm-agent" --control-socket "$ROOT/run/pk.sock"
pk_pid=${NET_PIDS[-1]}
wait "$notify_pid" || true
check "the installed agent said READY=1 only once its three listeners and its control socket accepted" \
  bash -c "grep -q '^READY=1' '$logs/pk-notify.out' && [[ \$(grep -c ' accepts$' '$logs/pk-notify.out') -eq 4 ]]"
CUPS_PRINTERS_CONF=$target/etc/cups/printers.conf cups_up "$ROOT/cups"
check "cupsd started from the installed queue definition knows LPMTest as its default" \
  bash -c "lpstat -d | grep -q 'system default destination: LPMTest'"
printf '%%!PS\n/Helvetica findfont 20 scalefont setfont 72 700 moveto (package) show showpage\n' >"$ROOT/doc.ps"
lp -d LPMTest -t "from the package" "$ROOT/doc.ps" >/dev/null
check "lp's job reaches the installed agent and is held for the bound user" \
  wait_for 20 grep -q "held for $USER_ID" "$logs/pk-agent.log"
t1=$(net_ms)
check "the installed agent registers its held job with the directory" \
  wait_for 10 grep -q 'registered held jobs' "$logs/pk-agent.log"
check "the directory lists the installed workstation" \
  bash -c "'$BIN/lpm-directory' workstation list --data '$ROOT/directory' | grep -q '$ws_id'"
echo "  install --root to the first held job: $((t1 - t0)) ms (bench: scripts/bench_install.sh)"
cups_down
net_stop_pid "$pk_pid"

# ---- uninstall ----------------------------------------------------------------------------------
check "install.sh --uninstall --root undoes the install" \
  bash -c "'$pkg/install.sh' --uninstall --root '$target' >'$logs/uninstall.log' 2>&1"
snapshot >"$ROOT/after.txt"
check "--uninstall leaves the root exactly as it was" cmp -s "$ROOT/before.txt" "$ROOT/after.txt" ||
  diff "$ROOT/before.txt" "$ROOT/after.txt" >&2

# ---- lpm package default ----------------------------------------------------------------------
check "PK-1: lpm package default takes the network from --from and every setting at its default" \
  bash -c "cd '$ROOT/admin' && '$BIN/lpm' package default --from '$AGENT_CONF' --agent-deb '$agent_deb' --output default.tar.gz >/dev/null"
mkdir -p "$ROOT/default" && tar -xzf "$ROOT/admin/default.tar.gz" -C "$ROOT/default"
dconf=$ROOT/default/lpm-client/configuration.xml
check "the default package: data in /var/lib/lpm-agent, queue LPMServerless made the default, 48 h lifespans" \
  bash -c "grep -q '<DataFolder>/var/lib/lpm-agent</DataFolder>' '$dconf' && grep -q '<DefaultPrinter>LPMServerless</DefaultPrinter>' '$dconf' && grep -q '<PrintAndKeepLifespan>48</PrintAndKeepLifespan>' '$dconf'"
check "AMB-25: the default package's site name is the accounting server's host" \
  grep -q "<SiteName>127.0.0.1</SiteName>" "$dconf"
check "the default package has no token (none was asked for) and says how to enroll" \
  bash -c "test ! -e '$ROOT/default/lpm-client/enrollment.token' && grep -q 'lpm-agent enroll --token-file' '$ROOT/default/lpm-client/README.txt'"

echo "package_install: $IT_PASSED checks passed"
