#!/usr/bin/env bash
# Soak runs, not part of the test command: the agent's crash test (tests/integration/
# store_crash.sh) for hundreds of random rounds, each killing the agent at a random fault point
# and checking after the restart that every job whose submission succeeded is there and whole and
# nothing partial is visible; at the end every held job is released and compared byte for byte.
# Half the rounds submit with `lpm print` (points store.after_write, store.after_fsync,
# store.after_commit), half as IPP Print-Job requests (the same points and ipp.before_response).
# Then the accounting fault test (tests/integration/accounting_faults.sh) with ACCT_ROUNDS rounds
# at each of its four points (outbox.after_post, accounting.after_commit, accounting.before_ack,
# outbox.before_delete): every record stored once, the outbox emptied.
# Usage: scripts/soak.sh [BUILD_DIR] (env: ROUNDS=300 per path, SEED=<random>, ACCT_ROUNDS=100;
# `make soak`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
export STORE_CRASH_ROUNDS=${ROUNDS:-300}
export STORE_CRASH_SEED=${SEED:-$RANDOM$RANDOM}
for path in lpm ipp; do
  echo "soak: $STORE_CRASH_ROUNDS rounds submitting with $path"
  STORE_CRASH_SUBMIT=$path bash "$here/../tests/integration/store_crash.sh" "$BUILD/bin"
done
echo "soak: ${ACCT_ROUNDS:-100} rounds at each accounting fault point"
ACCT_FAULT_ROUNDS=${ACCT_ROUNDS:-100} bash "$here/../tests/integration/accounting_faults.sh" "$BUILD/bin"
