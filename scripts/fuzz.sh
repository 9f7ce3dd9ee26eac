#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in their own tree and runs each for a while.
# New inputs the fuzzer finds go to BUILD/corpus/<target> (the committed seeds in
# fuzz/corpus/<target> are read, never written; NAME.hex seeds are decoded into BUILD/seeds first);
# crashes go to BUILD/artifacts/. To keep a crash as a regression test, commit it as hex
# (`od -An -v -tx1 FILE | tr -d ' ' > fuzz/corpus/<target>/NAME.hex`): the replay tests
# (fuzz.replay.<target>) then run it on every test command.
# Needs the Debian packages clang-14 and libfuzzer-14-dev.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]   (env: BUILD=build-fuzz, JOBS=2)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(fuzz_frame fuzz_msgpack fuzz_ticket fuzz_session fuzz_config fuzz_page_count fuzz_ipp_request fuzz_csv fuzz_station_input)
build=${BUILD:-$root/build-fuzz}
jobs=${JOBS:-2}

for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found (apt-get install clang-14 libfuzzer-14-dev)" >&2; exit 1; }
done
if ! compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  echo "fuzz.sh: libFuzzer runtime not found (apt-get install libfuzzer-14-dev)" >&2
  exit 1
fi

CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLPM_FUZZ=ON -DLPM_SANITIZE=ON >/dev/null
cmake --build "$build" --target "${targets[@]}" -j "$jobs"

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t"
  rm -rf "$build/seeds/$t"
  mkdir -p "$build/seeds/$t"
  for seed in "$root/fuzz/corpus/$t"/*; do
    name=$(basename "$seed")
    if [[ $name == *.hex ]]; then
      perl -0777 -ne 's/\s+//g; print pack("H*", $_)' "$seed" >"$build/seeds/$t/${name%.hex}"
    else
      cp "$seed" "$build/seeds/$t/$name"
    fi
  done
  echo "== $t: ${seconds}s"
  if ! "$build/bin/$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" "$build/seeds/$t"; then
    echo "fuzz.sh: $t found a crash; see $build/artifacts/" >&2
    status=1
  fi
done
exit $status
