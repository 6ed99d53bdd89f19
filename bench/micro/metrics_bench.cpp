// AUC over many rows: the routine that scores every evaluation and every generated file.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "aiok/core/metrics.h"

static void BM_BinaryAuc(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> scores(n);
  std::vector<uint8_t> labels(n);
  for (size_t i = 0; i < n; ++i) {
    scores[i] = uniform(rng);
    labels[i] = uniform(rng) < scores[i] ? 1 : 0;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(aiok::BinaryAuc(scores.data(), labels.data(), n));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
BENCHMARK(BM_BinaryAuc)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMillisecond);
