// `aiok datagen criteo`: a Criteo-Kaggle-layout train.txt with known click probabilities.
//
// DIR/train.txt     the rows (see criteo_layout.h)
// DIR/truth.f32     the true click probability of every row, little-endian float32, row order
// DIR/datagen.json  options, seed, cardinalities, and the Bayes-optimal AUC and logloss for
//                   the whole file and each Kaggle split; written last, so its presence means
//                   the directory is complete
#pragma once

#include "aiok/data/generator.h"

namespace aiok::data {

struct CriteoGeneratorOptions {
  int64_t rows = 2000000;
  double card_scale = 1.0;
  double pos_rate = 0.25;

  template <typename V>
  void Visit(V& v) {
    v.Int("rows", &rows, 1, int64_t{1} << 36, "number of rows to write");
    v.Real("card-scale", &card_scale, 1e-6, 1.0e3,
           "multiplier on Kaggle's per-column cardinalities");
    v.Real("pos-rate", &pos_rate, 0.001, 0.999, "expected fraction of positive labels");
  }
};

class CriteoGenerator final : public Generator {
 public:
  /// Rows generated, formatted and written as one unit of work.
  static constexpr int64_t kChunkRows = 16384;

  CriteoGeneratorOptions& options() { return options_; }
  void VisitOptions(OptionVisitor& visitor) override { options_.Visit(visitor); }
  void Validate() override { ValidateOptions(options_, "datagen criteo"); }
  GeneratorSummary Generate(const RunContext& ctx, const std::string& out_dir) override;

 private:
  CriteoGeneratorOptions options_;
};

}  // namespace aiok::data
