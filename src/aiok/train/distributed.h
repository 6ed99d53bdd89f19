// What the ranks of a data-parallel run exchange, and how they start and stop together.
//
// Every rank holds the whole model. Each step, each rank computes the gradient of the mean
// loss over its share of the global batch; GradientExchange turns that into the gradient of
// the mean loss over the whole global batch, on every rank, before any update:
//   - dense gradients are scaled by local rows / global rows and summed over the ranks
//     (one flat buffer, all-reduced in buckets, in a fixed parameter order);
//   - each sparse group's (unique ids, summed rows) are scaled the same way, gathered from
//     every rank and merged with SparseGradient::Add in rank order (duplicates summed).
// Every rank then applies the same gradient to the same weights, so the replicas stay equal
// (CheckReplicasAgree verifies it).
//
// Failures: a rank that fails before training (bad options, a missing file) is reported once
// by rank 0 and every rank exits with the same code (AgreeToStart); a rank that fails while
// training prints its error and ends the whole job (StopAllRanks), so no rank waits forever.
//
// Torch-free header.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "aiok/models/model.h"
#include "aiok/train/communicator.h"

namespace aiok::train {

/// Thrown on every rank but 0 when a run stops before training: rank 0 throws the error
/// itself (its own, or the first failing rank's, naming that rank) and reports it for all;
/// the others exit with `exit_code` without a message of their own.
class RanksStopped : public std::exception {
 public:
  explicit RanksStopped(int exit_code) : exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }
  const char* what() const noexcept override { return "stopped with the other ranks"; }

 private:
  int exit_code_;
};

/// The exit code the CLI gives an exception: 2 usage or config, 130 cancelled, else 1.
int ExitCodeOf(const std::exception_ptr& error);

/// Every rank reports how its setup went (`error`: null if it succeeded) and where it starts
/// (`start_step`, from a checkpoint). Returns when all succeeded at the same step; otherwise
/// throws on every rank: on rank 0 an Error (its own, or "rank R of N: ..." for the first
/// rank that failed, or a config error when ranks resumed at different steps), on the others
/// RanksStopped with rank 0's exit code. With one rank it rethrows `error` if set.
void AgreeToStart(Communicator& ranks, const std::exception_ptr& error, int64_t start_step);

/// After a failure while the ranks train together: prints "aiok: rank R of N: <error>" and
/// ends every rank (exit code as the CLI would give it). With one rank it rethrows `error`.
[[noreturn]] void StopAllRanks(Communicator& ranks, const std::exception_ptr& error);

/// Copies rank 0's parameters and buffers (the sparse tables among them) to every rank.
void BroadcastWeights(Communicator& ranks, models::Model& model);

/// A 64-bit fingerprint of every parameter and buffer of the model.
uint64_t WeightsFingerprint(models::Model& model);

/// Throws Error(kInternal) on every rank when some rank's weights differ from rank 0's.
void CheckReplicasAgree(Communicator& ranks, models::Model& model);

/// What the exchange cost so far.
struct ExchangeStats {
  int64_t steps = 0;
  double seconds = 0.0;         ///< in Exchange: copies, collectives (waiting for slower ranks
                                ///< included) and merging
  double dense_seconds = 0.0;   ///< of which in the dense all-reduce (where the ranks meet:
                                ///< it absorbs their difference in compute time)
  double sparse_seconds = 0.0;  ///< of which in the sparse all-gather (sizes, then blocks)
  int64_t dense_bytes = 0;      ///< all-reduced: the flat gradient buffer, once per step
  int64_t sparse_bytes = 0;     ///< gathered: every rank's (ids, rows) blocks together
};

class GradientExchange {
 public:
  /// Exchanges `model`'s gradients among `ranks` (both must outlive this).
  GradientExchange(Communicator& ranks, models::Model& model);
  ~GradientExchange();
  GradientExchange(const GradientExchange&) = delete;
  GradientExchange& operator=(const GradientExchange&) = delete;

  /// Called between backward and the optimizers' step on every rank. Before: each rank's
  /// dense .grad and sparse groups' gradients are those of the mean loss over its
  /// `local_rows` rows (or absent/empty when it had none), `local_loss` that mean. After:
  /// every rank holds the gradient of the mean loss over the `global_rows` rows of all ranks,
  /// and model buffers that are not sparse tables (batch statistics) are rank 0's. Returns
  /// the global batch's mean loss.
  double Exchange(int64_t local_rows, int64_t global_rows, double local_loss);

  const ExchangeStats& stats() const { return stats_; }

 private:
  struct Impl;
  Communicator& ranks_;
  std::unique_ptr<Impl> impl_;
  ExchangeStats stats_;
};

}  // namespace aiok::train
