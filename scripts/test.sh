#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh: packages, DuckDB, Release build) and runs the test
# suite with CTest. This is the README's test command; .ci/run calls it.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup.sh"
cd "$repo_root/build"
ctest --output-on-failure -j "$(nproc)" "$@"
