// `aiok datagen tabular`: a mixed-type table with known click probabilities, as a CSV and its
// Parquet twin.
//
// DIR/mixed.csv      the rows, with a header (see tabular_layout.h)
// DIR/mixed.parquet  the same rows and columns with SQL types (VARCHAR[] genres, TIMESTAMP ts,
//                    UBIGINT big_id; missing values NULL), written by DuckDB from mixed.csv
// DIR/truth.f32      the true click probability of every row, little-endian float32, row order
// DIR/datagen.json   options, seed, columns with types and roles, missing counts, and the
//                    Bayes-optimal AUC and logloss for the whole file and each Kaggle split;
//                    written last, so its presence means the directory is complete
// The hidden model is described in tabular_click_model.h.
#pragma once

#include "aiok/data/generator.h"

namespace aiok::data {

struct TabularGeneratorOptions {
  int64_t rows = 200000;
  int64_t users = 30000;
  int64_t ids = 100000;
  double pos_rate = 0.25;

  template <typename V>
  void Visit(V& v) {
    v.Int("rows", &rows, 1, int64_t{1} << 36, "number of rows to write");
    v.Int("users", &users, 1, int64_t{1} << 40,
          "distinct values of the user column (Zipf-like frequencies)");
    v.Int("ids", &ids, 1, int64_t{1} << 40,
          "distinct values of the big_id column (Zipf-like frequencies)");
    v.Real("pos-rate", &pos_rate, 0.001, 0.999, "expected fraction of positive labels");
  }
};

class TabularGenerator final : public Generator {
 public:
  /// Rows generated, formatted and written as one unit of work.
  static constexpr int64_t kChunkRows = 16384;

  TabularGeneratorOptions& options() { return options_; }
  void VisitOptions(OptionVisitor& visitor) override { options_.Visit(visitor); }
  void Validate() override { ValidateOptions(options_, "datagen tabular"); }
  /// Writes the four files; GeneratorSummary::data_file is mixed.csv.
  GeneratorSummary Generate(const RunContext& ctx, const std::string& out_dir) override;

 private:
  TabularGeneratorOptions options_;
};

}  // namespace aiok::data
