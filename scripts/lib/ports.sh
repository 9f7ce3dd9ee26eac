# Shared by tests and benchmarks: `free_port` prints a TCP port nothing listens on at 127.0.0.1.
#
# The port is drawn below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 on
# Debian): a port inside it can be taken, between our check and the daemon's bind, as the local
# end of any outgoing connection on the machine (another test's client, say), and the daemon
# then fails with "address already in use". Parallel tests drawing the same number in the same
# instant remain possible, one chance in a few tens of thousands.

free_port() {
  local low=32768 p
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  ((low > 12000)) || low=32768
  for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "free_port: no free port found below $low after 50 tries" >&2
  return 1
}
