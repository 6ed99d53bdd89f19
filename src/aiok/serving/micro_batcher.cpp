#include "aiok/serving/micro_batcher.h"

#include <algorithm>
#include <exception>
#include <future>

namespace aiok::serving {

MicroBatcher::MicroBatcher(Score score, data::FeatureLayout layout, int64_t max_batch,
                           std::chrono::microseconds max_wait, int64_t max_queued_rows)
    : score_(std::move(score)),
      layout_(std::move(layout)),
      max_batch_(std::max<int64_t>(1, max_batch)),
      max_wait_(max_wait),
      max_queued_rows_(std::max<int64_t>(1, max_queued_rows)),
      worker_([this] { Run(); }) {}

MicroBatcher::~MicroBatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

MicroBatcher::Arrival::Arrival(MicroBatcher* batcher) : batcher_(batcher) {
  std::lock_guard<std::mutex> lock(batcher_->mutex_);
  ++batcher_->announced_;
}

MicroBatcher::Arrival::~Arrival() {
  {
    std::lock_guard<std::mutex> lock(batcher_->mutex_);
    --batcher_->announced_;
  }
  batcher_->changed_.notify_all();
}

bool MicroBatcher::SubmitAsync(data::FeatureBatch rows, Done done) {
  if (rows.rows == 0) {
    done({}, nullptr);
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // One request may exceed the bound alone (it was within the per-request row limit); it
    // is refused only when others are already waiting.
    if (stopping_ || (queued_rows_ > 0 && queued_rows_ + rows.rows > max_queued_rows_))
      return false;
    queued_rows_ += rows.rows;
    queue_.push_back(Pending{std::move(rows), std::move(done), std::chrono::steady_clock::now()});
  }
  changed_.notify_all();
  return true;
}

std::optional<std::vector<float>> MicroBatcher::Submit(data::FeatureBatch rows) {
  std::promise<std::vector<float>> result;
  std::future<std::vector<float>> future = result.get_future();
  const bool queued =
      SubmitAsync(std::move(rows), [&result](std::vector<float> p, std::exception_ptr error) {
        if (error)
          result.set_exception(error);
        else
          result.set_value(std::move(p));
      });
  if (!queued)
    return std::nullopt;
  return future.get();
}

int64_t MicroBatcher::batches() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return batches_;
}

int64_t MicroBatcher::queued_rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_rows_;
}

int64_t MicroBatcher::scored_rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return scored_rows_;
}

void MicroBatcher::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty())
      return;  // stopping, nothing left
    // Wait for the batch to fill, at most until the oldest request has waited max_wait.
    const auto deadline = queue_.front().arrived + max_wait_;
    // Announced requests that have not queued yet are on their way: wait for them.
    const auto queued_requests = [&] { return static_cast<int64_t>(queue_.size()); };
    changed_.wait_until(lock, deadline, [&] {
      return stopping_ || queued_rows_ >= max_batch_ || announced_ <= queued_requests();
    });
    std::vector<Pending> group;
    int64_t rows = 0;
    while (!queue_.empty() && (group.empty() || rows + queue_.front().rows.rows <= max_batch_)) {
      rows += queue_.front().rows.rows;
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_rows_ -= rows;
    lock.unlock();
    ScoreTogether(group);
    lock.lock();
  }
}

void MicroBatcher::ScoreTogether(std::vector<Pending>& group) {
  std::vector<float> probabilities;
  std::exception_ptr error;
  try {
    int64_t rows = 0;
    for (const Pending& p : group)
      rows += p.rows.rows;
    probabilities.resize(static_cast<size_t>(rows));
    if (group.size() == 1) {
      score_(group[0].rows, probabilities.data());
    } else {
      std::vector<const data::FeatureBatch*> parts;
      for (const Pending& p : group)
        parts.push_back(&p.rows);
      score_(data::ConcatFeatureBatches(parts, layout_), probabilities.data());
    }
    // Counted before anyone is answered, so an answered client sees its batch counted.
    std::lock_guard<std::mutex> lock(mutex_);
    ++batches_;
    scored_rows_ += rows;
  } catch (...) {
    error = std::current_exception();
  }
  auto next = probabilities.begin();
  for (Pending& p : group) {
    if (error) {
      p.done({}, error);
    } else {
      p.done(std::vector<float>(next, next + p.rows.rows), nullptr);
      next += p.rows.rows;
    }
  }
}

}  // namespace aiok::serving
