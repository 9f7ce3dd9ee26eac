# Shared by tests and benchmarks of issue 8: an mDNS responder (avahi-daemon) with a private
# system bus, inside a network namespace the caller made (never the machine's own: multicast
# would reach the real network; PEERS.md). Stopped by PID. Source scripts/lib/network.sh
# (net_stop_pid) and scripts/lib/testing.sh (it_mount_ns_options) first.
#
#   mdns_up NAME IFACE DIR [RUNNER...]   starts dbus-daemon and avahi-daemon through RUNNER (e.g.
#                                        nsenter --net=/proc/PID/ns/net --), announcing only on
#                                        IFACE, host name lpm-NAME; DIR holds the configuration
#                                        and logs. Sets MDNS_BUS_<NAME> (the bus address) and
#                                        remembers the PIDs for mdns_down.
#   mdns_down                            stops every daemon mdns_up started, newest first.
# The abstract socket of each bus belongs to its network namespace, so clients there reach it
# with DBUS_SYSTEM_BUS_ADDRESS=$MDNS_BUS_<NAME>.

MDNS_PIDS=()

mdns_up() {
  local name=$1 iface=$2 dir=$3
  shift 3
  local runner=("$@") bus="unix:abstract=lpm-mdns-$name-$$" pid i mount_ns
  mount_ns=$(it_mount_ns_options) || { echo "no private mount namespace for avahi-daemon's /run" >&2; return 1; }
  # Never the machine's own network namespace: multicast would reach the real network. Checked
  # where the daemons will run (through RUNNER), against the namespace recorded before unshare.
  if ! "${runner[@]}" env LPM_HOST_NETNS="${LPM_HOST_NETNS:-}" bash -c \
    "source '${BASH_SOURCE[0]%/*}/network.sh' && net_in_own_netns"; then
    echo "mdns_up $name: refusing to start an mDNS responder outside a network namespace the test made" >&2
    return 1
  fi
  mkdir -p "$dir"
  command -v avahi-daemon >/dev/null || { echo "avahi-daemon is missing (package avahi-daemon)" >&2; return 1; }
  pid=$("${runner[@]}" dbus-daemon --system --address="$bus" --nopidfile --fork --print-pid) || {
    echo "dbus-daemon did not start in namespace $name" >&2
    return 1
  }
  MDNS_PIDS+=("$pid")
  cat >"$dir/avahi-daemon.conf" <<CONF
[server]
host-name=lpm-$name
use-ipv4=yes
use-ipv6=no
allow-interfaces=$iface
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes

[reflector]
enable-reflector=no

[rlimits]
CONF
  # Its pid file path is fixed (/run/avahi-daemon): a tmpfs over /run in a mount namespace of its
  # own. exec keeps one PID from `ip`/nsenter to the daemon itself.
  # shellcheck disable=SC2086
  "${runner[@]}" unshare $mount_ns sh -c \
    "mount -t tmpfs tmpfs /run && mkdir -p /run/avahi-daemon && exec env DBUS_SYSTEM_BUS_ADDRESS='$bus' avahi-daemon -f '$dir/avahi-daemon.conf' --no-rlimits --no-chroot" \
    >"$dir/avahi.out" 2>"$dir/avahi.log" &
  pid=$!
  MDNS_PIDS+=("$pid")
  for ((i = 0; i < 100; i++)); do
    if grep -q 'Server startup complete' "$dir/avahi.log" 2>/dev/null; then
      printf -v "MDNS_BUS_${name^^}" '%s' "$bus"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "avahi-daemon did not start in namespace $name:" >&2
  cat "$dir/avahi.log" >&2
  return 1
}

mdns_down() {
  local i
  for ((i = ${#MDNS_PIDS[@]} - 1; i >= 0; i--)); do net_stop_pid "${MDNS_PIDS[i]}"; done
  MDNS_PIDS=()
}
