#include "aiok/models/precision.h"

#include <ATen/autocast_mode.h>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"

namespace aiok::models {

bool CpuHasNativeBf16() {
  static const bool native = [] {
    const std::string info = ReadFile("/proc/cpuinfo");
    return info.find(" avx512_bf16") != std::string::npos ||
           info.find(" amx_bf16") != std::string::npos;
  }();
  return native;
}

bool Bf16IsFaster() {
  static const bool faster = [] {
    const std::string info = ReadFile("/proc/cpuinfo");
    if (info.find(" amx_bf16") != std::string::npos)
      return true;
    // AVX512-BF16 without AMX: measured on DLRM's training step, bf16 autocast ran 1.5x fp32
    // on AMD EPYC (Zen 5) but 0.65-0.8x on an Intel Xeon, whose bf16 dot products gain less
    // than the casts cost (docs/BENCHMARKS.md).
    return info.find(" avx512_bf16") != std::string::npos &&
           info.find("AuthenticAMD") != std::string::npos;
  }();
  return faster;
}

bool UseBf16(const std::string& precision) {
  if (precision == "fp32")
    return false;
  if (precision == "bf16")
    return true;
  AIOK_CHECK(precision == "auto", ErrorKind::kConfig,
             "precision must be auto, fp32 or bf16, got '{}'", precision);
  return Bf16IsFaster();
}

Bf16Autocast::Bf16Autocast(bool enabled) : enabled_(enabled) {
  if (!enabled_)
    return;
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
  at::autocast::increment_nesting();
}

Bf16Autocast::~Bf16Autocast() {
  if (!enabled_)
    return;
  if (at::autocast::decrement_nesting() == 0)
    at::autocast::clear_cache();
  at::autocast::set_cpu_enabled(false);
}

}  // namespace aiok::models
