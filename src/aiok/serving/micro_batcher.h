// Micro-batching for the server: concurrent requests' rows are scored together, so the model
// runs a few large batches instead of many tiny ones. A batch closes when it holds `max_batch`
// rows, when its first request has waited `max_wait`, or as soon as no other request is on its
// way (announced by the HTTP layer while it parses one): a lone request is scored at once,
// not after max_wait. A request larger than `max_batch` is scored alone. A bounded queue turns
// overload into a refusal (HTTP 503) instead of unbounded latency and memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "aiok/data/feature_batch.h"

namespace aiok::serving {

class MicroBatcher {
 public:
  /// Scores a batch of features into `out` [batch.rows].
  using Score = std::function<void(const data::FeatureBatch& batch, float* out)>;

  /// Requests' batches are put together as `layout` says.
  MicroBatcher(Score score, data::FeatureLayout layout, int64_t max_batch,
               std::chrono::microseconds max_wait, int64_t max_queued_rows);
  /// Scores what is queued, then stops.
  ~MicroBatcher();
  MicroBatcher(const MicroBatcher&) = delete;
  MicroBatcher& operator=(const MicroBatcher&) = delete;

  /// A request being parsed that will Submit soon (or give up): while any is announced, a
  /// batch waits for it (up to max_wait). Destroying the Arrival withdraws the announcement.
  class Arrival {
   public:
    explicit Arrival(MicroBatcher* batcher);
    ~Arrival();
    Arrival(const Arrival&) = delete;
    Arrival& operator=(const Arrival&) = delete;

   private:
    MicroBatcher* batcher_;
  };

  /// Receives a request's probabilities, or (probabilities empty) what scoring threw.
  using Done = std::function<void(std::vector<float> probabilities, std::exception_ptr error)>;

  /// Queues the rows; `done` is called once they are scored, on the batcher's thread, so it
  /// must be quick (the server hands the answer to its I/O thread). Returns false without
  /// queueing, and without calling `done`, when the queue already holds `max_queued_rows`
  /// rows (overload) or the batcher is stopping. Zero rows are answered at once.
  bool SubmitAsync(data::FeatureBatch rows, Done done);

  /// SubmitAsync that waits: the probabilities, or nullopt when refused. Rethrows what
  /// scoring threw.
  std::optional<std::vector<float>> Submit(data::FeatureBatch rows);

  /// Batches scored so far and their rows, and rows waiting (for metadata and tests).
  int64_t batches() const;
  int64_t scored_rows() const;
  int64_t queued_rows() const;

 private:
  struct Pending {
    data::FeatureBatch rows;
    Done done;
    std::chrono::steady_clock::time_point arrived;
  };
  void Run();
  void ScoreTogether(std::vector<Pending>& group);

  Score score_;
  data::FeatureLayout layout_;
  int64_t max_batch_;
  std::chrono::microseconds max_wait_;
  int64_t max_queued_rows_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Pending> queue_;
  int64_t queued_rows_ = 0;
  int64_t announced_ = 0;
  bool stopping_ = false;
  int64_t batches_ = 0;
  int64_t scored_rows_ = 0;
  std::thread worker_;
};

}  // namespace aiok::serving
