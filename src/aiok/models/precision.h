// Numeric precision of the MLPs and interaction: fp32, or bf16 under CPU autocast (fp32 master
// weights and embeddings). Torch-free header: the CLI and the serving code name precisions
// without including libtorch.
#pragma once

#include <string>

namespace aiok::models {

/// Whether the CPU computes bf16 natively (AVX512-BF16 or AMX), from /proc/cpuinfo.
bool CpuHasNativeBf16();

/// Whether bf16 autocast trains faster than fp32 on this CPU: with AMX, and with AVX512-BF16
/// on AMD; not on Intel CPUs that have AVX512-BF16 without AMX (measured slower there).
bool Bf16IsFaster();

/// "fp32" -> false, "bf16" -> true, "auto" -> Bf16IsFaster(); else Error(kConfig).
bool UseBf16(const std::string& precision);

/// Turns CPU autocast to bf16 on for its lifetime (when `enabled`): Linear and bmm run in bf16
/// (oneDNN, with AVX512-BF16 or AMX where the CPU has them); lookups and the loss stay fp32.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool enabled);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_;
};

}  // namespace aiok::models
