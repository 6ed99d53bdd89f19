// The text reader over Criteo-shaped and mixed rows, in memory (ParseTextTable, one thread):
// the per-record cost that the ETL, predict and schema check pay. Rows are made here, so the
// figure does not depend on a data file.
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <random>
#include <string>

#include "aiok/data/schema.h"
#include "aiok/data/text_table_reader.h"

namespace {

// Criteo's layout: label, 13 integers (a fifth missing), 26 hex ids of 8 digits (a tenth
// missing), tab-separated, no header.
std::string CriteoText(int rows) {
  std::mt19937_64 rng(1);
  std::string text;
  for (int r = 0; r < rows; ++r) {
    text += std::to_string(rng() % 2);
    for (int d = 0; d < 13; ++d)
      text += rng() % 5 == 0 ? "\t" : fmt::format("\t{}", rng() % 1000);
    for (int c = 0; c < 26; ++c)
      text += rng() % 10 == 0 ? "\t" : fmt::format("\t{:08x}", static_cast<uint32_t>(rng()));
    text += '\n';
  }
  return text;
}

void BM_CriteoRecords(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  const std::string text = CriteoText(rows);
  const aiok::data::TableSchema schema = aiok::data::CriteoTableSchema(true);
  for (auto _ : state) {
    aiok::data::TableBatch batch;
    aiok::data::ParseTextTable(text, schema, aiok::data::OnError::kFail, "bench", &batch);
    benchmark::DoNotOptimize(batch.rows);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * rows);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_CriteoRecords)->Arg(50000)->Unit(benchmark::kMillisecond);

}  // namespace
