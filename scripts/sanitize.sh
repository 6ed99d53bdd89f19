#!/usr/bin/env bash
# Builds aiok with AddressSanitizer and UndefinedBehaviorSanitizer in build-asan/ (GCC, as the
# Release build; the libtorch plugin included) and runs the test suite under them with CTest.
#
#   scripts/sanitize.sh [--no-torch] [CTEST ARGS...]   e.g. scripts/sanitize.sh -R 'TextTable|Pipeline'
#
# --no-torch builds only the torch-free libraries and their tests (AIOK_TORCH=OFF, in
# build-asan-notorch/): core, data, etl, loader, tune, serving's bundle/request/HTTP layers,
# the `aiok` binary without its plugin, and the fuzz replays. It takes minutes, and
# scripts/test.sh (so CI) runs it on every submission; the whole suite takes about an hour.
#
# Every report fails the run, including those of the `aiok` processes the CLI tests start
# (whose exit codes a test may expect to be non-zero anyway): reports are written to
# <build>/sanitizer-logs/, listed at the end, and any there makes the script exit 1.
#
# libtorch (Debian's libtorch-dev) is not instrumented, but it runs under ASan: the plugin and
# every aiok library are, so their own memory errors are caught while libtorch's are not.
# Leak checking is off: libtorch, OpenMP and MPI keep process-lifetime allocations that LSan
# reports as leaks at exit; the fuzzers (scripts/fuzz.sh) check aiok's parsers for leaks.
#
# Compiling takes the shared build lock (/tmp/aiok-build.lock). A first build takes about
# as long as the Release one (~20-25 min on 2 cores).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo_root/build-asan"
torch=ON
if [ "${1:-}" = "--no-torch" ]; then
  shift
  build="$repo_root/build-asan-notorch"
  torch=OFF
fi
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo_root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DAIOK_BUILD_BENCH=OFF -DAIOK_TORCH=$torch >/dev/null
fi
echo "sanitize.sh: building in $build (waiting for /tmp/aiok-build.lock if needed)"
flock /tmp/aiok-build.lock cmake --build "$build" -j "$(nproc)"

logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
# halt_on_error/abort: the first report stops the process; log_path: one file per process.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
status=0
(cd "$build" && ctest --output-on-failure -j "$(nproc)" --timeout 1500 "$@") || status=$?

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  echo "sanitize.sh: sanitizer reports:" >&2
  for f in $reports; do
    echo "== $f" >&2
    grep -m 5 -E 'ERROR: |runtime error|SUMMARY' "$f" >&2 || head -n 5 "$f" >&2
  done
  exit 1
fi
[ "$status" -eq 0 ] || { echo "sanitize.sh: tests failed under the sanitizers" >&2; exit "$status"; }
echo "sanitize.sh: all tests passed, no sanitizer report"
