// Counter-based randomness. Generators derive every random number from (seed, stream, index)
// through these mixers instead of advancing a shared generator, so output does not depend on
// how work is split across threads.
#pragma once

#include <cstdint>

namespace aiok {

/// SplitMix64 finalizer: a bijective, well-mixed 64-bit hash.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Hash of a pair; order matters.
inline uint64_t HashPair(uint64_t a, uint64_t b) {
  return Mix64(Mix64(a) ^ (b * 0xD6E8FEB86659FD93ull));
}

/// Hash of a triple; order matters.
inline uint64_t HashTriple(uint64_t a, uint64_t b, uint64_t c) {
  return HashPair(HashPair(a, b), c);
}

/// Uniform double in [0, 1) from the top 53 bits of a hash.
inline double UnitDouble(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

/// Approximately standard normal from one hash: the sum of four 16-bit uniforms (Irwin-Hall),
/// centred and scaled to variance 1. Tails stop at +-3.46; fine for effect sizes, and far
/// cheaper than Box-Muller.
inline double ApproxNormal(uint64_t h) {
  const double sum =
      static_cast<double>((h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48)) +
      2.0;  // +0.5 per term centres each uniform in its cell
  return (sum / 65536.0 - 2.0) * 1.7320508075688772;  // sqrt(12 / 4)
}

/// A keyed bijection on 32-bit values: distinct inputs give distinct outputs. Each step
/// (xor-shift, multiply by an odd constant, add the key) is invertible mod 2^32.
inline uint32_t Permute32(uint32_t x, uint32_t key) {
  x += key;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x += key * 0x9E3779B9u;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

}  // namespace aiok
