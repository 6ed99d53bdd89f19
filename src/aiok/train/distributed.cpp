#include "aiok/train/distributed.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::train {
namespace {

// How setup went on one rank, as AgreeToStart sends it (followed by the message's bytes).
struct SetupReport {
  int32_t failed = 0;
  int32_t kind = 0;  // ErrorKind
  int32_t exit_code = 0;
  int32_t reserved = 0;
  int64_t start_step = 0;
};

// The kind and one-line message of an exception (libraries' messages cut at their first
// newline, as the CLI prints them).
std::pair<ErrorKind, std::string> Describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return {ErrorKind::kInternal, message.substr(0, message.find('\n'))};
  } catch (...) {
    return {ErrorKind::kInternal, "unknown exception"};
  }
}

void BroadcastTensor(Communicator& ranks, const torch::Tensor& tensor) {
  AIOK_ASSERT(tensor.is_contiguous());
  ranks.Broadcast(tensor.data_ptr(), static_cast<int64_t>(tensor.nbytes()), 0);
}

std::vector<torch::Tensor> ParametersAndBuffers(models::Model& model) {
  std::vector<torch::Tensor> all = model.module()->parameters();
  for (const torch::Tensor& buffer : model.module()->buffers())
    all.push_back(buffer);
  return all;
}

using Clock = std::chrono::steady_clock;

}  // namespace

int ExitCodeOf(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const RanksStopped& e) {
    return e.exit_code();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUsage || e.kind() == ErrorKind::kConfig)
      return 2;
    return e.kind() == ErrorKind::kCancelled ? 130 : 1;
  } catch (...) {
    return 1;
  }
}

void AgreeToStart(Communicator& ranks, const std::exception_ptr& error, int64_t start_step) {
  if (ranks.size() == 1) {
    if (error)
      std::rethrow_exception(error);
    return;
  }
  SetupReport mine;
  mine.start_step = start_step;
  std::string message;
  if (error) {
    ErrorKind kind;
    std::tie(kind, message) = Describe(error);
    mine.failed = 1;
    mine.kind = static_cast<int32_t>(kind);
    mine.exit_code = ExitCodeOf(error);
  }
  std::vector<uint8_t> block(sizeof(SetupReport) + message.size());
  std::memcpy(block.data(), &mine, sizeof(mine));
  std::memcpy(block.data() + sizeof(mine), message.data(), message.size());
  std::vector<uint8_t> all;
  std::vector<int64_t> sizes;
  ranks.AllGatherV(block.data(), static_cast<int64_t>(block.size()), &all, &sizes);

  std::vector<SetupReport> reports(sizes.size());
  std::vector<std::string> messages(sizes.size());
  int64_t offset = 0;
  int first_failed = -1;
  for (size_t r = 0; r < sizes.size(); ++r) {
    AIOK_ASSERT(sizes[r] >= static_cast<int64_t>(sizeof(SetupReport)));
    std::memcpy(&reports[r], all.data() + offset, sizeof(SetupReport));
    messages[r].assign(reinterpret_cast<const char*>(all.data()) + offset + sizeof(SetupReport),
                       static_cast<size_t>(sizes[r]) - sizeof(SetupReport));
    offset += sizes[r];
    if (reports[r].failed && first_failed < 0)
      first_failed = static_cast<int>(r);
  }
  if (first_failed >= 0) {
    if (ranks.rank() != 0)
      throw RanksStopped(reports[0].failed ? reports[0].exit_code
                                           : reports[first_failed].exit_code);
    if (error)
      std::rethrow_exception(error);
    throw Error(
        static_cast<ErrorKind>(reports[first_failed].kind),
        fmt::format("rank {} of {}: {}", first_failed, ranks.size(), messages[first_failed]));
  }
  for (size_t r = 1; r < reports.size(); ++r) {
    if (reports[r].start_step == reports[0].start_step)
      continue;
    if (ranks.rank() != 0)
      throw RanksStopped(2);
    Throw(ErrorKind::kConfig,
          "train --resume: rank {} starts at step {} but rank 0 at step {}: every rank reads "
          "OUT/checkpoint, so OUT must be on a file system all ranks share",
          r, reports[r].start_step, reports[0].start_step);
  }
}

void StopAllRanks(Communicator& ranks, const std::exception_ptr& error) {
  if (ranks.size() == 1)
    std::rethrow_exception(error);
  const auto [kind, message] = Describe(error);
  std::fprintf(stderr, "aiok: rank %d of %d: %s error: %s (stopping every rank)\n", ranks.rank(),
               ranks.size(), ErrorKindName(kind), message.c_str());
  std::fflush(stderr);
  ranks.Abort(ExitCodeOf(error));
  std::abort();  // not reached: GCC does not carry [[noreturn]] through a virtual call
}

void BroadcastWeights(Communicator& ranks, models::Model& model) {
  if (ranks.size() == 1)
    return;
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& tensor : ParametersAndBuffers(model))
    BroadcastTensor(ranks, tensor);
}

uint64_t WeightsFingerprint(models::Model& model) {
  uint64_t hash = 0;
  for (const torch::Tensor& tensor : ParametersAndBuffers(model)) {
    AIOK_ASSERT(tensor.is_contiguous());
    hash = HashPair(hash, XXH3_64bits(tensor.data_ptr(), tensor.nbytes()));
  }
  return hash;
}

void CheckReplicasAgree(Communicator& ranks, models::Model& model) {
  if (ranks.size() == 1)
    return;
  const uint64_t mine = WeightsFingerprint(model);
  std::vector<uint8_t> all;
  std::vector<int64_t> sizes;
  ranks.AllGatherV(&mine, sizeof(mine), &all, &sizes);
  for (int r = 1; r < ranks.size(); ++r) {
    uint64_t theirs = 0;
    std::memcpy(&theirs, all.data() + r * sizeof(uint64_t), sizeof(uint64_t));
    uint64_t first = 0;
    std::memcpy(&first, all.data(), sizeof(uint64_t));
    AIOK_CHECK(theirs == first, ErrorKind::kInternal,
               "the weights of rank {} differ from rank 0's: data-parallel ranks must apply "
               "identical updates (a bug in aiok; please report it)",
               r);
  }
}

struct GradientExchange::Impl {
  std::vector<torch::Tensor> dense;  // the dense optimizer's parameters, in a fixed order
  std::vector<int64_t> offsets;      // of each one's gradient in `buffer`
  int64_t dense_floats = 0;          // then one "has a gradient" flag per parameter, then
  std::vector<float> buffer;         // the loss
  std::vector<models::SparseParameterGroup*> groups;
  std::vector<torch::Tensor> statistics;  // buffers that are not sparse tables
  std::vector<float> statistics_buffer;
  std::vector<uint8_t> send;
  std::vector<uint8_t> received;
  std::vector<int64_t> sizes;

  void ExchangeDense(Communicator& ranks, double scale, double* loss, ExchangeStats* stats);
  void ExchangeSparse(Communicator& ranks, double scale, ExchangeStats* stats);
  void ShareStatistics(Communicator& ranks);
};

GradientExchange::GradientExchange(Communicator& ranks, models::Model& model)
    : ranks_(ranks), impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.dense = model.DenseParameters();
  for (const torch::Tensor& p : s.dense) {
    AIOK_ASSERT(p.scalar_type() == torch::kFloat32);
    s.offsets.push_back(s.dense_floats);
    s.dense_floats += p.numel();
  }
  s.buffer.resize(static_cast<size_t>(s.dense_floats) + s.dense.size() + 1);
  s.groups = model.SparseGroups();
  std::unordered_set<const void*> tables;
  for (models::SparseParameterGroup* group : s.groups)
    tables.insert(group->weight_data());
  int64_t statistics_floats = 0;
  for (const torch::Tensor& buffer : model.module()->buffers()) {
    if (tables.count(buffer.data_ptr()) == 0 && buffer.scalar_type() == torch::kFloat32) {
      s.statistics.push_back(buffer);
      statistics_floats += buffer.numel();
    }
  }
  s.statistics_buffer.resize(static_cast<size_t>(statistics_floats));
}

GradientExchange::~GradientExchange() = default;

void GradientExchange::Impl::ExchangeDense(Communicator& ranks, double scale, double* loss,
                                           ExchangeStats* stats) {
  float* flags = buffer.data() + dense_floats;
  float* loss_slot = flags + dense.size();
  for (size_t i = 0; i < dense.size(); ++i) {
    const torch::Tensor& p = dense[i];
    torch::Tensor slot = torch::from_blob(buffer.data() + offsets[i], p.sizes(), torch::kFloat32);
    if (p.grad().defined()) {
      slot.copy_(p.grad());
      if (scale != 1.0)
        slot.mul_(scale);
      flags[i] = 1.0f;
    } else {
      slot.zero_();
      flags[i] = 0.0f;
    }
  }
  *loss_slot = static_cast<float>(*loss * scale);
  const auto start = Clock::now();
  ranks.AllReduceSum(buffer.data(), static_cast<int64_t>(buffer.size()));
  stats->dense_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  for (size_t i = 0; i < dense.size(); ++i) {
    if (flags[i] == 0.0f)
      continue;  // no rank has a gradient for it (the parameter was not used)
    torch::Tensor& p = dense[i];
    if (!p.grad().defined())
      p.mutable_grad() = torch::empty_like(p);
    p.mutable_grad().copy_(
        torch::from_blob(buffer.data() + offsets[i], p.sizes(), torch::kFloat32));
  }
  *loss = *loss_slot;
}

void GradientExchange::Impl::ExchangeSparse(Communicator& ranks, double scale,
                                            ExchangeStats* stats) {
  if (groups.empty())
    return;
  // This rank's block: the groups' id counts, then per group its ids and its scaled rows.
  size_t bytes = groups.size() * sizeof(int64_t);
  for (models::SparseParameterGroup* group : groups) {
    const models::SparseGradient& g = group->gradient();
    bytes += g.ids.size() * sizeof(int64_t) + g.ids.size() * group->dim() * sizeof(float);
  }
  send.resize(bytes);
  uint8_t* out = send.data();
  for (models::SparseParameterGroup* group : groups) {
    const int64_t count = group->gradient().size();
    std::memcpy(out, &count, sizeof(count));
    out += sizeof(count);
  }
  const auto scale_f = static_cast<float>(scale);
  for (models::SparseParameterGroup* group : groups) {
    const models::SparseGradient& g = group->gradient();
    std::memcpy(out, g.ids.data(), g.ids.size() * sizeof(int64_t));
    out += g.ids.size() * sizeof(int64_t);
    const size_t values = g.ids.size() * static_cast<size_t>(group->dim());
    auto* rows = reinterpret_cast<float*>(out);
    for (size_t k = 0; k < values; ++k)
      rows[k] = g.rows[k] * scale_f;
    out += values * sizeof(float);
  }
  const auto start = Clock::now();
  ranks.AllGatherV(send.data(), static_cast<int64_t>(send.size()), &received, &sizes);
  stats->sparse_seconds += std::chrono::duration<double>(Clock::now() - start).count();

  // Where each rank's next group starts in `received`.
  std::vector<const uint8_t*> cursor(sizes.size());
  std::vector<const int64_t*> counts(sizes.size());
  const uint8_t* block = received.data();
  for (size_t r = 0; r < sizes.size(); ++r) {
    counts[r] = reinterpret_cast<const int64_t*>(block);
    cursor[r] = block + groups.size() * sizeof(int64_t);
    block += sizes[r];
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    const int64_t dim = groups[g]->dim();
    models::SparseGradient merged;
    merged.dim = dim;
    // In rank order on every rank: the same sums, bit for bit, everywhere.
    for (size_t r = 0; r < sizes.size(); ++r) {
      const int64_t count = counts[r][g];
      models::SparseGradient part;
      part.dim = dim;
      const auto* ids = reinterpret_cast<const int64_t*>(cursor[r]);
      part.ids.assign(ids, ids + count);
      const auto* rows = reinterpret_cast<const float*>(ids + count);
      part.rows.assign(rows, rows + count * dim);
      cursor[r] = reinterpret_cast<const uint8_t*>(rows + count * dim);
      if (merged.empty())
        merged = std::move(part);
      else
        merged.Add(part);
    }
    merged.dim = dim;
    groups[g]->gradient() = std::move(merged);
  }
}

void GradientExchange::Impl::ShareStatistics(Communicator& ranks) {
  // Batch statistics (running means of a batch-normalizing activation) follow rank 0, as
  // PyTorch's DDP broadcasts buffers: they are not gradients and cannot be summed.
  if (statistics.empty())
    return;
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (const torch::Tensor& t : statistics) {
    torch::from_blob(statistics_buffer.data() + offset, t.sizes(), torch::kFloat32).copy_(t);
    offset += t.numel();
  }
  ranks.Broadcast(statistics_buffer.data(),
                  static_cast<int64_t>(statistics_buffer.size() * sizeof(float)), 0);
  offset = 0;
  for (torch::Tensor& t : statistics) {
    t.copy_(torch::from_blob(statistics_buffer.data() + offset, t.sizes(), torch::kFloat32));
    offset += t.numel();
  }
}

double GradientExchange::Exchange(int64_t local_rows, int64_t global_rows, double local_loss) {
  AIOK_ASSERT(global_rows > 0 && local_rows >= 0 && local_rows <= global_rows);
  if (ranks_.size() == 1)
    return local_loss;
  const auto start = Clock::now();
  torch::NoGradGuard no_grad;
  // Each rank's loss is the mean over its own rows: the global mean weighs it by its share.
  const double scale = static_cast<double>(local_rows) / static_cast<double>(global_rows);
  double loss = local_rows > 0 ? local_loss : 0.0;
  impl_->ExchangeDense(ranks_, scale, &loss, &stats_);
  impl_->ExchangeSparse(ranks_, scale, &stats_);
  impl_->ShareStatistics(ranks_);
  ++stats_.steps;
  stats_.seconds += std::chrono::duration<double>(Clock::now() - start).count();
  stats_.dense_bytes += static_cast<int64_t>(impl_->buffer.size() * sizeof(float));
  stats_.sparse_bytes += static_cast<int64_t>(impl_->received.size());
  return loss;
}

}  // namespace aiok::train
