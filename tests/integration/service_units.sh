#!/usr/bin/env bash
# Issue 7, the services' systemd units (packaging/systemd/): each is Type=notify (READY=1 is
# tested in service_notify.sh and package_install.sh), restarts on failure, runs as its own
# account, and is hardened: NoNewPrivileges, ProtectSystem=strict, PrivateTmp, writable paths
# limited to its data folder (and the agent's socket folder). `systemd-analyze security
# --offline=yes` rates each unit's exposure at 2.5 or below (its --threshold is in tenths).
set -euo pipefail
BIN=$(cd "${1:?usage: service_units.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/network.sh"
source "$here/../../scripts/lib/testing.sh"
: "$BIN"

it_begin lpm-units
units=$here/../../packaging/systemd
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (package systemd; ./bootstrap.sh deps installs it)"

has() { grep -qx "$2" "$units/$1.service"; }
for unit in lpm-agent lpm-directory lpm-accounting lpm-release; do
  file=$units/$unit.service
  check "$unit: Type=notify" has "$unit" "Type=notify"
  check "$unit: restarts on failure" has "$unit" "Restart=on-failure"
  check "$unit: runs as its own account ($unit)" has "$unit" "User=$unit"
  for line in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes "CapabilityBoundingSet="; do
    check "$unit: $line" has "$unit" "$line"
  done
  allowed="/var/lib/$unit"
  [[ $unit != lpm-agent ]] || allowed="/var/lib/lpm-agent /run/lpm"
  check "$unit: writes only to $allowed" test "$(sed -n 's/^ReadWritePaths=//p' "$file")" = "$allowed"
  exposure=$(systemd-analyze security --offline=yes "$file" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  check "$unit: systemd-analyze security --offline=yes rates its exposure $exposure (at most 2.5)" \
    systemd-analyze security --offline=yes --threshold=25 "$file" >/dev/null 2>&1
done
echo "service_units: $IT_PASSED checks passed"
