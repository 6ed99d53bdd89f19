// A small synthetic Criteo file and its dataset directory, for tests that need a dataset to
// train or score on: `aiok datagen criteo` then `aiok etl --preset criteo`, as a user would.
#pragma once

#include <cstdint>
#include <filesystem>

#include "aiok/core/context.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/etl/etl_runner.h"

namespace aiok::testing {

/// Writes ROOT/raw/train.txt (+ truth) and the dataset ROOT/ds. Small vocabularies
/// (`card_scale`) let a little data already show the hidden model's effects.
inline void MakeSmallDataset(const std::filesystem::path& root, int64_t rows, double card_scale,
                             uint64_t seed) {
  static CancellationToken token;
  const RunContext ctx{seed, 2, &token};
  data::CriteoGenerator generator;
  generator.options().rows = rows;
  generator.options().card_scale = card_scale;
  generator.Generate(ctx, (root / "raw").string());
  etl::EtlRequest etl;
  etl.input = (root / "raw" / "train.txt").string();
  etl.out_dir = (root / "ds").string();
  etl.preset = "criteo";
  etl::RunEtl(etl, ctx);
}

}  // namespace aiok::testing
