# Every third-party dependency is found here, once. All come from Debian packages except
# DuckDB, which scripts/setup.sh fetches into third_party/duckdb.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)

if(AIOK_TORCH)
  find_package(Torch REQUIRED)
  # Torch's exported flags carry the ABI define; keep them for every target.
  string(APPEND CMAKE_CXX_FLAGS " ${TORCH_CXX_FLAGS}")
endif()

if(AIOK_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(AIOK_BUILD_BENCH AND AIOK_TORCH)
  find_package(benchmark REQUIRED)
endif()

# DuckDB: header and shared library fetched by scripts/setup.sh (pinned, checksummed).
set(AIOK_DUCKDB_DIR "${PROJECT_SOURCE_DIR}/third_party/duckdb")
if(NOT EXISTS "${AIOK_DUCKDB_DIR}/lib/libduckdb.so")
  message(FATAL_ERROR "DuckDB not found in ${AIOK_DUCKDB_DIR}: run scripts/setup.sh first")
endif()
add_library(duckdb SHARED IMPORTED)
set_target_properties(duckdb PROPERTIES
  IMPORTED_LOCATION "${AIOK_DUCKDB_DIR}/lib/libduckdb.so"
  INTERFACE_INCLUDE_DIRECTORIES "${AIOK_DUCKDB_DIR}/include")
# Binaries find libduckdb.so where setup.sh put it.
list(APPEND CMAKE_BUILD_RPATH "${AIOK_DUCKDB_DIR}/lib")

# oneDNN (libdnnl-dev, the same library libtorch uses): its sgemm runs AVX-512 kernels where
# the environment pins OpenBLAS to Haswell ones; the fp32 MLPs call it directly.
if(AIOK_TORCH)
  find_package(dnnl CONFIG REQUIRED)
endif()
