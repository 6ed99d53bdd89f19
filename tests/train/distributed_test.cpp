// Data-parallel training without MPI: ranks as threads of this process, meeting in an
// in-process communicator, so that the arithmetic of the exchange is tested apart from the
// transport (tests/train/mpi_test.cpp runs the real thing under mpirun).
#include "aiok/train/distributed.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "../common/small_dataset.h"
#include "aiok/core/error.h"
#include "aiok/data/dataset.h"
#include "aiok/loader/data_loader.h"
#include "aiok/loader/epoch_plan.h"
#include "aiok/train/model_builder.h"
#include "aiok/train/optimizer.h"
#include "aiok/train/sparse_optimizer.h"
#include "aiok/train/step.h"
#include "aiok/train/trainer.h"

namespace aiok::train {
namespace {
namespace fs = std::filesystem;

// N ranks as threads: every collective deposits each rank's bytes, meets, and reads them all.
class ThreadRanks {
 public:
  explicit ThreadRanks(int size) : slots_(static_cast<size_t>(size)) {
    for (int r = 0; r < size; ++r)
      ranks_.push_back(std::make_unique<Rank>(this, r));
  }
  Communicator& rank(int r) { return *ranks_[static_cast<size_t>(r)]; }
  int size() const { return static_cast<int>(ranks_.size()); }

  /// Runs body(rank) on one thread per rank; rethrows the first rank's exception by rank.
  void Run(const std::function<void(int)>& body) {
    std::vector<std::exception_ptr> errors(ranks_.size());
    std::vector<std::thread> threads;
    for (int r = 0; r < size(); ++r) {
      threads.emplace_back([&, r] {
        try {
          body(r);
        } catch (...) {
          errors[static_cast<size_t>(r)] = std::current_exception();
        }
      });
    }
    for (auto& thread : threads)
      thread.join();
    for (const auto& error : errors) {
      if (error)
        std::rethrow_exception(error);
    }
  }

 private:
  class Rank final : public Communicator {
   public:
    Rank(ThreadRanks* group, int rank) : group_(group), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return group_->size(); }
    const char* name() const override { return "threads"; }
    void AllReduceSum(float* data, int64_t n, int64_t) override {
      Deposit(data, n * sizeof(float));
      std::vector<float> sum(static_cast<size_t>(n), 0.0f);
      for (const auto& slot : group_->slots_) {  // in rank order, as MPI's sum of two is
        const auto* values = reinterpret_cast<const float*>(slot.data());
        for (int64_t i = 0; i < n; ++i)
          sum[i] += values[i];
      }
      group_->Meet();
      std::memcpy(data, sum.data(), n * sizeof(float));
    }
    void AllGatherV(const void* data, int64_t bytes, std::vector<uint8_t>* out,
                    std::vector<int64_t>* sizes) override {
      Deposit(data, bytes);
      out->clear();
      sizes->clear();
      for (const auto& slot : group_->slots_) {
        out->insert(out->end(), slot.begin(), slot.end());
        sizes->push_back(static_cast<int64_t>(slot.size()));
      }
      group_->Meet();
    }
    void Broadcast(void* data, int64_t bytes, int root) override {
      Deposit(data, bytes);
      std::vector<uint8_t> copy = group_->slots_[static_cast<size_t>(root)];
      group_->Meet();
      std::memcpy(data, copy.data(), static_cast<size_t>(bytes));
    }
    void Barrier() override { group_->Meet(); }
    [[noreturn]] void Abort(int code) override {
      ADD_FAILURE() << "rank " << rank_ << " aborted with " << code;
      std::abort();
    }

   private:
    void Deposit(const void* data, int64_t bytes) {
      const auto* begin = static_cast<const uint8_t*>(data);
      group_->slots_[static_cast<size_t>(rank_)].assign(begin, begin + bytes);
      group_->Meet();
    }
    ThreadRanks* group_;
    int rank_;
  };

  void Meet() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t generation = generation_;
    if (++arrived_ == size()) {
      arrived_ = 0;
      ++generation_;
      met_.notify_all();
    } else {
      met_.wait(lock, [&] { return generation_ != generation; });
    }
  }

  std::vector<std::unique_ptr<Rank>> ranks_;
  std::vector<std::vector<uint8_t>> slots_;
  std::mutex mutex_;
  std::condition_variable met_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

TEST(EpochPlanShares, RanksShareEveryGlobalBatchOfOneProcessInOrder) {
  const std::vector<int64_t> shards = {700, 1, 300, 1000};  // 2001 rows
  for (bool shuffle : {false, true}) {
    for (int world : {2, 3, 4}) {
      loader::EpochPlanOptions one;
      one.shuffle = shuffle;
      one.shuffle_window = 128;
      one.batch_size = 240;
      one.seed = 9;
      const loader::EpochPlan whole(shards, one, 2);
      std::vector<loader::EpochPlan> parts;
      for (int rank = 0; rank < world; ++rank) {
        loader::EpochPlanOptions share = one;
        share.rank = rank;
        share.world_size = world;
        parts.emplace_back(shards, share, 2);
      }
      ASSERT_EQ(whole.batches(), 9);
      for (int64_t b = 0; b < whole.batches(); ++b) {
        std::vector<data::RowRef> expected;
        whole.BatchRowRefs(b, &expected);
        std::vector<data::RowRef> together;
        for (const loader::EpochPlan& part : parts) {
          ASSERT_EQ(part.batches(), whole.batches());
          ASSERT_EQ(part.GlobalBatchRows(b), whole.BatchRows(b));
          std::vector<data::RowRef> refs;
          part.BatchRowRefs(b, &refs);
          EXPECT_EQ(static_cast<int64_t>(refs.size()), part.BatchRows(b));
          EXPECT_LE(part.BatchRows(b), 240 / world);
          together.insert(together.end(), refs.begin(), refs.end());
        }
        ASSERT_EQ(together.size(), expected.size()) << "batch " << b << " of " << world;
        for (size_t i = 0; i < expected.size(); ++i) {
          EXPECT_EQ(together[i].shard, expected[i].shard);
          EXPECT_EQ(together[i].row, expected[i].row);
        }
      }
      // The last global batch has 81 rows: with 4 ranks of 60, rank 2 and 3 get none.
      if (world == 4) {
        EXPECT_EQ(parts[1].BatchRows(8), 21);
        EXPECT_EQ(parts[2].BatchRows(8), 0);
        EXPECT_EQ(parts[3].BatchRows(8), 0);
      }
    }
  }
}

class DistributedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ =
        new fs::path(fs::temp_directory_path() / ("aiok_distributed_" + std::to_string(getpid())));
    aiok::testing::MakeSmallDataset(*root_, 6000, 0.001, 3);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string Data() { return (*root_ / "ds").string(); }

  // A model, its optimizers and a step, as the trainer makes them.
  struct Replica {
    Replica(const TrainOptions& options, const OptimizerOptions& optimizer,
            const data::FeatureLayout& layout) {
      model = BuildModel(options, layout, 17);
      model->module()->train();
      dense = DenseOptimizer::Create(optimizer, model->DenseParameters());
      sparse = SparseOptimizer::Create(optimizer, model->SparseGroups());
      step = std::make_unique<TrainStep>(*model, *dense, *sparse, false);
    }
    std::unique_ptr<models::Model> model;
    std::unique_ptr<DenseOptimizer> dense;
    std::unique_ptr<SparseOptimizer> sparse;
    std::unique_ptr<TrainStep> step;
  };

  // Computes the gradient of every global batch `batch` of an epoch (the last one short)
  // with one replica and with `world` thread ranks, checking after every exchange that each
  // rank holds the one-process gradient and that all ranks hold the same. The weights stay
  // those of the start (an update would let rounding differences grow: Adagrad turns the
  // sign of a gradient that is zero but for rounding into a step of the full rate), except
  // for one update at the end, after which the replicas must still be equal.
  static void CheckRanksTrainLikeOneProcess(const TrainOptions& options, int world, int64_t batch) {
    const data::DatasetSchema schema = data::ReadDatasetSchema(Data());
    OptimizerOptions optimizer;
    optimizer.name = "adagrad";
    optimizer.lr = 0.05;
    optimizer.embedding_lr = 0.1;
    loader::LoaderOptions loader_options;
    loader_options.batch_size = batch;
    loader_options.shuffle_window = 1000;

    Replica one(options, optimizer, schema.features);
    loader::DataLoader one_loader(Data(), "train", loader_options, 0, 1, 5);
    std::vector<std::unique_ptr<Replica>> replicas;
    std::vector<std::unique_ptr<loader::DataLoader>> loaders;
    std::vector<std::unique_ptr<GradientExchange>> exchanges;
    ThreadRanks ranks(world);
    for (int r = 0; r < world; ++r) {
      replicas.push_back(std::make_unique<Replica>(options, optimizer, schema.features));
      loaders.push_back(
          std::make_unique<loader::DataLoader>(Data(), "train", loader_options, r, world, 5));
      exchanges.push_back(std::make_unique<GradientExchange>(ranks.rank(r), *replicas[r]->model));
    }
    const int64_t steps = one_loader.batches();
    ASSERT_GE(steps, 3);
    std::atomic<bool> saw_empty_share{false};
    for (int64_t s = 0; s < steps; ++s) {
      const std::optional<data::FeatureBatch> whole = one_loader.Next();
      ASSERT_TRUE(whole);
      const double one_loss = one.step->ComputeGradients(*whole);
      std::vector<double> losses(static_cast<size_t>(world));
      ranks.Run([&](int r) {
        Replica& replica = *replicas[r];
        const std::optional<data::FeatureBatch> share = loaders[r]->Next();
        ASSERT_TRUE(share);
        ASSERT_EQ(loaders[r]->GlobalBatchRows(share->index), whole->rows);
        double loss = 0.0;
        if (share->rows > 0) {
          loss = replica.step->ComputeGradients(*share);
        } else {
          saw_empty_share = true;
          replica.dense->ZeroGrad();
          replica.sparse->ZeroGrad();
        }
        losses[r] = exchanges[r]->Exchange(share->rows, whole->rows, loss);
      });
      for (int r = 0; r < world; ++r) {
        EXPECT_NEAR(losses[r], one_loss, 1e-5) << "step " << s;
        EXPECT_EQ(losses[r], losses[0]);
        const std::vector<torch::Tensor> expected = one.model->DenseParameters();
        const std::vector<torch::Tensor> got = replicas[r]->model->DenseParameters();
        for (size_t i = 0; i < expected.size(); ++i) {
          ASSERT_TRUE(got[i].grad().defined());
          const double scale = expected[i].grad().abs().max().item<double>() + 1e-6;
          EXPECT_LT((got[i].grad() - expected[i].grad()).abs().max().item<double>(), 1e-5 * scale)
              << "dense parameter " << i << ", step " << s << ", rank " << r;
          EXPECT_TRUE(torch::equal(got[i].grad(), replicas[0]->model->DenseParameters()[i].grad()));
        }
        const auto expected_groups = one.model->SparseGroups();
        const auto got_groups = replicas[r]->model->SparseGroups();
        for (size_t g = 0; g < expected_groups.size(); ++g) {
          const models::SparseGradient& want = expected_groups[g]->gradient();
          const models::SparseGradient& have = got_groups[g]->gradient();
          ASSERT_EQ(have.ids, want.ids) << "group " << g << ", step " << s;
          ASSERT_EQ(have.rows.size(), want.rows.size());
          for (size_t k = 0; k < want.rows.size(); ++k)
            ASSERT_NEAR(have.rows[k], want.rows[k], 1e-8 + 1e-5 * std::fabs(want.rows[k]));
        }
      }
    }
    // Every rank applies the same gradient to the same weights: the replicas stay equal.
    for (auto& replica : replicas)
      replica->step->ApplyGradients();
    const int64_t last = one_loader.rows() % batch;
    EXPECT_EQ(saw_empty_share.load(), last != 0 && last <= batch / world * (world - 1));
    for (int r = 1; r < world; ++r)
      EXPECT_EQ(WeightsFingerprint(*replicas[r]->model), WeightsFingerprint(*replicas[0]->model));
    ranks.Run([&](int r) { CheckReplicasAgree(ranks.rank(r), *replicas[r]->model); });
  }

  static fs::path* root_;
};
fs::path* DistributedTest::root_ = nullptr;

TEST_F(DistributedTest, DlrmRanksHoldTheOneProcessGradientOfEveryGlobalBatch) {
  TrainOptions options;
  options.model_options = {{"preset", "dlrm-tiny"}};
  // 5142 train rows: the last global batch of 512 has 22 rows, all in rank 0's share.
  CheckRanksTrainLikeOneProcess(options, 2, 512);
  CheckRanksTrainLikeOneProcess(options, 3, 600);
}

TEST_F(DistributedTest, WideAndDeepRanksHoldTheOneProcessGradientOfBothSparseGroups) {
  TrainOptions options;
  options.model = "wnd";
  options.model_options = {{"preset", "wnd-small"}, {"mlp", "32-16"}};
  CheckRanksTrainLikeOneProcess(options, 2, 256);
}

TEST_F(DistributedTest, ReplicasThatDifferAreFound) {
  TrainOptions options;
  options.model_options = {{"preset", "dlrm-tiny"}};
  const data::DatasetSchema schema = data::ReadDatasetSchema(Data());
  std::vector<std::unique_ptr<models::Model>> models;
  for (uint64_t seed : {1, 2})
    models.push_back(BuildModel(options, schema.features, seed));
  ThreadRanks ranks(2);
  EXPECT_THROW(ranks.Run([&](int r) { CheckReplicasAgree(ranks.rank(r), *models[r]); }), Error);
  // Broadcasting rank 0's weights makes them equal.
  ranks.Run([&](int r) { BroadcastWeights(ranks.rank(r), *models[r]); });
  EXPECT_EQ(WeightsFingerprint(*models[0]), WeightsFingerprint(*models[1]));
  ranks.Run([&](int r) { CheckReplicasAgree(ranks.rank(r), *models[r]); });
}

TEST(AgreeToStart, RankZeroReportsTheFailureOfAnyRankAndTheOthersStopQuietly) {
  ThreadRanks ranks(3);
  std::vector<std::string> rank_zero;
  std::vector<int> stopped(3, -1);
  auto run = [&](const std::vector<std::exception_ptr>& errors, const std::vector<int64_t>& steps) {
    rank_zero.assign(1, "");
    stopped.assign(3, -1);
    ranks.Run([&](int r) {
      try {
        AgreeToStart(ranks.rank(r), errors[r], steps[r]);
      } catch (const RanksStopped& e) {
        stopped[r] = e.exit_code();
      } catch (const Error& e) {
        ASSERT_EQ(r, 0);
        rank_zero[0] = std::string(ErrorKindName(e.kind())) + ": " + e.what();
      }
    });
  };
  const auto io_error = std::make_exception_ptr(Error(ErrorKind::kIo, "cannot open x"));
  const auto usage = std::make_exception_ptr(Error(ErrorKind::kUsage, "bad batch"));

  run({nullptr, nullptr, nullptr}, {4, 4, 4});
  EXPECT_EQ(rank_zero[0], "");
  EXPECT_EQ(stopped, (std::vector<int>{-1, -1, -1}));

  run({nullptr, nullptr, io_error}, {0, 0, 0});
  EXPECT_EQ(rank_zero[0], "io: rank 2 of 3: cannot open x");
  EXPECT_EQ(stopped, (std::vector<int>{-1, 1, 1}));

  // Every rank fails the same way (a bad option): rank 0 says it once, all exit 2.
  run({usage, usage, usage}, {0, 0, 0});
  EXPECT_EQ(rank_zero[0], "usage: bad batch");
  EXPECT_EQ(stopped, (std::vector<int>{-1, 2, 2}));

  // Ranks that resumed at different steps (OUT not shared) do not start.
  run({nullptr, nullptr, nullptr}, {8, 0, 8});
  EXPECT_NE(rank_zero[0].find("rank 1 starts at step 0 but rank 0 at step 8"), std::string::npos)
      << rank_zero[0];
  EXPECT_EQ(stopped, (std::vector<int>{-1, 2, 2}));
}

TEST(AgreeToStart, OneProcessRethrowsItsOwnError) {
  const std::unique_ptr<Communicator> one = SingleProcess();
  EXPECT_NO_THROW(AgreeToStart(*one, nullptr, 3));
  EXPECT_THROW(AgreeToStart(*one, std::make_exception_ptr(Error(ErrorKind::kIo, "x")), 0), Error);
  EXPECT_THROW(StopAllRanks(*one, std::make_exception_ptr(Error(ErrorKind::kIo, "x"))), Error);
  EXPECT_EQ(ExitCodeOf(std::make_exception_ptr(Error(ErrorKind::kConfig, "x"))), 2);
  EXPECT_EQ(ExitCodeOf(std::make_exception_ptr(Error(ErrorKind::kCancelled, "x"))), 130);
  EXPECT_EQ(ExitCodeOf(std::make_exception_ptr(std::runtime_error("x"))), 1);
}

}  // namespace
}  // namespace aiok::train
