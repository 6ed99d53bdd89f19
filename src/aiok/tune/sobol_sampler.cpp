#include <cmath>

#include "aiok/core/hash.h"
#include "aiok/tune/samplers.h"

namespace aiok::tune {
namespace {

// Joe and Kuo's direction numbers (new-joe-kuo-6.21201) for dimensions 2..21: the degree s,
// the polynomial coefficients a and the initial m_1..m_s. Dimension 1 is the van der Corput
// sequence.
struct Direction {
  int s;
  unsigned a;
  unsigned m[8];
};
constexpr Direction kDirections[kSobolDims - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
};
constexpr int kBits = 32;

// V[d][k]: the k-th direction number of dimension d, scaled to 32 bits.
struct DirectionTable {
  uint32_t v[kSobolDims][kBits];
  DirectionTable() {
    for (int k = 0; k < kBits; ++k)
      v[0][k] = 1u << (kBits - 1 - k);
    for (size_t d = 1; d < kSobolDims; ++d) {
      const Direction& dir = kDirections[d - 1];
      for (int k = 0; k < kBits; ++k) {
        if (k < dir.s) {
          v[d][k] = dir.m[k] << (kBits - 1 - k);
        } else {
          uint32_t x = v[d][k - dir.s] ^ (v[d][k - dir.s] >> dir.s);
          for (int j = 1; j < dir.s; ++j)
            if ((dir.a >> (dir.s - 1 - j)) & 1u)
              x ^= v[d][k - j];
          v[d][k] = x;
        }
      }
    }
  }
};

class SobolSampler final : public Sampler {
 public:
  std::vector<double> Suggest(const SuggestRequest& request) override {
    // A repeat (a discrete space) moves on to a random point rather than the same index.
    if (request.attempt > 0) {
      std::mt19937_64 rng = ProposalRng(request, 2);
      return RandomPoint(*request.space, rng);
    }
    return ScrambledSobolPoint(request);
  }
};

}  // namespace

std::vector<double> SobolPoint(uint64_t index, size_t dims) {
  static const DirectionTable table;
  std::vector<double> point(dims, NAN);
  // Gray-code-free form: x = XOR of V[k] over the set bits of the index.
  for (size_t d = 0; d < std::min(dims, kSobolDims); ++d) {
    uint32_t x = 0;
    for (int k = 0; k < kBits && (index >> k) != 0; ++k)
      if ((index >> k) & 1u)
        x ^= table.v[d][k];
    point[d] = static_cast<double>(x) / 4294967296.0;
  }
  return point;
}

std::vector<double> ScrambledSobolPoint(const SuggestRequest& request) {
  const SearchSpace& space = *request.space;
  const std::vector<double> raw = SobolPoint(static_cast<uint64_t>(request.trial_number),
                                             space.dims());
  std::mt19937_64 rng = ProposalRng(request, 3);
  std::vector<double> point(space.dims());
  for (size_t i = 0; i < space.dims(); ++i) {
    const double shift = UnitDouble(HashPair(request.seed, i + 1000));
    const double u = std::isnan(raw[i]) ? std::uniform_real_distribution<double>(0, 1)(rng)
                                        : std::fmod(raw[i] + shift, 1.0);
    const size_t k = space.Cardinality(i);
    point[i] = k > 0 ? std::floor(u * static_cast<double>(k)) : u;
  }
  return point;
}

std::unique_ptr<Sampler> MakeSobolSampler() { return std::make_unique<SobolSampler>(); }

}  // namespace aiok::tune
