#!/usr/bin/env bash
# The project's two front doors on a fresh Debian 12 machine (run as root):
#   ./bootstrap.sh demo    install what is missing, build, run the whole network on loopback
#   ./bootstrap.sh check   install what is missing, build, run every test (plus ASan/UBSan)
#   ./bootstrap.sh bench   install what is missing, build (optimised), run the benchmarks
#   ./bootstrap.sh deps    only install the packages
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
}

# Debian 12 packages the build and the tests need. Only missing ones are installed.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libmbedtls-dev libmsgpack-cxx-dev libsqlite3-dev
  libpugixml-dev nlohmann-json3-dev libcli11-dev catch2
  sqlite3 procps
  libcups2-dev node-llhttp libqpdf-dev libsystemd-dev libargon2-dev
  cups cups-daemon cups-client cups-ipp-utils cups-filters cups-filters-core-drivers qpdf
  dbus-daemon jq
  systemd # systemd-analyze rates the units' hardening (tests/integration/service_units.sh)
  file # CPack's .deb generator finds the binaries it runs dpkg-shlibdeps on with it
  adduser # lpm-agent.deb's postinst makes its account (tests/integration/package_live_install.sh)
  ufw # install.sh opens the release port in an active ufw (package_live_install.sh, in its own netns)
  libavahi-compat-libdnssd-dev # DNS-SD through Bonjour's dns_sd.h (discovery/dnssd.cpp)
  avahi-daemon avahi-utils # tests/integration/lan_discovery.sh, only inside its network namespaces
  iproute2 # tests/integration/release_blackhole.sh: a veth pair between two network namespaces
  strace # the benchmarks count fsyncs per job with it (scripts/bench_capture.sh)
  tzdata # report days in the zone asked for: /usr/share/zoneinfo (common/lpm/timezone.h)
)

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap.sh: installing packages needs root; run it as root (sudo ./bootstrap.sh $1)," >&2
    echo "or install these yourself and run 'make $1': ${PACKAGES[*]}" >&2
    exit 1
  fi
}

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "all ${#PACKAGES[@]} packages already installed"
    return
  fi
  need_root "$1"
  say "installing ${#missing[@]} missing packages: ${missing[*]}"
  # No package may start a service while it is installed (PEERS.md): policy-rc.d answers 101.
  local policy=/usr/sbin/policy-rc.d
  local had_policy=0
  [[ -e $policy ]] && had_policy=1
  if [[ $had_policy -eq 0 ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [[ $had_policy -eq 0 ]]; then
    rm -f "$policy"
    trap - EXIT
  fi
  say "packages installed"
}

jobs_for_build() {
  local n
  n=$(nproc 2>/dev/null || echo 2)
  echo "$n"
}

configure_build() { # dir build-type target extra-args... (target "all": everything)
  local dir=$1 type=$2 target=$3
  shift 3
  if [[ ! -f $dir/build.ninja ]]; then
    say "configuring $dir ($type)"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DLPM_WERROR=ON "$@" >/dev/null
  fi
  say "building $dir${target:+ ($target)}"
  cmake --build "$dir" -j "$(jobs_for_build)" --target "$target"
}

cmd=${1:-}
case $cmd in
  demo)
    install_missing demo
    configure_build build RelWithDebInfo all
    exec scripts/demo.sh build/bin
    ;;
  check)
    install_missing check
    start=$(date +%s)
    configure_build build RelWithDebInfo all
    say "running every test (build/)"
    (cd build && ctest --output-on-failure -j "$(jobs_for_build)" --timeout 300)
    configure_build build-asan Debug lpm_unit_binaries -DLPM_SANITIZE=ON
    say "running the unit tests again under ASan + UBSan (build-asan/)"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --output-on-failure -j "$(jobs_for_build)" -L unit --timeout 300)
    say "check finished in $(($(date +%s) - start)) s"
    ;;
  bench)
    install_missing bench
    configure_build build RelWithDebInfo all
    exec scripts/bench.sh build
    ;;
  deps)
    install_missing deps
    ;;
  -h|--help|help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
