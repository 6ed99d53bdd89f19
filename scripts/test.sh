#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh: packages, DuckDB, Release build) and runs the test
# suite with CTest. This is the README's test command; .ci/run calls it.
#
#   scripts/test.sh                 the whole suite, then the torch-free libraries and their
#                                   tests under ASan+UBSan (scripts/sanitize.sh --no-torch)
#   scripts/test.sh CTEST ARGS...   only CTest with these arguments (e.g. -R Pipeline)
#
# AIOK_SANITIZE=0 skips the sanitizer pass.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup.sh"
(cd "$repo_root/build" && ctest --output-on-failure -j "$(nproc)" "$@")
if [ $# -eq 0 ] && [ "${AIOK_SANITIZE:-1}" != 0 ]; then
  "$repo_root/scripts/sanitize.sh" --no-torch
fi
