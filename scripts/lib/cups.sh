# Shared by integration tests and benchmarks: a private cupsd in a temp folder (PEERS.md), on a
# loopback port and a Unix socket of its own, never the machine's CUPS. Stopped by PID.
#
# Usage: source this file, then
#   cups_up DIR [PORT]     start cupsd with everything under DIR; sets CUPS_SERVER (its socket),
#                          CUPS_PID, CUPS_PORT; exports CUPS_SERVER for lp/lpadmin/lpstat
#   cups_down              stop it (SIGTERM, then SIGKILL after 5 s)
# CUPS_PRINTERS_CONF=FILE starts cupsd with that printers.conf (queues defined beforehand).
# CUPS_SYNC_ON_CLOSE=Yes makes cupsd fsync the state files it writes (job control files, job
# cache, configuration; not the document files). cupsd writes a job's control file only when its
# dirty-state timer fires, CUPS_DIRTY_CLEAN_INTERVAL seconds (default 30) after the change, and
# after it answered the client; 0 writes it at the next pass of its main loop.

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

cups_up() {
  local dir=$1
  CUPS_PORT=${2:-$(free_port)}
  mkdir -p "$dir"/{etc,spool,cache,state,log,tmp,ppd}
  # Filters run as lp and need this exact ownership and mode (PEERS.md).
  chown root:lp "$dir/tmp" "$dir/spool"
  chmod 1770 "$dir/tmp"
  chmod 0710 "$dir/spool"
  cp -r /etc/cups/ppd "$dir/etc/" 2>/dev/null || true
  cat >"$dir/etc/cups-files.conf" <<CONF
ServerRoot $dir/etc
RequestRoot $dir/spool
CacheDir $dir/cache
StateDir $dir/state
TempDir $dir/tmp
ServerKeychain $dir/etc/ssl
AccessLog $dir/log/access_log
ErrorLog $dir/log/error_log
PageLog $dir/log/page_log
Printcap
User lp
Group lp
SyncOnClose ${CUPS_SYNC_ON_CLOSE:-No}
CONF
  cat >"$dir/etc/cupsd.conf" <<CONF
LogLevel ${CUPS_LOG_LEVEL:-warn}
Listen 127.0.0.1:$CUPS_PORT
Listen $dir/cups.sock
Browsing No
BrowseLocalProtocols none
DefaultAuthType None
WebInterface No
MaxJobs 0
PreserveJobHistory Yes
DirtyCleanInterval ${CUPS_DIRTY_CLEAN_INTERVAL:-30}
<Location />
  Order allow,deny
  Allow from all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
CONF
  # CUPS_PRINTERS_CONF=FILE: start with those queues (a client package's install --root wrote it).
  if [[ -n ${CUPS_PRINTERS_CONF:-} ]]; then install -m 600 "$CUPS_PRINTERS_CONF" "$dir/etc/printers.conf"; fi
  cupsd -f -c "$dir/etc/cupsd.conf" -s "$dir/etc/cups-files.conf" >"$dir/log/cupsd.out" 2>&1 &
  CUPS_PID=$!
  export CUPS_SERVER=$dir/cups.sock
  local i
  for ((i = 0; i < 200; i++)); do
    if [[ -S $CUPS_SERVER ]] && lpstat -r >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$CUPS_PID" 2>/dev/null; then
      cat "$dir/log/cupsd.out" "$dir/log/error_log" >&2 2>/dev/null || true
      echo "cupsd exited before it was ready" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "cupsd was not ready within 10 s" >&2
  return 1
}

cups_down() {
  [[ -n ${CUPS_PID:-} ]] || return 0
  local n
  kill -TERM "$CUPS_PID" 2>/dev/null || true
  for ((n = 0; n < 100; n++)); do
    kill -0 "$CUPS_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$CUPS_PID" 2>/dev/null || true
  wait "$CUPS_PID" 2>/dev/null || true
  CUPS_PID=
}
