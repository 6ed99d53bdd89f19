// The built-in samplers (sampler.h has the interface and the registry); one file each.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "aiok/tune/sampler.h"

namespace aiok::tune {

std::unique_ptr<Sampler> MakeRandomSampler();
std::unique_ptr<Sampler> MakeSobolSampler();
std::unique_ptr<Sampler> MakeTpeSampler();
std::unique_ptr<Sampler> MakeNsga2Sampler();
std::unique_ptr<Sampler> MakeGpSampler();

/// Dimensions the Sobol direction numbers cover; further coordinates are drawn at random.
constexpr size_t kSobolDims = 21;
/// Point `index` (0, 1, ...) of the Sobol sequence in `dims` dimensions, unscrambled, in
/// [0, 1). Coordinates past kSobolDims are NaN.
std::vector<double> SobolPoint(uint64_t index, size_t dims);
/// The study's Sobol point for `request`: the sequence at the trial number, shifted by a
/// seeded random offset per coordinate (Cranley-Patterson rotation) and mapped to the space.
std::vector<double> ScrambledSobolPoint(const SuggestRequest& request);

}  // namespace aiok::tune
