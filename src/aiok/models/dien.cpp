#include "aiok/models/dien.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <sstream>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/json_fields.h"
#include "aiok/models/dlrm.h"

namespace aiok::models {
namespace {

std::vector<std::string> SplitNames(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream in(text);
  std::string name;
  while (std::getline(in, name, ','))
    names.push_back(name);
  return names;
}

// The categorical field a history named hist_X pairs with by default: the first of X, X_id,
// and X without a plural s (+ _id) that the layout has (hist_items -> item_id, hist_cats ->
// cat_id as aiok datagen sequences names them); "" when none or no hist_ prefix.
std::string DefaultTarget(const std::string& history, const std::vector<std::string>& categorical) {
  const std::string prefix = "hist_";
  if (history.rfind(prefix, 0) != 0 || history.size() == prefix.size())
    return "";
  const std::string x = history.substr(prefix.size());
  std::vector<std::string> candidates = {x, x + "_id"};
  if (x.size() > 1 && x.back() == 's') {
    const std::string singular = x.substr(0, x.size() - 1);
    candidates.push_back(singular);
    candidates.push_back(singular + "_id");
  }
  for (const std::string& name : candidates) {
    if (std::find(categorical.begin(), categorical.end(), name) != categorical.end())
      return name;
  }
  return "";
}

// The pairs the options name; by default every hist_X with its DefaultTarget.
std::vector<DienArchitecture::Pair> ResolvePairs(const data::FeatureLayout& layout,
                                                 const DienOptions& options) {
  std::vector<std::string> categorical;
  for (const data::CategoricalFeature& field : layout.categorical)
    categorical.push_back(field.name);
  std::vector<std::string> jagged;
  for (const data::JaggedFeature& field : layout.jagged)
    jagged.push_back(field.name);
  auto index_of = [](const std::vector<std::string>& names, const std::string& name) {
    const auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int32_t>(it - names.begin());
  };
  std::vector<std::string> targets = SplitNames(options.targets);
  std::vector<std::string> histories = SplitNames(options.histories);
  if (targets.empty() && histories.empty()) {
    for (const std::string& name : jagged) {
      const std::string target = DefaultTarget(name, categorical);
      if (!target.empty()) {
        histories.push_back(name);
        targets.push_back(target);
      }
    }
    AIOK_CHECK(!targets.empty(), ErrorKind::kConfig,
               "dien: no history field pairs with a target: by default a list field hist_X "
               "pairs with the categorical field X, X_id or, for a plural X, its singular (+_id) "
               "(the dataset's list fields: [{}]; its categorical fields: [{}]); name them with "
               "--targets and --histories",
               fmt::join(jagged, ", "), fmt::join(categorical, ", "));
  } else if (histories.empty()) {
    for (const std::string& target : targets) {
      std::string found;
      for (const std::string& name : jagged) {
        if (DefaultTarget(name, categorical) == target)
          found = name;
      }
      AIOK_CHECK(!found.empty(), ErrorKind::kConfig,
                 "dien: --targets '{}': no list field hist_X pairs with '{}' by name (the "
                 "dataset's list fields: [{}]); give --histories too",
                 options.targets, target, fmt::join(jagged, ", "));
      histories.push_back(found);
    }
  } else if (targets.empty()) {
    for (const std::string& history : histories) {
      const std::string target = DefaultTarget(history, categorical);
      AIOK_CHECK(!target.empty(), ErrorKind::kConfig,
                 "dien: --histories '{}': no categorical field pairs with '{}' by name (hist_X "
                 "pairs with X, X_id or a plural X's singular); give --targets too",
                 options.histories, history);
      targets.push_back(target);
    }
  }
  AIOK_CHECK(targets.size() == histories.size(), ErrorKind::kConfig,
             "dien: {} targets ({}) but {} histories ({}): each history pairs with one target",
             targets.size(), fmt::join(targets, ","), histories.size(), fmt::join(histories, ","));
  std::vector<DienArchitecture::Pair> pairs;
  for (size_t k = 0; k < targets.size(); ++k) {
    DienArchitecture::Pair pair;
    pair.target = index_of(categorical, targets[k]);
    pair.history = index_of(jagged, histories[k]);
    AIOK_CHECK(pair.target >= 0, ErrorKind::kConfig,
               "dien: target '{}' is not a categorical field of the dataset (its categorical "
               "fields: {})",
               targets[k], fmt::join(categorical, ", "));
    AIOK_CHECK(pair.history >= 0, ErrorKind::kConfig,
               "dien: history '{}' (of target '{}') is not a list or sequence field of the "
               "dataset (its list fields: [{}])",
               histories[k], targets[k], fmt::join(jagged, ", "));
    pair.target_name = targets[k];
    pair.history_name = histories[k];
    for (const DienArchitecture::Pair& other : pairs) {
      AIOK_CHECK(other.target != pair.target && other.history != pair.history, ErrorKind::kConfig,
                 "dien: '{}' or '{}' is paired twice", targets[k], histories[k]);
    }
    pairs.push_back(pair);
  }
  return pairs;
}

// Linear layers of `sizes` from `input`, with sigmoid between them (the reference code's
// attention and auxiliary networks); the last layer is plain.
torch::nn::Sequential SigmoidMlp(int64_t input, const std::vector<int64_t>& sizes) {
  torch::nn::Sequential mlp;
  int64_t in = input;
  for (size_t i = 0; i < sizes.size(); ++i) {
    mlp->push_back(FastLinear(in, sizes[i]));
    if (i + 1 < sizes.size())
      mlp->push_back(torch::nn::Sigmoid());
    in = sizes[i];
  }
  return mlp;
}

torch::Tensor Int64Tensor(const std::vector<int64_t>& values) {
  return torch::from_blob(const_cast<int64_t*>(values.data()),
                          {static_cast<int64_t>(values.size())}, torch::kInt64)
      .clone();
}

std::vector<int64_t> AsInt64(const std::vector<int32_t>& values) {
  return {values.begin(), values.end()};
}

}  // namespace

// ---- architecture ----

DienArchitecture DienArchitecture::Resolve(const data::FeatureLayout& layout,
                                           const DienOptions& options) {
  DienArchitecture a;
  a.task = layout.task;
  a.dense_features = layout.dense_width();
  a.table_sizes = layout.cardinalities();
  for (const data::JaggedFeature& field : layout.jagged)
    a.list_sizes.push_back(field.cardinality);
  ApplyDienPreset(options.preset, &a);
  if (options.emb_dim > 0)
    a.embedding_dim = options.emb_dim;
  if (!options.attention_mlp.empty())
    a.attention_mlp = ParseMlpSizes(options.attention_mlp, -1);
  if (!options.mlp.empty())
    a.mlp = ParseMlpSizes(options.mlp, -1);
  if (!options.aux_mlp.empty())
    a.aux_mlp = ParseMlpSizes(options.aux_mlp, -1);
  if (options.activation != "preset")
    a.activation = options.activation;
  if (options.max_history > 0)
    a.max_history = options.max_history;
  a.aux_weight = options.aux_weight;
  a.pairs = ResolvePairs(layout, options);
  a.hidden = options.hidden > 0 ? options.hidden : a.behaviour_width();
  a.Validate();
  return a;
}

void DienArchitecture::Validate() const {
  AIOK_CHECK(dense_features >= 0, ErrorKind::kConfig, "dien: dense features must be >= 0");
  AIOK_CHECK(!pairs.empty(), ErrorKind::kConfig,
             "dien: no history field paired with a target (give --targets and --histories)");
  for (const Pair& pair : pairs) {
    AIOK_CHECK(pair.target >= 0 && pair.target < static_cast<int64_t>(table_sizes.size()) &&
                   pair.history >= 0 && pair.history < static_cast<int64_t>(list_sizes.size()),
               ErrorKind::kConfig,
               "dien: pair {}/{} names field {} of {} categorical and {} of {} list fields",
               pair.target_name, pair.history_name, pair.target, table_sizes.size(), pair.history,
               list_sizes.size());
    AIOK_CHECK(table_sizes[pair.target] == list_sizes[pair.history], ErrorKind::kConfig,
               "dien: history '{}' has {} ids and its target '{}' {}: a history and its target "
               "look up one embedding table, so they need one vocabulary: give '{}' the "
               "dictionary of '{}' in the ETL pipeline (categorify: {{vocabulary: {}}}; for "
               "aiok datagen sequences data, aiok etl --preset sequences)",
               pair.history_name, list_sizes[pair.history], pair.target_name,
               table_sizes[pair.target], pair.history_name, pair.target_name, pair.target_name);
  }
  AIOK_CHECK(embedding_dim >= 1, ErrorKind::kConfig, "dien: --emb-dim must be >= 1");
  AIOK_CHECK(hidden >= 1, ErrorKind::kConfig, "dien: --hidden must be >= 1");
  AIOK_CHECK(max_history >= 1, ErrorKind::kConfig, "dien: --max-history must be >= 1");
  AIOK_CHECK(activation == "dice" || activation == "prelu", ErrorKind::kConfig,
             "dien: --activation must be dice or prelu, got '{}'", activation);
  AIOK_CHECK(aux_weight >= 0.0, ErrorKind::kConfig, "dien: --aux-weight must be >= 0, got {}",
             aux_weight);
  for (const auto* sizes : {&attention_mlp, &mlp, &aux_mlp}) {
    AIOK_CHECK(!sizes->empty(), ErrorKind::kConfig, "dien: an MLP needs a hidden layer");
    for (int64_t size : *sizes)
      AIOK_CHECK(size >= 1, ErrorKind::kConfig, "dien: layer sizes must be >= 1");
  }
}

std::vector<int32_t> DienArchitecture::OtherColumns() const {
  std::vector<int32_t> others;
  for (int32_t c = 0; c < static_cast<int32_t>(table_sizes.size()); ++c) {
    if (std::none_of(pairs.begin(), pairs.end(), [&](const Pair& p) { return p.target == c; }))
      others.push_back(c);
  }
  return others;
}

std::vector<int32_t> DienArchitecture::UnpairedLists() const {
  std::vector<int32_t> lists;
  for (int32_t j = 0; j < static_cast<int32_t>(list_sizes.size()); ++j) {
    if (std::none_of(pairs.begin(), pairs.end(), [&](const Pair& p) { return p.history == j; }))
      lists.push_back(j);
  }
  return lists;
}

std::vector<int64_t> DienArchitecture::EmbeddingTables() const {
  std::vector<int64_t> tables;
  for (const Pair& pair : pairs)
    tables.push_back(table_sizes[pair.target]);
  for (int32_t c : OtherColumns())
    tables.push_back(table_sizes[c]);
  return tables;
}

std::vector<int64_t> DienArchitecture::ColumnTables() const {
  std::vector<int64_t> tables(table_sizes.size(), -1);
  for (size_t k = 0; k < pairs.size(); ++k)
    tables[pairs[k].target] = static_cast<int64_t>(k);
  int64_t next = static_cast<int64_t>(pairs.size());
  for (int32_t c : OtherColumns())
    tables[c] = next++;
  return tables;
}

int64_t DienArchitecture::MlpWidth() const {
  const auto others = static_cast<int64_t>(OtherColumns().size());
  const auto lists = static_cast<int64_t>(UnpairedLists().size());
  return dense_features + (others + lists) * embedding_dim + 3 * behaviour_width() + hidden;
}

void DienArchitecture::CheckBatch(const data::FeatureBatch& batch, const char* who) const {
  AIOK_CHECK(batch.jagged.size() == list_sizes.size(), ErrorKind::kInvalidInput,
             "{}: the batch has {} list fields, the model takes {}", who, batch.jagged.size(),
             list_sizes.size());
  const bool no_dense = dense_features > 0 && batch.dense == nullptr;
  const bool no_ids = batch.categorical == nullptr;
  AIOK_CHECK(batch.rows == 0 || (!no_dense && !no_ids), ErrorKind::kInvalidInput,
             "{}: the batch has no {} block; the model reads {} dense and {} categorical fields",
             who, no_dense ? "dense" : "categorical", dense_features, table_sizes.size());
}

nlohmann::json DienArchitecture::ToJson() const {
  nlohmann::json pair_list = nlohmann::json::array();
  for (const Pair& pair : pairs) {
    pair_list.push_back({{"target", pair.target},
                         {"history", pair.history},
                         {"target_name", pair.target_name},
                         {"history_name", pair.history_name}});
  }
  return {{"task", data::TaskName(task)},
          {"dense_features", dense_features},
          {"table_sizes", table_sizes},
          {"list_sizes", list_sizes},
          {"pairs", pair_list},
          {"embedding_dim", embedding_dim},
          {"hidden", hidden},
          {"attention_mlp", attention_mlp},
          {"mlp", mlp},
          {"activation", activation},
          {"aux_mlp", aux_mlp},
          {"aux_weight", aux_weight},
          {"max_history", max_history}};
}

DienArchitecture DienArchitecture::FromJson(const nlohmann::json& document) {
  DienArchitecture a;
  const JsonField json(document, "dien architecture");
  json.ExpectObject();
  a.task = data::ParseTask(json["task"].Get<std::string>(), "dien architecture");
  a.dense_features = json["dense_features"].Get<int64_t>();
  a.table_sizes = json["table_sizes"].Get<std::vector<int64_t>>();
  a.list_sizes = json["list_sizes"].Get<std::vector<int64_t>>();
  for (const JsonField& item : json["pairs"].Elements()) {
    Pair pair;
    pair.target = static_cast<int32_t>(item["target"].Get<int64_t>());
    pair.history = static_cast<int32_t>(item["history"].Get<int64_t>());
    pair.target_name = item["target_name"].Get<std::string>();
    pair.history_name = item["history_name"].Get<std::string>();
    a.pairs.push_back(pair);
  }
  a.embedding_dim = json["embedding_dim"].Get<int64_t>();
  a.hidden = json["hidden"].Get<int64_t>();
  a.attention_mlp = json["attention_mlp"].Get<std::vector<int64_t>>();
  a.mlp = json["mlp"].Get<std::vector<int64_t>>();
  a.activation = json["activation"].Get<std::string>();
  a.aux_mlp = json["aux_mlp"].Get<std::vector<int64_t>>();
  a.aux_weight = json["aux_weight"].Get<double>();
  a.max_history = json["max_history"].Get<int64_t>();
  a.Validate();
  return a;
}

void ApplyDienPreset(const std::string& name, DienArchitecture* a) {
  if (name == "dien") {
    // The reference code's (Amazon Books): 18 per id, GRU states as wide as a behaviour,
    // attention 80-40, MLP 200-80 with Dice, auxiliary network 100-50, the last 100 events.
    a->embedding_dim = 18;
    a->attention_mlp = {80, 40};
    a->mlp = {200, 80};
    a->activation = "dice";
    a->aux_mlp = {100, 50};
    a->max_history = 100;
  } else if (name == "dien-small") {
    // Democratized: under half the width everywhere and the last 20 events.
    a->embedding_dim = 8;
    a->attention_mlp = {32, 16};
    a->mlp = {64, 32};
    a->activation = "prelu";
    a->aux_mlp = {32, 16};
    a->max_history = 20;
  } else {
    Throw(ErrorKind::kConfig, "unknown DIEN preset '{}' (valid: dien, dien-small)", name);
  }
}

// ---- activation ----

DienActivationImpl::DienActivationImpl(int64_t width, bool dice) : dice_(dice) {
  alpha = register_parameter("alpha", torch::full({width}, dice ? 0.0f : 0.1f));
  if (dice) {
    running_mean = register_buffer("running_mean", torch::zeros({width}));
    running_var = register_buffer("running_var", torch::ones({width}));
  }
}

torch::Tensor DienActivationImpl::forward(const torch::Tensor& input) {
  const torch::Tensor x = input.to(torch::kFloat32);
  if (!dice_)
    return x.clamp_min(0.0) + alpha * x.clamp_max(0.0);
  torch::Tensor mean = running_mean;
  torch::Tensor var = running_var;
  if (is_training() && x.size(0) > 0) {
    mean = x.mean(0);
    var = x.var(0, /*unbiased=*/false);
    torch::NoGradGuard no_grad;
    constexpr double kMomentum = 0.1;
    running_mean.mul_(1.0 - kMomentum).add_(mean.detach(), kMomentum);
    running_var.mul_(1.0 - kMomentum).add_(var.detach(), kMomentum);
  }
  const torch::Tensor p = torch::sigmoid((x - mean) * torch::rsqrt(var + 1e-8));
  return p * x + (1.0 - p) * alpha * x;
}

// ---- the model ----

DienImpl::DienImpl(DienArchitecture architecture) : architecture_(std::move(architecture)) {
  const DienArchitecture& a = architecture_;
  a.Validate();
  const int64_t d = a.embedding_dim;
  const int64_t e = a.behaviour_width();
  const int64_t h = a.hidden;
  DienEmbeddingOptions tables;
  tables.table_sizes = a.EmbeddingTables();
  tables.dim = d;
  embedding_ = register_module("embedding", DienEmbedding(tables));
  const std::vector<int32_t> unpaired = a.UnpairedLists();
  if (!unpaired.empty()) {
    FusedEmbeddingOptions lists;
    for (int32_t j : unpaired)
      lists.table_sizes.push_back(a.list_sizes[j]);
    lists.dim = d;
    lists.list_pooling.assign(unpaired.size(), Pooling::kMean);
    lists.group_name = "lists";
    lists_ = register_module("lists", FusedEmbedding(lists));
  }
  extractor_ = register_module("extractor", PackedGru(e, h));
  evolution_ = register_module("evolution", PackedGru(h, h));
  query_ = register_module("query", FastLinear(e, h));
  query_activation_ = register_module("query_activation", DienActivation(h, /*dice=*/false));
  std::vector<int64_t> sizes = a.attention_mlp;
  sizes.push_back(1);
  attention_ = register_module("attention", SigmoidMlp(4 * h, sizes));
  torch::nn::Sequential mlp;
  int64_t in = a.MlpWidth();
  for (int64_t size : a.mlp) {
    mlp->push_back(FastLinear(in, size));
    mlp->push_back(DienActivation(size, a.activation == "dice"));
    in = size;
  }
  mlp->push_back(FastLinear(in, 1));
  mlp_ = register_module("mlp", mlp);
  sizes = a.aux_mlp;
  sizes.push_back(1);
  aux_mlp_ = register_module("aux_mlp", SigmoidMlp(h + e, sizes));
}

DienBatchPlan DienImpl::Plan(const data::FeatureBatch& batch) const {
  const DienArchitecture& a = architecture_;
  const int64_t rows = batch.rows;
  DienBatchPlan plan;
  plan.length.resize(static_cast<size_t>(rows));
  std::vector<int64_t> full(static_cast<size_t>(rows));
  const data::JaggedIds& first = batch.jagged[a.pairs[0].history];
  for (int64_t b = 0; b < rows; ++b) {
    full[b] = first.length(b);
    for (size_t k = 1; k < a.pairs.size(); ++k) {
      const int64_t other = batch.jagged[a.pairs[k].history].length(b);
      AIOK_CHECK(other == full[b], ErrorKind::kInvalidInput,
                 "dien: row {} has {} events in '{}' but {} in '{}': the histories of a row "
                 "describe the same events and must have equal lengths",
                 b, full[b], a.pairs[0].history_name, other, a.pairs[k].history_name);
    }
    plan.length[b] = std::min(full[b], a.max_history);
  }
  // Longest history first (ties in row order): step t's rows are then the first batch_sizes[t].
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return plan.length[x] > plan.length[y]; });
  std::vector<int64_t> sorted(static_cast<size_t>(rows));
  std::vector<int64_t> rank(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    sorted[i] = plan.length[order[i]];
    rank[order[i]] = i;
  }
  plan.packed = PackedSequences::FromSortedLengths(sorted);
  const int64_t positions = plan.packed.positions();

  DienLookup& lookup = plan.lookup;
  lookup.rows = rows;
  lookup.ids = batch.categorical;
  lookup.column_tables = a.ColumnTables();
  for (size_t k = 0; k < a.pairs.size(); ++k) {
    lookup.sequences.push_back(batch.jagged[a.pairs[k].history]);
    lookup.sequence_tables.push_back(static_cast<int64_t>(k));
  }
  lookup.event_rows.resize(static_cast<size_t>(positions));
  lookup.event_positions.resize(static_cast<size_t>(positions));
  std::vector<int64_t> event_row(static_cast<size_t>(positions));
  for (int64_t t = 0; t < plan.packed.steps(); ++t) {
    for (int64_t i = 0; i < plan.packed.batch_sizes[t]; ++i) {
      const int64_t p = plan.packed.step_offsets[t] + i;
      const int64_t b = order[i];
      event_row[p] = b;
      lookup.event_rows[p] = static_cast<int32_t>(b);
      // The most recent `length` events: skip the oldest beyond max_history.
      lookup.event_positions[p] = static_cast<int32_t>(full[b] - plan.length[b] + t);
    }
  }
  std::vector<int64_t> last(static_cast<size_t>(rows));
  std::vector<float> inverse(static_cast<size_t>(rows));
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t length = plan.length[b];
    last[b] = length > 0 ? plan.packed.step_offsets[length - 1] + rank[b] : positions;
    inverse[b] = length > 0 ? 1.0f / static_cast<float>(length) : 0.0f;
  }
  plan.event_row = Int64Tensor(event_row);
  plan.last_position = Int64Tensor(last);
  plan.inverse_length = torch::from_blob(inverse.data(), {rows}, torch::kFloat32).clone();
  return plan;
}

std::vector<int64_t> DienNegatives(const data::FeatureBatch& batch, const DienBatchPlan& plan,
                                   const std::vector<int64_t>& positives) {
  const int64_t positions = plan.packed.positions();
  std::vector<int64_t> negatives(positives.size());
  if (positions == 0)
    return negatives;
  const DienLookup& lookup = plan.lookup;
  const data::JaggedIds& ids = lookup.sequences[0];
  // The batch's contents pick the draws: the same batch (a resumed run) draws the same ones.
  const uint64_t seed =
      HashTriple(static_cast<uint64_t>(batch.index), static_cast<uint64_t>(positions),
                 static_cast<uint64_t>(
                     ids.values[ids.offsets[lookup.event_rows[0]] + lookup.event_positions[0]]));
  for (size_t k = 0; k < positives.size(); ++k) {
    const int32_t row = lookup.event_rows[static_cast<size_t>(positives[k])];
    int64_t candidate = 0;
    // Another row's event; a few draws find one unless nearly every event is this row's.
    for (uint64_t attempt = 0; attempt < 8; ++attempt) {
      candidate =
          static_cast<int64_t>(HashTriple(seed, k, attempt) % static_cast<uint64_t>(positions));
      if (lookup.event_rows[static_cast<size_t>(candidate)] != row)
        break;
    }
    negatives[k] = candidate;
  }
  return negatives;
}

torch::Tensor DienImpl::AuxiliaryLoss(const data::FeatureBatch& batch, const DienBatchPlan& plan,
                                      const torch::Tensor& states,
                                      const torch::Tensor& behaviours) {
  // State h_t of each row with a next event predicts e_{t+1}: rank i of step t pairs with rank
  // i of step t+1.
  std::vector<int64_t> state_at;
  std::vector<int64_t> positive;
  const PackedSequences& packed = plan.packed;
  for (int64_t t = 0; t + 1 < packed.steps(); ++t) {
    for (int64_t i = 0; i < packed.batch_sizes[t + 1]; ++i) {
      state_at.push_back(packed.step_offsets[t] + i);
      positive.push_back(packed.step_offsets[t + 1] + i);
    }
  }
  if (state_at.empty())
    return torch::zeros({});
  const std::vector<int64_t> negative = DienNegatives(batch, plan, positive);
  const auto pairs = static_cast<int64_t>(state_at.size());
  const torch::Tensor s = states.index_select(0, Int64Tensor(state_at));
  const torch::Tensor inputs =
      torch::cat({torch::cat({s, behaviours.index_select(0, Int64Tensor(positive))}, 1),
                  torch::cat({s, behaviours.index_select(0, Int64Tensor(negative))}, 1)},
                 0);
  const torch::Tensor logits = aux_mlp_->forward(inputs).squeeze(1).to(torch::kFloat32);
  const torch::Tensor labels = torch::cat({torch::ones({pairs}), torch::zeros({pairs})});
  // The reference's mean over pairs of (positive's loss + negative's loss).
  return torch::binary_cross_entropy_with_logits(logits, labels, {}, {}, at::Reduction::Sum) *
         (architecture_.aux_weight / static_cast<double>(pairs));
}

torch::Tensor DienImpl::forward(const data::FeatureBatch& batch) {
  const DienArchitecture& a = architecture_;
  a.CheckBatch(batch, "dien");
  const int64_t rows = batch.rows;
  const int64_t e = a.behaviour_width();
  const int64_t h = a.hidden;
  const DienBatchPlan plan = Plan(batch);
  const int64_t positions = plan.packed.positions();
  auto [columns, events] = embedding_->forward(plan.lookup);
  std::vector<int64_t> target_columns;
  for (const DienArchitecture::Pair& pair : a.pairs)
    target_columns.push_back(pair.target);
  const torch::Tensor target =
      columns.index_select(1, Int64Tensor(target_columns)).reshape({rows, e});
  const torch::Tensor behaviours = events.reshape({positions, e});
  const torch::Tensor history_mean =
      torch::zeros({rows, e}).index_add(0, plan.event_row, behaviours) *
      plan.inverse_length.unsqueeze(1);

  // Interest extractor, and its auxiliary loss while training.
  const torch::Tensor states = extractor_->forward(behaviours, plan.packed);
  if (is_training()) {
    aux_loss_ =
        a.aux_weight > 0.0 ? AuxiliaryLoss(batch, plan, states, behaviours) : torch::Tensor();
  }

  // Attention of the target on each state: an MLP on [q, h, q-h, q*h], softmax over the row's
  // positions (shifted by the row's largest score, which the softmax does not depend on).
  const torch::Tensor query =
      query_activation_->forward(query_->forward(target)).to(torch::kFloat32);
  const torch::Tensor q = query.index_select(0, plan.event_row);
  const torch::Tensor scores =
      attention_->forward(torch::cat({q, states, q - states, q * states}, 1))
          .squeeze(1)
          .to(torch::kFloat32);
  const torch::Tensor detached = scores.detach().contiguous();
  const float* score = detached.data_ptr<float>();
  std::vector<float> shift(static_cast<size_t>(positions));
  {
    std::vector<float> row_max(static_cast<size_t>(rows), -std::numeric_limits<float>::infinity());
    for (int64_t p = 0; p < positions; ++p) {
      float& m = row_max[plan.lookup.event_rows[p]];
      m = std::max(m, score[p]);
    }
    for (int64_t p = 0; p < positions; ++p)
      shift[p] = row_max[plan.lookup.event_rows[p]];
  }
  const torch::Tensor exp =
      torch::exp(scores - torch::from_blob(shift.data(), {positions}, torch::kFloat32));
  const torch::Tensor sum = torch::zeros({rows}).index_add(0, plan.event_row, exp);
  const torch::Tensor attention = exp / sum.index_select(0, plan.event_row);

  // Interest evolution: the AUGRU's last state per row (zeros for an empty history).
  const torch::Tensor evolved = evolution_->forward(states, plan.packed, attention);
  const torch::Tensor interest =
      torch::cat({evolved, torch::zeros({1, h})}, 0).index_select(0, plan.last_position);

  std::vector<torch::Tensor> parts;
  if (a.dense_features > 0) {
    parts.push_back(torch::from_blob(const_cast<float*>(batch.dense), {rows, a.dense_features},
                                     torch::kFloat32));
  }
  const std::vector<int32_t> others = a.OtherColumns();
  if (!others.empty()) {
    parts.push_back(columns.index_select(1, Int64Tensor(AsInt64(others)))
                        .reshape({rows, static_cast<int64_t>(others.size()) * a.embedding_dim}));
  }
  if (lists_) {
    std::vector<data::JaggedIds> lists;
    for (int32_t j : a.UnpairedLists())
      lists.push_back(batch.jagged[j]);
    parts.push_back(lists_->forward(torch::empty({rows, 0}, torch::kInt32), lists)
                        .reshape({rows, static_cast<int64_t>(lists.size()) * a.embedding_dim}));
  }
  parts.push_back(target);
  parts.push_back(history_mean);
  parts.push_back(target * history_mean);
  parts.push_back(interest);
  return mlp_->forward(torch::cat(parts, 1)).squeeze(1).to(torch::kFloat32);
}

}  // namespace aiok::models
