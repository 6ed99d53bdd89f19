// What the optimizers of a run are and how they start: the dense optimizer of the MLP
// parameters (optimizer.h) and the sparse one of the embedding rows (sparse_optimizer.h).
// Torch-free, so that the CLI and run configs declare them without libtorch.
#pragma once

#include <string>
#include <vector>

#include "aiok/core/options.h"

namespace aiok::train {

/// How embedding rows are updated from their summed gradient g.
enum class SparseUpdate {
  kSgd,             ///< w -= lr * g
  kAdagrad,         ///< s += g*g (per element); w -= lr * g / (sqrt(s) + eps)
  kRowWiseAdagrad,  ///< s += mean(g*g) (one per row); w -= lr * g / (sqrt(s) + eps)
  /// FTRL-Proximal (McMahan et al., 2013), per coordinate, lr as alpha, beta 1, no L1/L2
  /// unless a group's own rule sets them (models/sparse_gradient.h).
  kFtrl,
};
/// "sgd", "adagrad", "rowwise-adagrad", "ftrl", in SparseUpdate's order.
const std::vector<std::string>& SparseUpdateNames();
/// One of SparseUpdateNames(); anything else throws Error(kConfig) listing them.
SparseUpdate ParseSparseUpdate(const std::string& name);

/// The dense and the sparse optimizer of a run.
struct OptimizerOptions {
  std::string name = "adagrad";
  double lr = 0.02;
  double weight_decay = 0.0;
  double momentum = 0.0;  ///< sgd
  double beta1 = 0.9;     ///< adam, adamw, lamb
  double beta2 = 0.999;   ///< adam, adamw, lamb
  double eps = 1e-8;      ///< adam, adamw, lamb (adagrad uses 1e-10 as torch does)
  std::string embedding_update = "rowwise-adagrad";  ///< the sparse optimizer of the embeddings
  double embedding_lr = 0.05;                        ///< its peak learning rate

  template <typename V>
  void Visit(V& v) {
    v.Text("optimizer", &name, {"sgd", "adagrad", "adam", "adamw", "lamb"},
           "optimizer of the dense (MLP) parameters");
    v.Real("lr", &lr, 0.0, 100.0, "peak learning rate");
    v.Real("weight-decay", &weight_decay, 0.0, 1.0, "L2 (sgd, adagrad, adam) or decoupled decay");
    v.Real("momentum", &momentum, 0.0, 0.999, "sgd momentum");
    v.Real("beta1", &beta1, 0.0, 0.99999, "first-moment decay");
    v.Real("beta2", &beta2, 0.0, 0.99999999, "second-moment decay");
    v.Real("eps", &eps, 0.0, 1.0, "denominator epsilon");
    v.Text("embedding-update", &embedding_update, SparseUpdateNames(),
           "sparse update of the embedding rows");
    v.Real("embedding-lr", &embedding_lr, 0.0, 100.0, "peak learning rate of the embeddings");
  }
};

}  // namespace aiok::train
