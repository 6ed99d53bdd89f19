#include "aiok/tune/samplers.h"

namespace aiok::tune {
namespace {

class RandomSampler final : public Sampler {
 public:
  std::vector<double> Suggest(const SuggestRequest& request) override {
    std::mt19937_64 rng = ProposalRng(request, 1);
    return RandomPoint(*request.space, rng);
  }
};

}  // namespace

std::unique_ptr<Sampler> MakeRandomSampler() { return std::make_unique<RandomSampler>(); }

}  // namespace aiok::tune
