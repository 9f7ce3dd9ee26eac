# Shared by scripts/demo.sh and tests/integration/*.sh: bring the whole network up on loopback in
# a temp folder, drive it, and stop every process we started, by PID.
#
# Usage: source this file, set BIN (folder with the lpm binaries), then call net_up.
# Every daemon listens on 127.0.0.1:0 and prints "ready <port>" once bound; we read the port.

NET_PIDS=()
NET_VERBOSE=${NET_VERBOSE:-0}

net_die() {
  echo "error: $*" >&2
  exit 1
}

net_ms() { date +%s%3N; }

# step "description" command...: runs the command, prints how long it took.
step() {
  local what=$1
  shift
  local t0 t1 out rc
  t0=$(net_ms)
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  t1=$(net_ms)
  if [[ $rc -ne 0 ]]; then
    printf '  %-62s FAILED (%d ms)\n' "$what" $((t1 - t0))
    printf '%s\n' "$out" | sed 's/^/      /' >&2
    return $rc
  fi
  printf '  %-62s %5d ms\n' "$what" $((t1 - t0))
  STEP_OUT=$out
}

# net_start NAME LOGDIR command...: starts a daemon in the background, waits for "ready <port>".
net_start() {
  local name=$1 logdir=$2
  shift 2
  "$@" >"$logdir/$name.out" 2>"$logdir/$name.log" &
  local pid=$!
  NET_PIDS+=("$pid")
  local i
  for ((i = 0; i < 200; i++)); do
    if grep -q '^ready ' "$logdir/$name.out" 2>/dev/null; then
      NET_PORT=$(awk '/^ready /{print $2; exit}' "$logdir/$name.out")
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$logdir/$name.log" >&2
      net_die "$name exited before it was ready"
    fi
    sleep 0.05
  done
  cat "$logdir/$name.log" >&2
  net_die "$name was not ready within 10 s"
}

# Stops every daemon we started (SIGTERM, then SIGKILL after 5 s), newest first.
net_down() {
  local i pid n
  for ((i = ${#NET_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${NET_PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for ((n = 0; n < 100; n++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  NET_PIDS=()
}

# Stops one daemon started by net_start (its PID is in the named variable's value).
net_stop_pid() {
  local pid=$1 n
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((n = 0; n < 100; n++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local kept=() p
  for p in "${NET_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  NET_PIDS=("${kept[@]}")
}

# net_agent_config FILE DATA SOCKET RELEASE_HOST SERVER_HOST IPP_PORT RAW_PORT: an agent's
# configuration.xml; SERVER_HOST is where it reaches the directory and the accounting server.
net_agent_config() {
  local file=$1 data=$2 sock=$3 release_host=$4 server_host=$5 ipp_port=$6 raw_port=$7
  cat >"$file" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Configuration>
  <DataFolder>$data</DataFolder>
  <ControlSocket>$sock</ControlSocket>
  <ReleaseListen>$release_host:0</ReleaseListen>
  <CaptureListen>127.0.0.1:$ipp_port</CaptureListen>
  <RawListen>127.0.0.1:$raw_port</RawListen>
  <Directory><Address>$server_host:$DIR_PORT</Address><Fingerprint>$DIR_FP</Fingerprint></Directory>
  <Accounting><Address>$server_host:$ACCT_PORT</Address><Fingerprint>$ACCT_FP</Fingerprint></Accounting>
  <SiteName>Demo site</SiteName>
  <ReportingInterval>0</ReportingInterval>
  <TrackDeletedJobs>${NET_TRACK_DELETED:-false}</TrackDeletedJobs>
  <PrintAndKeepLifespan>48</PrintAndKeepLifespan>
  <UnprintedJobsLifespan>48</UnprintedJobsLifespan>
  <IdentityBinding><Bind account="$(id -un)" user="$USER_ID"/>${NET_EXTRA_BINDS:-}</IdentityBinding>
  <LanDiscovery>${NET_LAN_DISCOVERY:-false}</LanDiscovery>
  <OfflineReleaseWindow>${NET_OFFLINE_WINDOW:-0}</OfflineReleaseWindow>
</Configuration>
XML
}

# net_up ROOT: everything up. Sets DIR_PORT, DIR_PID, DIR_FP, ACCT_PORT, ACCT_FP, AGENT_PORT, AGENT_SOCK, WS_ID,
# AGENT_CONF, AGENT_IPP_PORT, AGENT_RAW_PORT, USER_ID, BADGE, DEVICE_DIR, PRINTER_TOKEN...
net_up() {
  ROOT=$1
  local logs=$ROOT/logs
  mkdir -p "$logs" "$ROOT/device"
  DEVICE_DIR=$ROOT/device
  BADGE=${BADGE:-04A2B3C4D5}
  local email=${DEMO_EMAIL:-jean.dupont@example.com}

  echo "directory"
  step "create the directory's TLS identity and ticket-signing key" \
    "$BIN/lpm-directory" init --data "$ROOT/directory"
  step "read its key fingerprint (packages pin it)" "$BIN/lpm-directory" fingerprint --data "$ROOT/directory"
  DIR_FP=$STEP_OUT
  step "add user $email" "$BIN/lpm-directory" user add --data "$ROOT/directory" --email "$email" \
    --name "Jean Dupont"
  USER_ID=$STEP_OUT
  step "register badge $BADGE for that user" "$BIN/lpm-directory" badge add --data "$ROOT/directory" \
    --badge "$BADGE" --email "$email"
  step "let every user release (enterprise role PRM User)" "$BIN/lpm-directory" role grant \
    --data "$ROOT/directory" --role prm-user --scope enterprise
  local kind
  for kind in workstation printer accounting console; do
    step "enrollment token for the $kind" "$BIN/lpm-directory" token create --data "$ROOT/directory" --kind "$kind"
    printf -v "TOKEN_${kind^^}" '%s' "$STEP_OUT"
  done
  local t0
  t0=$(net_ms)
  # NET_DIRECTORY_ARGS: more `serve` options (a benchmark lifts the per-printer badge rate limit).
  # shellcheck disable=SC2086
  net_start directory "$logs" "$BIN/lpm-directory" serve --data "$ROOT/directory" --listen "${NET_LISTEN_HOST:-127.0.0.1}:0" \
    ${NET_DIRECTORY_ARGS:-}
  DIR_PORT=$NET_PORT
  DIR_PID=${NET_PIDS[-1]}
  printf '  %-62s %5d ms\n' "start lpm-directory (127.0.0.1:$DIR_PORT)" $(($(net_ms) - t0))
  local dir_addr=127.0.0.1:$DIR_PORT

  echo "accounting server"
  step "create its identity" "$BIN/lpm-accounting" init --data "$ROOT/accounting"
  step "enroll it with the directory" "$BIN/lpm-accounting" enroll --data "$ROOT/accounting" \
    --directory "$dir_addr" --directory-fingerprint "$DIR_FP" --token "$TOKEN_ACCOUNTING"
  t0=$(net_ms)
  # NET_ACCOUNTING_ARGS: more `serve` options (a test reads the directory's people every second).
  # shellcheck disable=SC2086
  net_start accounting "$logs" "$BIN/lpm-accounting" serve --data "$ROOT/accounting" \
    --listen "${NET_LISTEN_HOST:-127.0.0.1}:0" \
    --directory "$dir_addr" --directory-fingerprint "$DIR_FP" ${NET_ACCOUNTING_ARGS:-}
  ACCT_PORT=$NET_PORT
  ACCT_PID=${NET_PIDS[-1]}
  printf '  %-62s %5d ms\n' "start lpm-accounting (127.0.0.1:$ACCT_PORT)" $(($(net_ms) - t0))
  ACCT_FP=$(cat "$ROOT/accounting/fingerprint" 2>/dev/null || true)
  if [[ -z $ACCT_FP ]]; then
    step "read the accounting server's fingerprint" "$BIN/lpm-accounting" fingerprint --data "$ROOT/accounting"
    ACCT_FP=$STEP_OUT
  fi

  echo "workstation agent"
  # A test may add users and bindings here (it sets NET_EXTRA_BINDS to more <Bind/> elements).
  if declare -F net_hook_before_agent >/dev/null; then net_hook_before_agent; fi
  # The control socket lives outside the agent's private folder, so other local users reach it.
  mkdir -p "$ROOT/run"
  chmod 755 "$ROOT/run"
  AGENT_SOCK=$ROOT/run/agent.sock
  AGENT_CONF=$ROOT/agent/configuration.xml
  mkdir -p "$ROOT/agent"
  chmod 700 "$ROOT/agent"
  # NET_AGENT_USER=ACCOUNT runs the agent as that unprivileged account (a service account, as
  # installed): it owns its data folder and the socket folder; ROOT must be traversable.
  local as_agent=()
  if [[ -n ${NET_AGENT_USER:-} ]]; then
    chown "$NET_AGENT_USER:" "$ROOT/agent" "$ROOT/run"
    as_agent=(setpriv --reuid="$NET_AGENT_USER" --regid="$(id -g "$NET_AGENT_USER")" --clear-groups --)
  fi
  net_agent_config "$AGENT_CONF" "$ROOT/agent" "$AGENT_SOCK" 127.0.0.1 127.0.0.1 "${NET_IPP_PORT:-0}" \
    "${NET_RAW_PORT:-0}"
  step "write configuration.xml (binds OS account $(id -un) to the user)" true
  [[ -z ${NET_AGENT_USER:-} ]] || chown "$NET_AGENT_USER:" "$AGENT_CONF"
  step "create the agent's identity" "${as_agent[@]}" "$BIN/lpm-agent" init --config "$AGENT_CONF"
  step "enroll the workstation with the directory" "${as_agent[@]}" "$BIN/lpm-agent" enroll --config "$AGENT_CONF" \
    --token "$TOKEN_WORKSTATION"
  WS_ID=$(awk '/^workstation /{print $2; exit}' <<<"$STEP_OUT")
  # The directory takes a workstation's held jobs only for users who logged in there or whom an
  # administrator bound to it: bind the users configuration.xml binds (as a client package would).
  local bound
  for bound in $(grep -o 'user="[^"]*"' "$AGENT_CONF" | cut -d'"' -f2 | sort -u); do
    step "bind user $bound to the workstation at the directory" "$BIN/lpm-directory" workstation bind \
      --data "$ROOT/directory" --workstation "$WS_ID" --user "$bound"
  done
  t0=$(net_ms)
  net_start agent "$logs" "${as_agent[@]}" "$BIN/lpm-agent" serve --config "$AGENT_CONF"
  AGENT_PORT=$NET_PORT
  AGENT_PID=${NET_PIDS[-1]}
  # The capture listeners' ports (lines "ipp PORT" and "raw PORT" before "ready").
  AGENT_IPP_PORT=$(awk '/^ipp /{print $2; exit}' "$logs/agent.out")
  AGENT_RAW_PORT=$(awk '/^raw /{print $2; exit}' "$logs/agent.out")
  printf '  %-62s %5d ms\n' "start lpm-agent (release service 127.0.0.1:$AGENT_PORT)" $(($(net_ms) - t0))

  echo "release station"
  step "create the station's identity" "$BIN/lpm-release" init --data "$ROOT/printer"
  step "enroll the printer with the directory" "$BIN/lpm-release" enroll --data "$ROOT/printer" \
    --directory "$dir_addr" --directory-fingerprint "$DIR_FP" --token "$TOKEN_PRINTER" --name "Printer 2nd floor"
}

# net_add_agent NAME SERVER_HOST RELEASE_HOST [RUNNER...]: one more workstation, after net_up.
# Its data folder is ROOT/NAME, its control socket ROOT/run/NAME.sock; it enrolls as NAME with a
# token of its own, and the users its configuration binds are bound to it at the directory. It
# reaches the directory and the accounting server at SERVER_HOST and serves releases on
# RELEASE_HOST; RUNNER (e.g. nsenter --net=...) runs its init, enroll and serve. Sets XA_CONF,
# XA_SOCK, XA_WS_ID, XA_PORT (release port) and XA_PID.
net_add_agent() {
  local name=$1 server_host=$2 release_host=$3
  shift 3
  local runner=("$@") data=$ROOT/$name logs=$ROOT/logs token bound
  mkdir -p "$data" "$ROOT/run"
  chmod 700 "$data"
  XA_CONF=$data/configuration.xml
  XA_SOCK=$ROOT/run/$name.sock
  net_agent_config "$XA_CONF" "$data" "$XA_SOCK" "$release_host" "$server_host" 0 0
  token=$("$BIN/lpm-directory" token create --data "$ROOT/directory" --kind workstation) ||
    net_die "no enrollment token for $name"
  "${runner[@]}" "$BIN/lpm-agent" init --config "$XA_CONF" >"$logs/$name-init.out" 2>&1 ||
    net_die "lpm-agent init for $name failed"
  "${runner[@]}" "$BIN/lpm-agent" enroll --config "$XA_CONF" --token "$token" --name "$name" \
    >"$logs/$name-enroll.out" 2>&1 || net_die "agent $name did not enroll: $(cat "$logs/$name-enroll.out")"
  XA_WS_ID=$(awk '/^workstation /{print $2; exit}' "$logs/$name-enroll.out")
  [[ -n $XA_WS_ID ]] || net_die "agent $name printed no workstation id"
  for bound in $(grep -o 'user="[^"]*"' "$XA_CONF" | cut -d'"' -f2 | sort -u); do
    "$BIN/lpm-directory" workstation bind --data "$ROOT/directory" --workstation "$XA_WS_ID" --user "$bound" \
      >/dev/null || net_die "cannot bind $bound to $name"
  done
  net_start "$name" "$logs" "${runner[@]}" "$BIN/lpm-agent" serve --config "$XA_CONF"
  XA_PORT=$NET_PORT
  XA_PID=${NET_PIDS[-1]}
}

# Waits (at most 5 s) until the newest agent has told the directory about its latest stored job:
# registration is asynchronous, so a badge-in right after `lpm print` could otherwise come first.
net_wait_registered() {
  local log i last
  log=$(ls -t "$ROOT"/logs/agent*.log 2>/dev/null | head -n 1)
  [[ -n $log ]] || return 0
  for ((i = 0; i < 100; i++)); do
    last=$(grep -E ' job [0-9a-f-]+ held for |registered held jobs' "$log" | tail -n 1)
    [[ -z $last || $last == *"registered held jobs"* ]] && return 0
    sleep 0.05
  done
}

# net_release BADGE: one station run for one badge; the device is NET_DEVICE (default: a folder,
# file://$DEVICE_DIR). Sets STEP_OUT (its output) and RELEASE_MS.
net_release() {
  local badge=$1
  local t0 rc
  net_wait_registered
  t0=$(net_ms)
  set +e
  STEP_OUT=$(printf '%s\n' "$badge" | "$BIN/lpm-release" run --data "$ROOT/printer" \
    --directory "127.0.0.1:$DIR_PORT" --directory-fingerprint "$DIR_FP" --device "${NET_DEVICE:-file://$DEVICE_DIR}" \
    --name "Printer 2nd floor" 2>"$ROOT/logs/release.log")
  rc=$?
  set -e
  RELEASE_MS=$(($(net_ms) - t0))
  if [[ $rc -ne 0 ]]; then
    cat "$ROOT/logs/release.log" >&2
    return $rc
  fi
}

# net_in_own_netns: true only when this process runs in a network namespace other than the
# machine's. The machine's is LPM_HOST_NETNS, which a script records before it re-runs itself
# under `unshare --net` (/proc/1/ns/net is not readable everywhere: in a container it is
# refused, and an empty answer must not pass for "elsewhere").
net_in_own_netns() {
  local host=${LPM_HOST_NETNS:-} here
  [[ -n $host ]] || host=$(readlink /proc/1/ns/net 2>/dev/null || true)
  here=$(readlink /proc/self/ns/net 2>/dev/null || true)
  [[ -n $host && -n $here && $here != "$host" ]]
}

# net_far_ns NEAR_IF FAR_IF NEAR_ADDR FAR_ADDR: a second network namespace, held by a sleeping
# process, joined to the caller's (which must be a namespace of the caller's own: unshare --net)
# by a veth pair, NEAR_IF here with NEAR_ADDR/24 and FAR_IF there with FAR_ADDR/24, loopback up
# on both sides. Sets NET_HOLDER (the holder's PID; net_far_ns_down stops it) and FAR_NS, the
# command prefix that runs a command there (nsenter --net=...).
net_far_ns() {
  local near_if=$1 far_if=$2 near_addr=$3 far_addr=$4 own_ns i
  own_ns=$(readlink /proc/self/ns/net)
  net_in_own_netns || net_die "net_far_ns: not in a network namespace of the caller's own (run under unshare --net)"
  ip link set lo up
  unshare --net -- sleep 3600 &
  NET_HOLDER=$!
  for ((i = 0; i < 100; i++)); do
    [[ $(readlink "/proc/$NET_HOLDER/ns/net" 2>/dev/null) != "$own_ns" ]] && break
    sleep 0.05
  done
  [[ $(readlink "/proc/$NET_HOLDER/ns/net" 2>/dev/null) != "$own_ns" ]] ||
    net_die "the holder process did not get a network namespace of its own"
  FAR_NS=(nsenter "--net=/proc/$NET_HOLDER/ns/net" --)
  ip link add "$near_if" type veth peer name "$far_if" netns "$NET_HOLDER"
  ip addr add "$near_addr/24" dev "$near_if"
  ip link set "$near_if" up
  "${FAR_NS[@]}" ip link set lo up
  "${FAR_NS[@]}" ip addr add "$far_addr/24" dev "$far_if"
  "${FAR_NS[@]}" ip link set "$far_if" up
}

# Stops the process that holds net_far_ns's namespace (the namespace goes with it).
net_far_ns_down() {
  [[ -n ${NET_HOLDER:-} ]] || return 0
  kill -TERM "$NET_HOLDER" 2>/dev/null || true
  wait "$NET_HOLDER" 2>/dev/null || true
  NET_HOLDER=
}
