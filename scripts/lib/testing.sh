# Shared by tests/integration/*.sh: a temp ROOT removed at exit (the last log lines shown when
# the test failed), `fail`, `check`, `wait_for`. Source scripts/lib/network.sh first.
#
#   it_begin [PREFIX]      makes ROOT (/tmp/PREFIX.XXXXXX) and arranges the cleanup at exit
#   it_at_exit FUNCTION    runs FUNCTION at exit, before the network goes down (newest first)
#   check "what" CMD...    runs CMD; prints "ok - what" (unless IT_QUIET=1) or fails the test
#   fail "message"         prints "FAIL: message" and exits 1
#   wait_for SECONDS CMD...  polls CMD every 50 ms until it succeeds; 1 when time runs out
#   it_mount_ns_options    unshare's options for a mount namespace whose mounts stay in it
# IT_PASSED counts passed checks; IT_FAIL_NOTE is printed with the logs of a failed test;
# IT_KEEP=1 keeps ROOT for a look afterwards.

IT_AT_EXIT=()
IT_PASSED=0
IT_QUIET=${IT_QUIET:-0}
IT_FAIL_NOTE=${IT_FAIL_NOTE:-}

it_at_exit() { IT_AT_EXIT+=("$1"); }

it_begin() {
  ROOT=$(mktemp -d "/tmp/${1:-lpm-it}.XXXXXX")
  trap it_end EXIT
}

it_end() {
  local rc=$? i f
  for ((i = ${#IT_AT_EXIT[@]} - 1; i >= 0; i--)); do "${IT_AT_EXIT[i]}" || true; done
  net_down
  if [[ $rc -ne 0 ]]; then
    echo "---- logs ($ROOT/logs) ${IT_FAIL_NOTE} ----" >&2
    for f in "$ROOT"/logs/*.log "$ROOT"/logs/*.out "$ROOT"/cups/log/error_log; do
      [[ -s $f ]] || continue
      echo "== $f" >&2
      tail -n 30 "$f" >&2
    done
  fi
  if [[ -n ${IT_KEEP:-} ]]; then echo "kept $ROOT" >&2; else rm -rf "$ROOT"; fi
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

check() {
  local what=$1
  shift
  if "$@"; then
    IT_PASSED=$((IT_PASSED + 1))
    [[ $IT_QUIET == 1 ]] || echo "ok - $what"
    return 0
  fi
  fail "$what"
}

# A mount namespace with private propagation; inside a chroot (a fresh root: "/" is not a mount
# point there, so unshare cannot change its propagation) the namespace keeps the propagation it
# has, which is only safe when no mount is shared: then nothing mounted inside can reach another
# namespace. Fails (1) when neither holds.
it_mount_ns_options() {
  if unshare --mount --propagation private true 2>/dev/null; then
    echo "--mount --propagation private"
  elif ! grep -q ' shared:' /proc/self/mountinfo; then
    echo "--mount --propagation unchanged"
  else
    return 1
  fi
}

wait_for() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 20; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}
