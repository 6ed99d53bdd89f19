#!/usr/bin/env bash
# Builds aiok's libFuzzer harnesses (fuzz/) with clang, ASan and UBSan in build-fuzz/ and runs
# each for SECONDS (default 60), one after another, from its committed seed corpus.
#
#   scripts/fuzz.sh [--no-build] [SECONDS] [HARNESS...]   e.g. scripts/fuzz.sh 600 config_fuzzer
#
# --no-build runs the harnesses already in build-fuzz/ (when another build holds the lock).
# AIOK_FUZZ_ARGS adds libFuzzer flags: AIOK_FUZZ_ARGS="-fork=1 -ignore_crashes=1" keeps going
# after a finding (each is still saved and still fails the script). AIOK_FUZZ_SKIP_KNOWN=1
# lets the open findings of fuzz/README.md pass, to look for new ones.
#
# Prints executions and coverage per harness. A crash, hang (10 s), leak or sanitizer report
# is saved as build-fuzz/fuzz/artifacts/HARNESS/crash-* (timeout-*, leak-*, oom-*) and makes
# the script exit 1; replay one with `build-fuzz/fuzz/HARNESS FILE`. Inputs that found new
# coverage go to build-fuzz/fuzz/corpus/HARNESS (fuzz/corpus/ holds the committed seeds).
# Compiling takes the shared build lock (/tmp/aiok-build.lock); fuzzing runs at nice 10.
# Needs clang and its fuzzer runtime (Debian: clang, libclang-rt-14-dev).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo_root/build-fuzz"
do_build=1
if [ "${1:-}" = "--no-build" ]; then do_build=0; shift; fi
seconds=${1:-60}
[ $# -gt 0 ] && shift
all=(text_table_fuzzer request_rows_fuzzer config_fuzzer bundle_fuzzer)
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=("${all[@]}")
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, found '$seconds'" >&2; exit 2 ;; esac
for h in "${harnesses[@]}"; do
  [[ " ${all[*]} " == *" $h "* ]] || { echo "fuzz.sh: unknown harness '$h' (harnesses: ${all[*]})" >&2; exit 2; }
done

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
probe=$(mktemp -d)
printf 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }\n' > "$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  cat "$probe/err" >&2
  echo "fuzz.sh: clang cannot link a libFuzzer harness: install the fuzzer runtime (libclang-rt-14-dev)" >&2
  rm -rf "$probe"; exit 2
fi
rm -rf "$probe"

# --- build ---------------------------------------------------------------------------------
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo_root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DAIOK_FUZZ=ON -DAIOK_TORCH=OFF -DAIOK_BUILD_TESTS=OFF -DAIOK_BUILD_BENCH=OFF >/dev/null
fi
if [ "$do_build" -eq 1 ]; then
  echo "fuzz.sh: building ${harnesses[*]} in $build (waiting for /tmp/aiok-build.lock if needed)"
  flock /tmp/aiok-build.lock cmake --build "$build" --target "${harnesses[@]}" -j "$(nproc)"
fi
for h in "${harnesses[@]}"; do
  [ -x "$build/fuzz/$h" ] || { echo "fuzz.sh: $build/fuzz/$h is not built" >&2; exit 2; }
done

# --- fuzz ----------------------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for h in "${harnesses[@]}"; do
  work="$build/fuzz/corpus/$h"
  artifacts="$build/fuzz/artifacts/$h"
  log="$build/fuzz/logs/$h.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  echo "fuzz.sh: $h for ${seconds}s (log: $log)"
  before=$(find "$artifacts" -type f | wc -l)
  status=0
  # New inputs go to the first directory (the work corpus); the committed seeds stay as they are.
  # shellcheck disable=SC2086
  nice -n 10 "$build/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${AIOK_FUZZ_ARGS:-} \
    "$work" "$repo_root/fuzz/corpus/$h" >"$log" 2>&1 || status=$?
  found=$(( $(find "$artifacts" -type f | wc -l) - before ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  # -fork mode prints no final stats: its last "#N: cov: ..." line counts the executions.
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  [ -n "$rate" ] || rate=$(sed -n 's/.*exec\/s:\{0,1\} \([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9/]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$status" -ne 0 ] || [ "$found" -gt 0 ]; then
    result="FAILED (exit $status, $found new artifacts, latest: $(ls -t "$artifacts" 2>/dev/null | head -n 1))"
    failed+=("$h")
    grep -m 3 -E 'ERROR: |aiok fuzz finding|runtime error|Test unit written' "$log" | sed 's/^/    /' || true
  fi
  summary+=("$(printf '%-20s %6ss %12s execs %8s/s  cov %-6s ft %-7s corpus %-12s %s' \
    "$h" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]}: see build-fuzz/fuzz/artifacts/ and the logs" >&2
  exit 1
fi
