#!/usr/bin/env bash
# install.sh: installs an LPM client package (made by `lpm package create`) on a Debian
# workstation. It reads configuration.xml, the lpm-agent .deb and enrollment.token from its own
# folder only (PK-5), never from the current directory or $PATH.
#
#   ./install.sh                 install on this machine (as root)
#   ./install.sh --no-start      install, but do not start the agent (nor enroll it)
#   ./install.sh --root DIR      install into another root (an image being prepared); nothing
#                                on this machine changes, no service starts
#   ./install.sh --uninstall [--root DIR]   undo everything an install did
#
# Steps: the .deb; /etc/lpm/configuration.xml (0600, the agent's own account); the agent's
# identity and enrollment with the directory, then the token is deleted; the systemd unit
# enabled and started (where systemd runs); the CUPS queue `lpadmin -p QUEUE -E -v
# ipp://127.0.0.1:PORT/ipp/print -m everywhere` (made the default printer when the package says
# so); the release port opened in an active ufw or firewalld. Each step is written to a
# manifest (/var/lib/lpm-install/manifest) so --uninstall undoes exactly what was done. A step
# that fails undoes the steps before it: nothing is left half installed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=""
NO_START=0
UNINSTALL=0

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

say() { echo "install.sh: $*"; }

while [[ $# -gt 0 ]]; do
  case $1 in
  --root)
    [[ $# -ge 2 && -n $2 ]] || die "--root needs a folder"
    ROOT_DIR=$2
    shift 2
    ;;
  --root=*)
    ROOT_DIR=${1#--root=}
    shift
    ;;
  --no-start)
    NO_START=1
    shift
    ;;
  --uninstall)
    UNINSTALL=1
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die "unknown option \"$1\" (see --help)" ;;
  esac
done

if [[ -n $ROOT_DIR ]]; then
  [[ -d $ROOT_DIR ]] || die "--root $ROOT_DIR: no such folder"
  P=$(cd "$ROOT_DIR" && pwd)
  [[ $P != / ]] || P=""
else
  P=""
  [[ $EUID -eq 0 ]] || die "run it as root (sudo $0), or give --root DIR"
fi
LIVE=0
[[ -n $ROOT_DIR ]] || LIVE=1
MANIFEST_DIR=$P/var/lib/lpm-install
MANIFEST=$MANIFEST_DIR/manifest

systemd_runs() { [[ $LIVE -eq 1 && -d /run/systemd/system ]]; }

# ---- the manifest: one line per thing done, undone newest first ----------------------------

record() { printf '%s\n' "$*" >>"$MANIFEST"; }

# mkdirs DIR: creates DIR and its missing parents, recording each one it made.
mkdirs() {
  local dir=$1 missing=() d
  d=$dir
  while [[ -n $d && $d != / && ! -d $d ]]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname "$d")
  done
  for d in "${missing[@]}"; do
    mkdir "$d"
    record "dir $d"
  done
}

# put SRC DEST MODE: copies a file, recording it (a file already there is refused: we would
# not know how to give it back).
put() {
  local src=$1 dest=$2 mode=$3
  [[ ! -e $dest ]] || die "$dest already exists"
  mkdirs "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest"
  record "file $dest"
}

undo_line() {
  local kind=$1 arg=$2
  case $kind in
  file) rm -f "$arg" ;;
  dir)
    [[ $arg != "$MANIFEST_DIR" ]] || rm -f "$MANIFEST"
    rmdir "$arg" 2>/dev/null || echo "install.sh: $arg is not empty: left in place" >&2
    ;;
  tree) rm -rf "$arg" ;;
  deb) dpkg --purge "$arg" >/dev/null 2>&1 || echo "install.sh: dpkg --purge $arg failed" >&2 ;;
  unit) systemctl disable --now "$arg" >/dev/null 2>&1 || true ;;
  queue) lpadmin -x "$arg" 2>/dev/null || echo "install.sh: lpadmin -x $arg failed" >&2 ;;
  printers-conf) remove_printer_block "${arg%% *}" "${arg#* }" ;;
  ufw) ufw delete allow "$arg/tcp" >/dev/null 2>&1 || true ;;
  firewalld)
    firewall-cmd --permanent --remove-port="$arg/tcp" >/dev/null 2>&1 || true
    firewall-cmd --reload >/dev/null 2>&1 || true
    ;;
  *) echo "install.sh: manifest line \"$kind $arg\" not understood (left alone)" >&2 ;;
  esac
}

undo_all() {
  [[ -f $MANIFEST ]] || return 0
  local lines=() i line
  mapfile -t lines <"$MANIFEST"
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    line=${lines[i]}
    [[ -n $line ]] || continue
    undo_line "${line%% *}" "${line#* }"
  done
  rm -f "$MANIFEST" # when its folder was there before the install
}

# start_manifest: the manifest's folder (and its missing parents, recorded first, so they are
# undone last) and an empty manifest.
start_manifest() {
  local missing=() d=$MANIFEST_DIR
  while [[ -n $d && $d != / && ! -d $d ]]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname "$d")
  done
  mkdir -p "$MANIFEST_DIR"
  : >"$MANIFEST"
  for d in "${missing[@]}"; do record "dir $d"; done
}

# ---- CUPS queue definitions in another root ------------------------------------------------

# remove_printer_block FILE QUEUE: drops <Printer QUEUE> or <DefaultPrinter QUEUE> from a
# printers.conf the install added it to; the file goes too when nothing else is left in it.
remove_printer_block() {
  local file=$1 queue=$2
  [[ -f $file ]] || return 0
  awk -v q="$queue" '
    $0 == "<Printer " q ">" || $0 == "<DefaultPrinter " q ">" { skip = 1; next }
    skip && ($0 == "</Printer>" || $0 == "</DefaultPrinter>") { skip = 0; next }
    !skip { print }' "$file" >"$file.lpm-tmp"
  if grep -q '[^[:space:]]' "$file.lpm-tmp"; then
    cat "$file.lpm-tmp" >"$file"
    rm -f "$file.lpm-tmp"
  else
    rm -f "$file.lpm-tmp" "$file"
  fi
}

if [[ $UNINSTALL -eq 1 ]]; then
  [[ -f $MANIFEST ]] || die "nothing to uninstall: no $MANIFEST"
  say "uninstalling (held jobs on this workstation are deleted with the agent's data)"
  undo_all
  say "uninstalled"
  exit 0
fi

# ---- install ---------------------------------------------------------------------------------

config=$HERE/configuration.xml
[[ -f $config ]] || die "configuration.xml must be in the same folder as install.sh ($HERE)"
debs=("$HERE"/lpm-agent_*.deb)
[[ -f ${debs[0]} ]] || die "no lpm-agent_*.deb beside install.sh in $HERE"
[[ ${#debs[@]} -eq 1 ]] || die "more than one lpm-agent_*.deb in $HERE"
deb=${debs[0]}
token_file=$HERE/enrollment.token
[[ ! -f $MANIFEST ]] || die "already installed (run install.sh --uninstall first: a package's modes change only by reinstalling, PK-9)"

# Checks that need no change come first, so a refusal leaves nothing to undo.
if [[ $LIVE -eq 0 ]]; then
  printers_conf=$P/etc/cups/printers.conf
  if [[ -f $printers_conf ]] && grep -q '^<DefaultPrinter ' "$printers_conf" &&
    grep -q '<DefaultPrinter>[^<]' "$config"; then
    die "$printers_conf already has a default printer and the package makes its queue the default: nothing installed"
  fi
fi
[[ ! -e $P/etc/lpm/configuration.xml ]] ||
  die "$P/etc/lpm/configuration.xml already exists (another install?): nothing installed"

start_manifest

failed() {
  local rc=$?
  trap - EXIT
  if [[ $rc -ne 0 ]]; then
    echo "install.sh: install failed; undoing what it did" >&2
    undo_all
  fi
  rm -f "${errors:-}" "${tmp_token:-}"
  [[ -z ${staging:-} ]] || rm -rf "$staging"
  exit $rc
}
trap failed EXIT

# 1. The agent's files.
if [[ $LIVE -eq 1 ]]; then
  say "installing $(basename "$deb")"
  if command -v apt-get >/dev/null; then
    # apt-get pulls the runtime libraries the .deb depends on.
    apt-get install -y -qq --no-install-recommends "$deb" >/dev/null || die "apt-get could not install $deb"
  else
    dpkg -i "$deb" >/dev/null || die "dpkg could not install $deb"
  fi
  record "deb lpm-agent"
  agent=/usr/bin/lpm-agent
else
  say "unpacking $(basename "$deb") into $P"
  staging=$(mktemp -d)
  dpkg-deb -x "$deb" "$staging"
  while IFS= read -r d; do
    mkdirs "$P/${d#"$staging"/}"
  done < <(find "$staging" -mindepth 1 -type d | sort)
  while IFS= read -r -d '' f; do
    rel=${f#"$staging"/}
    put "$f" "$P/$rel" "$(stat -c %a "$f")"
  done < <(find "$staging" -type f -print0)
  rm -rf "$staging"
  agent=$P/usr/bin/lpm-agent
fi

# 2. What the configuration says (checked by the agent itself before anything uses it).
settings=$("$agent" check-config --config "$config") || die "configuration.xml is not valid (above); nothing installed"
get() { sed -n "s/^$1=//p" <<<"$settings"; }
queue=$(get queue)
default_printer=$(get default_printer)
capture_host=$(get capture_host)
capture_port=$(get capture_port)
release_port=$(get release_port)
data_folder=$(get data_folder)

# 3. configuration.xml, 0600, readable by the agent's account only.
put "$config" "$P/etc/lpm/configuration.xml" 600
if [[ $LIVE -eq 1 ]]; then
  chown lpm-agent:lpm-agent "$P/etc/lpm/configuration.xml"
fi

# 4. Identity and enrollment (the agent's account owns its data folder).
as_agent=()
agent_args=(--config "$P/etc/lpm/configuration.xml")
if [[ $LIVE -eq 1 ]]; then
  as_agent=(runuser -u lpm-agent --)
else
  agent_args+=(--data-dir "$P$data_folder")
fi
if [[ ! -e $P$data_folder ]]; then
  mkdirs "$(dirname "$P$data_folder")"
  record "tree $P$data_folder"
  if [[ $LIVE -eq 1 ]]; then
    install -d -m 700 -o lpm-agent -g lpm-agent "$data_folder"
  fi
fi
errors=$(mktemp)
"${as_agent[@]}" "$agent" init "${agent_args[@]}" >/dev/null 2>"$errors" || die "lpm-agent init failed: $(cat "$errors")"
enrolled=no
token_used=0
# Already enrolled (the data folder outlived an earlier install): no token is spent again.
state=$("${as_agent[@]}" "$agent" check-config "${agent_args[@]}") || die "lpm-agent check-config failed"
if [[ $(sed -n 's/^enrolled=//p' <<<"$state") == yes ]]; then
  enrolled=yes
  say "this workstation's agent is already enrolled"
elif [[ -f $token_file ]]; then
  say "enrolling this workstation with the directory"
  tmp_token=$(mktemp)
  cat "$token_file" >"$tmp_token"
  [[ $LIVE -eq 0 ]] || chown lpm-agent "$tmp_token"
  if ! out=$("${as_agent[@]}" "$agent" enroll "${agent_args[@]}" --token-file "$tmp_token" 2>"$errors"); then
    rm -f "$tmp_token"
    die "enrollment failed: $(cat "$errors")"
  fi
  rm -f "$tmp_token"
  enrolled=yes
  token_used=1
  say "$out"
else
  say "the package has no enrollment token: enroll with lpm-agent enroll --token-file FILE"
fi

# 5. The service.
unit=lpm-agent.service
if systemd_runs; then
  systemctl daemon-reload
  systemctl enable "$unit" >/dev/null
  record "unit $unit"
  if [[ $NO_START -eq 0 && $enrolled == yes ]]; then
    say "starting $unit"
    # Type=notify: this returns once the agent's listeners accept connections.
    systemctl start "$unit" || die "$unit did not start (journalctl -u $unit)"
  fi
elif [[ $LIVE -eq 0 ]]; then
  link=$P/etc/systemd/system/multi-user.target.wants/$unit
  mkdirs "$(dirname "$link")"
  ln -s "/usr/lib/systemd/system/$unit" "$link"
  record "file $link"
else
  say "systemd is not running here: start the agent yourself (lpm-agent serve --config /etc/lpm/configuration.xml)"
fi

# 6. The CUPS queue that feeds the agent.
uri="ipp://$capture_host:$capture_port/ipp/print"
if [[ $LIVE -eq 1 ]]; then
  if command -v lpadmin >/dev/null; then
    model=(-m everywhere)
    # -m everywhere asks the agent for its attributes: it must be up.
    if ! systemctl is-active --quiet "$unit" 2>/dev/null; then
      model=()
      say "the agent is not running: queue $queue made without a model (documents pass unchanged to the agent)"
    fi
    lpadmin -p "$queue" -E -v "$uri" "${model[@]}" -D "Serverless print release" -L "held on this workstation" ||
      die "lpadmin could not create queue $queue"
    record "queue $queue"
    if [[ -n $default_printer ]]; then lpadmin -d "$default_printer"; fi
  else
    say "CUPS is not installed (no lpadmin): no print queue made"
  fi
else
  # In another root no cupsd answers lpadmin: the queue is written where that root's cupsd
  # reads it at start (a queue without a model: documents go unchanged to the agent).
  conf=$P/etc/cups/printers.conf
  tag=Printer
  [[ $default_printer != "$queue" ]] || tag=DefaultPrinter
  if [[ -f $conf ]] && grep -q -e "^<Printer $queue>" -e "^<DefaultPrinter $queue>" "$conf"; then
    die "$conf already defines $queue"
  fi
  if [[ ! -f $conf ]]; then
    mkdirs "$(dirname "$conf")"
    : >"$conf"
    chmod 600 "$conf"
    record "file $conf"
  fi
  cat >>"$conf" <<CONF
<$tag $queue>
Info Serverless print release
Location held on this workstation
DeviceURI $uri
State Idle
StateTime $(date +%s)
Type 4
Accepting Yes
Shared No
JobSheets none none
QuotaPeriod 0
PageLimit 0
KLimit 0
OpPolicy default
ErrorPolicy retry-job
</$tag>
CONF
  record "printers-conf $conf $queue"
fi

# 7. The release port, where a host firewall is active.
if [[ $LIVE -eq 1 ]]; then
  if command -v ufw >/dev/null && ufw status 2>/dev/null | grep -q '^Status: active'; then
    ufw allow "$release_port/tcp" comment "LPM release" >/dev/null
    record "ufw $release_port"
    say "ufw: opened $release_port/tcp for release stations"
  elif command -v firewall-cmd >/dev/null && firewall-cmd --state >/dev/null 2>&1; then
    firewall-cmd --permanent --add-port="$release_port/tcp" >/dev/null
    firewall-cmd --reload >/dev/null
    record "firewalld $release_port"
    say "firewalld: opened $release_port/tcp for release stations"
  fi
fi

rm -f "$errors"
trap - EXIT
if [[ $token_used -eq 1 ]]; then
  # The token has done its work: it leaves the package folder (kept until now, so that a failed
  # install can be tried again with the same package).
  rm -f "$token_file" || say "could not delete $token_file: delete it by hand"
fi
say "installed: queue $queue -> agent (release port $release_port)$([[ $enrolled == yes ]] && echo ", enrolled")"
