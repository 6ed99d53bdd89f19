#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for aiok and builds it (Release) into build/.
#
#   scripts/setup.sh              install packages, fetch DuckDB, build
#   scripts/setup.sh --no-build   install packages and fetch DuckDB only
#   scripts/setup.sh --bench      also fetch Polars for bench/etl_ops_bench.py (nodejs-polars,
#                                 pinned, into third_party/bench-node; plain setup skips it)
#
# Idempotent: packages already installed, a DuckDB copy whose checksums match and an
# up-to-date build are all left as they are. Runs as root (or with sudo available).
# The machine reaches only Debian's archive and the npm registry; nothing else is fetched.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=1
bench=0
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --bench) bench=1 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (expected --no-build, --bench or --help)" >&2
       exit 2 ;;
  esac
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages --------------------------------------------------------------------
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libtorch-dev libopenblas0-openmp             # models; OpenBLAS or BLAS is ~16x slower
  libdnnl-dev                                  # oneDNN sgemm for the fp32 MLPs (AVX-512)
  ocl-icd-opencl-dev                           # find_package(dnnl) needs OpenCL; only "recommended"
  openmpi-bin libopenmpi-dev libgloo-dev       # multi-process training
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libsqlite3-dev sqlite3 libcpp-httplib-dev libxxhash-dev libzstd-dev
  libboost-dev                                 # Boost.Beast/Asio: the HTTP layer of aiok serve
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  openssl
  python3-torch python3-pandas python3-numpy python3-sklearn python3-optuna  # benchmark peers
  wrk                                          # HTTP load tests
  chromium                                     # headless check of the HTML reports (tests)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm only fetches DuckDB; the machine may already carry Node.js with its own npm, which
# conflicts with Debian's npm package.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

# --- DuckDB (not packaged by Debian): pinned npm tarballs, checksums verified ------------
duckdb_dir="$repo_root/third_party/duckdb"
duckdb_version=1.4.4
header_pkg="duckdb@${duckdb_version}"
header_sha512="hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="
lib_pkg="@duckdb/node-bindings-linux-x64@${duckdb_version}-r.4"
lib_sha512="jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="

sha512_b64() { openssl dgst -sha512 -binary "$1" | base64 -w0; }

fetch_npm_tarball() {  # fetch_npm_tarball PKG SHA512 DEST_TGZ
  local pkg=$1 want=$2 dest=$3 tmp
  if [ -f "$dest" ] && [ "$(sha512_b64 "$dest")" = "$want" ]; then return 0; fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  local got; got=$(sha512_b64 "$tmp"/*.tgz)
  if [ "$got" != "$want" ]; then
    echo "setup: checksum mismatch for $pkg: expected sha512-$want, got sha512-$got" >&2
    rm -rf "$tmp"; exit 1
  fi
  mv "$tmp"/*.tgz "$dest"; rm -rf "$tmp"
}

if [ -f "$duckdb_dir/VERSION" ] && [ "$(cat "$duckdb_dir/VERSION")" = "$duckdb_version-r.4" ] \
   && [ -f "$duckdb_dir/include/duckdb.h" ] && [ -f "$duckdb_dir/lib/libduckdb.so" ]; then
  echo "setup: DuckDB $duckdb_version present"
else
  echo "setup: fetching DuckDB $duckdb_version from the npm registry"
  mkdir -p "$duckdb_dir/download" "$duckdb_dir/include" "$duckdb_dir/lib"
  fetch_npm_tarball "$header_pkg" "$header_sha512" "$duckdb_dir/download/header.tgz"
  fetch_npm_tarball "$lib_pkg" "$lib_sha512" "$duckdb_dir/download/lib.tgz"
  tar -xzf "$duckdb_dir/download/header.tgz" -C "$duckdb_dir/download" \
    package/src/duckdb/src/include/duckdb.h
  cp "$duckdb_dir/download/package/src/duckdb/src/include/duckdb.h" "$duckdb_dir/include/"
  tar -xzf "$duckdb_dir/download/lib.tgz" -C "$duckdb_dir/download"
  so=$(find "$duckdb_dir/download/package" -name 'libduckdb.so' | head -n 1)
  [ -n "$so" ] || { echo "setup: libduckdb.so not found in $lib_pkg" >&2; exit 1; }
  cp "$so" "$duckdb_dir/lib/libduckdb.so"
  rm -rf "$duckdb_dir/download/package"
  echo "$duckdb_version-r.4" > "$duckdb_dir/VERSION"
fi

# --- Polars for the ETL benchmark (--bench only): pinned npm tarballs, checksums verified --
# nodejs-polars 0.26.1 asks for Node >= 22 but runs what the benchmark uses on Debian's 20.
if [ "$bench" -eq 1 ]; then
  bench_node="$repo_root/third_party/bench-node"
  polars_version=0.26.1
  if [ -f "$bench_node/VERSION" ] && [ "$(cat "$bench_node/VERSION")" = "$polars_version" ]; then
    echo "setup: nodejs-polars $polars_version present"
  else
    echo "setup: fetching nodejs-polars $polars_version from the npm registry"
    mkdir -p "$bench_node/download"
    fetch_npm_tarball "nodejs-polars@$polars_version" \
      "nOWRNrwPAle1KP2w+fj9v1UDUZWbPU37uuImF3mntQyLgUvJ6BTj7+gdR3smKHwtm0t2xY5fbFUoRpj3FobZqQ==" \
      "$bench_node/download/polars.tgz"
    fetch_npm_tarball "nodejs-polars-linux-x64-gnu@$polars_version" \
      "0spW4yns62Xw+D77QPChBoT1ib7jUqrJRkfaNICG1Y8WJ3maVJ4xjf3KT3u+9zNimb/sJcPGdWSr2gEypAnJtg==" \
      "$bench_node/download/polars-linux-x64-gnu.tgz"
    (cd "$bench_node" && npm install --silent --no-audit --no-fund --no-save --offline \
      --engine-strict=false ./download/polars.tgz ./download/polars-linux-x64-gnu.tgz)
    echo "$polars_version" > "$bench_node/VERSION"
  fi
fi

# --- Build --------------------------------------------------------------------------------
if [ "$build" -eq 1 ]; then
  cmake -S "$repo_root" -B "$repo_root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$repo_root/build" -j "$(nproc)"
  echo "setup: built $repo_root/build/aiok"
fi
