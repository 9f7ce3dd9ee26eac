#!/usr/bin/env bash
# Issue 7, install.sh's live path (no --root) on a throwaway copy of this machine: a private
# mount namespace holds an overlay of / (the changes go to a tmpfs), and install.sh runs chrooted
# into it as on a real workstation, with the real apt-get, dpkg, adduser, runuser and lpadmin
# (against a private cupsd of this test), with ufw enabled in the test's own network namespace.
# Nothing on this machine changes. Systemd is not PID 1
# here (PEERS.md), so the unit is not started: the test starts the installed agent itself as the
# account the .deb made. Checks: the .deb installed with its account, configuration.xml 0600
# owned by lpm-agent, the workstation enrolled and the token gone, the queue made by lpadmin and
# made the default, a job through it held by the installed agent; then --uninstall: the .deb
# purged (and the agent's data with it), the configuration and the queue gone.
set -euo pipefail
BIN=$(cd "${1:?usage: package_live_install.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

# A network namespace of the test's own: the firewall the install opens (ufw) is this one's.
if [[ -z ${LPM_LIVE_NETNS:-} ]]; then
  exec env LPM_HOST_NETNS="$(readlink /proc/self/ns/net)" LPM_LIVE_NETNS=1 unshare --net -- bash "$0" "$BIN" ||
    { echo "FAIL: cannot make a network namespace (unshare --net needs root / CAP_SYS_ADMIN)" >&2; exit 1; }
fi
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/cups.sh"
source "$here/../../scripts/lib/testing.sh"

it_begin lpm-live
it_at_exit cups_down
[[ $(id -u) -eq 0 ]] || fail "needs root (a mount namespace, chroot, cupsd)"
command -v unshare >/dev/null || fail "unshare is missing (util-linux)"
chmod 711 "$ROOT"
net_in_own_netns || fail "not in a network namespace of the test's own"
ip link set lo up
net_up "$ROOT" >"$ROOT/up.log"
logs=$ROOT/logs

(cd "$BIN/.." && cpack -G DEB -B "$ROOT/cpack" -D CPACK_COMPONENTS_ALL=agent -D CPACK_OUTPUT_FILE_PREFIX="$ROOT/debs") \
  >"$logs/cpack.log" 2>&1 || fail "cpack failed: $(grep -i -m 3 "error" "$logs/cpack.log")"
capture_port=$(free_port)
raw_port=$(free_port)
release_port=$(free_port)
token=$("$BIN/lpm-directory" token create --data "$ROOT/directory" --kind workstation)
(cd "$ROOT" && "$BIN/lpm" package create --agent-deb "$(ls "$ROOT"/debs/lpm-agent_*.deb)" \
  --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --accounting "127.0.0.1:$ACCT_PORT" \
  --accounting-fingerprint "$ACCT_FP" --token "$token" --bind "root=$USER_ID" --queue LPMLive \
  --capture-port "$capture_port" --raw-port "$raw_port" --release-port "$release_port" --lan-discovery false \
  --output "$ROOT/client.tar.gz" >/dev/null)
mkdir -p "$ROOT/pkg"
tar -xzf "$ROOT/client.tar.gz" -C "$ROOT/pkg"
# lpadmin inside reaches this cupsd over loopback TCP (the chroot shares the network).
cups_up "$ROOT/cups"

# What runs inside the copy of the machine, as root; it writes its findings to ROOT/inside.
cat >"$ROOT/inside.sh" <<EOF
set -u
export CUPS_SERVER=127.0.0.1:$CUPS_PORT
out=$ROOT/inside
pkg=$ROOT/pkg/lpm-client
# An active host firewall (in this test's network namespace): the install must open the release port.
ufw --force enable >\$out/ufw-enable.log 2>&1
$ROOT/pkg/lpm-client/install.sh >\$out/install.log 2>&1; echo \$? >\$out/install.rc
ufw status >\$out/ufw-status 2>&1
dpkg-query -W -f='\${Status}' lpm-agent >\$out/dpkg-status 2>&1
getent passwd lpm-agent >\$out/passwd 2>&1
stat -c '%a %U' /etc/lpm/configuration.xml >\$out/config-stat 2>&1
stat -c '%a %U' /var/lib/lpm-agent >\$out/data-stat 2>&1
test -e \$pkg/enrollment.token && echo present >\$out/token || echo gone >\$out/token
lpstat -v LPMLive >\$out/lpstat-v 2>&1
lpstat -d >\$out/lpstat-d 2>&1
# systemd is not PID 1 here: the installed agent is started as its unit would, as lpm-agent.
runuser -u lpm-agent -- /usr/bin/lpm-agent serve --config /etc/lpm/configuration.xml \\
  --control-socket /var/lib/lpm-agent/agent.sock >\$out/agent.out 2>\$out/agent.log &
agent=\$!
for i in \$(seq 1 200); do grep -q '^ready' \$out/agent.out && break; sleep 0.05; done
lp -d LPMLive $ROOT/doc.ps >\$out/lp.log 2>&1
for i in \$(seq 1 400); do grep -q 'held for $USER_ID' \$out/agent.log && break; sleep 0.05; done
kill -TERM \$agent; wait \$agent
$ROOT/pkg/lpm-client/install.sh --uninstall >\$out/uninstall.log 2>&1; echo \$? >\$out/uninstall.rc
dpkg-query -W -f='\${Status}' lpm-agent >\$out/dpkg-status-after 2>&1
test -e /etc/lpm/configuration.xml && echo present >\$out/config-after || echo gone >\$out/config-after
test -e /var/lib/lpm-agent && echo present >\$out/data-after || echo gone >\$out/data-after
lpstat -v LPMLive >\$out/lpstat-after 2>&1
ufw status >\$out/ufw-after 2>&1
ufw --force disable >/dev/null 2>&1
true
EOF
printf '%%!PS\n/Helvetica findfont 20 scalefont setfont 72 700 moveto (live) show showpage\n' >"$ROOT/doc.ps"
mkdir -p "$ROOT/inside" "$ROOT/ovl"
# The copy: / as the lower layer, a tmpfs for the changes, mounted only in a namespace of this
# test's own (gone when its last process ends); /proc and /dev for the tools inside.
mount_ns=$(it_mount_ns_options) || fail "no mount namespace of the test's own can be made (a shared mount would leak the copy)"
# shellcheck disable=SC2086
unshare $mount_ns bash -c "
  set -e
  mount -t tmpfs tmpfs '$ROOT/ovl'
  mkdir -p '$ROOT/ovl/upper' '$ROOT/ovl/work' '$ROOT/ovl/merged'
  mount -t overlay overlay -o lowerdir=/,upperdir='$ROOT/ovl/upper',workdir='$ROOT/ovl/work' '$ROOT/ovl/merged'
  mount -t proc proc '$ROOT/ovl/merged/proc'
  mount --rbind /dev '$ROOT/ovl/merged/dev'
  mount --bind '$ROOT/inside' '$ROOT/ovl/merged$ROOT/inside'
  chroot '$ROOT/ovl/merged' bash '$ROOT/inside.sh'
" >"$logs/inside.log" 2>&1 || fail "the copy of the machine could not be made: $(tail -n 5 "$logs/inside.log")"
in=$ROOT/inside
for f in install.log agent.log uninstall.log; do cp "$in/$f" "$logs/live-$f" 2>/dev/null || true; done

check "install.sh (live) exits 0" test "$(cat "$in/install.rc")" = 0
check "apt-get installed the lpm-agent .deb" test "$(cat "$in/dpkg-status")" = "install ok installed"
check "its postinst made the service account lpm-agent" grep -q '^lpm-agent:' "$in/passwd"
check "configuration.xml is 0600 and the agent's (/etc/lpm)" test "$(cat "$in/config-stat")" = "600 lpm-agent"
check "the agent's data folder is its own (0700)" test "$(cat "$in/data-stat")" = "700 lpm-agent"
check "the workstation enrolled, as lpm-agent" grep -q '^install.sh: workstation ' "$in/install.log"
check "the token left the package once the install was done" test "$(cat "$in/token")" = gone
check "without systemd running, install.sh says how to start the agent" grep -q 'systemd is not running here' "$in/install.log"
check "PK-8: lpadmin made the queue LPMLive pointing at the agent's capture port" \
  grep -q "device for LPMLive: ipp://127.0.0.1:$capture_port/ipp/print" "$in/lpstat-v"
check "AMB-26: LPMLive is the default printer" grep -q 'system default destination: LPMLive' "$in/lpstat-d"
check "a job printed through the queue is held by the installed agent" grep -q "held for $USER_ID" "$in/agent.log"
check "with ufw active, the install opened the release port ($release_port/tcp)" \
  bash -c "grep -q 'ufw: opened $release_port/tcp' '$in/install.log' && grep -Eq '^$release_port/tcp +ALLOW' '$in/ufw-status'"
check "install.sh --uninstall exits 0" test "$(cat "$in/uninstall.rc")" = 0
check "--uninstall purged the .deb" bash -c "! grep -q 'install ok installed' '$in/dpkg-status-after'"
check "--uninstall removed configuration.xml and the agent's data" \
  test "$(cat "$in/config-after") $(cat "$in/data-after")" = "gone gone"
check "--uninstall removed the queue" bash -c "! grep -q 'device for LPMLive' '$in/lpstat-after'"
check "--uninstall closed the release port again" \
  bash -c "grep -q 'Status: active' '$in/ufw-after' && ! grep -q '^$release_port/tcp' '$in/ufw-after'"
check "the machine itself did not change: no lpm-agent package, account or configuration here" \
  bash -c "! dpkg-query -W lpm-agent >/dev/null 2>&1 && ! getent passwd lpm-agent >/dev/null && test ! -e /etc/lpm/configuration.xml"

echo "package_live_install: $IT_PASSED checks passed"
