#include "aiok/models/wide_deep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sstream>

#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"
#include "aiok/models/dlrm.h"
#include "aiok/models/mlp.h"
#include "aiok/models/model.h"

namespace aiok::models {
namespace {

// "C1:C2,C3:C4:C5" -> the crosses' field indices and names; every name must be a categorical
// field of the layout.
void ResolveCrosses(const std::string& text, const data::FeatureLayout& layout,
                    WideDeepArchitecture* a) {
  std::stringstream crosses(text);
  std::string cross;
  while (std::getline(crosses, cross, ',')) {
    std::vector<int32_t> fields;
    std::stringstream names(cross);
    std::string name;
    while (std::getline(names, name, ':')) {
      int32_t found = -1;
      for (size_t f = 0; f < layout.categorical.size(); ++f) {
        if (layout.categorical[f].name == name)
          found = static_cast<int32_t>(f);
      }
      std::vector<std::string> valid;
      for (const data::CategoricalFeature& field : layout.categorical)
        valid.push_back(field.name);
      AIOK_CHECK(found >= 0, ErrorKind::kConfig,
                 "wnd: --crosses '{}': '{}' is not a categorical field of the dataset (its "
                 "categorical fields: {})",
                 text, name, fmt::join(valid, ", "));
      fields.push_back(found);
    }
    AIOK_CHECK(fields.size() >= 2, ErrorKind::kConfig,
               "wnd: --crosses '{}': a cross joins 2 or more fields with ':', got '{}'", text,
               cross);
    a->crosses.push_back(std::move(fields));
    a->cross_names.push_back(cross);
  }
}

}  // namespace

WideDeepArchitecture WideDeepArchitecture::Resolve(const data::FeatureLayout& layout,
                                                   const WideDeepOptions& options) {
  WideDeepArchitecture a;
  a.task = layout.task;
  a.dense_features = layout.dense_width();
  a.table_sizes = layout.cardinalities();
  PoolListFields(layout, options.pooling, &a.list_sizes, &a.list_pooling);
  ApplyWideDeepPreset(options.preset, &a);
  if (options.emb_dim > 0)
    a.embedding_dim = options.emb_dim;
  if (!options.mlp.empty())
    a.deep_mlp = ParseMlpSizes(options.mlp, -1);
  if (!options.crosses.empty())
    ResolveCrosses(options.crosses, layout, &a);
  a.cross_buckets = options.cross_buckets;
  a.wide_update = options.wide_update;
  a.wide_lr = options.wide_lr;
  a.wide_l1 = options.wide_l1;
  a.wide_l2 = options.wide_l2;
  a.Validate();
  return a;
}

int64_t WideDeepArchitecture::fields() const {
  return static_cast<int64_t>(table_sizes.size() + list_sizes.size());
}

int64_t WideDeepArchitecture::DeepWidth() const {
  return dense_features + fields() * embedding_dim;
}

std::vector<int64_t> WideDeepArchitecture::WideTableSizes() const {
  std::vector<int64_t> sizes = table_sizes;
  sizes.insert(sizes.end(), crosses.size(), cross_buckets);
  sizes.insert(sizes.end(), list_sizes.begin(), list_sizes.end());
  return sizes;
}

void WideDeepArchitecture::Validate() const {
  AIOK_CHECK(dense_features >= 0, ErrorKind::kConfig, "wnd: dense features must be >= 0");
  AIOK_CHECK(fields() >= 1, ErrorKind::kConfig,
             "wnd: the dataset has no categorical or list field; Wide&Deep needs at least one");
  AIOK_CHECK(list_sizes.size() == list_pooling.size(), ErrorKind::kConfig,
             "wnd: {} list fields but {} poolings", list_sizes.size(), list_pooling.size());
  AIOK_CHECK(crosses.size() == cross_names.size(), ErrorKind::kConfig,
             "wnd: {} crosses but {} cross names", crosses.size(), cross_names.size());
  for (const std::vector<int32_t>& cross : crosses) {
    for (int32_t f : cross)
      AIOK_CHECK(f >= 0 && f < static_cast<int64_t>(table_sizes.size()), ErrorKind::kConfig,
                 "wnd: a cross names field {}, but there are {} categorical fields", f,
                 table_sizes.size());
  }
  AIOK_CHECK(cross_buckets >= 1, ErrorKind::kConfig, "wnd: --cross-buckets must be >= 1");
  AIOK_CHECK(embedding_dim >= 1, ErrorKind::kConfig, "wnd: --emb-dim must be >= 1");
  AIOK_CHECK(!deep_mlp.empty(), ErrorKind::kConfig, "wnd: the deep MLP needs a hidden layer");
  for (int64_t size : deep_mlp)
    AIOK_CHECK(size >= 1, ErrorKind::kConfig, "wnd: layer sizes must be >= 1");
  AIOK_CHECK(wide_update == "ftrl" || wide_update == "adagrad", ErrorKind::kConfig,
             "wnd: --wide-update must be ftrl or adagrad, got '{}'", wide_update);
  AIOK_CHECK(wide_lr > 0.0, ErrorKind::kConfig, "wnd: --wide-lr must be > 0, got {}", wide_lr);
}

void WideDeepArchitecture::CheckBatch(const data::FeatureBatch& batch, const char* who) const {
  CheckBatchBlocks(who, dense_features, table_sizes.size(), list_sizes.size(), batch);
}

nlohmann::json WideDeepArchitecture::ToJson() const {
  nlohmann::json lists = nlohmann::json::array();
  for (size_t i = 0; i < list_sizes.size(); ++i)
    lists.push_back({{"cardinality", list_sizes[i]}, {"pooling", PoolingName(list_pooling[i])}});
  nlohmann::json cross_list = nlohmann::json::array();
  for (size_t i = 0; i < crosses.size(); ++i)
    cross_list.push_back({{"name", cross_names[i]}, {"fields", crosses[i]}});
  return {{"task", data::TaskName(task)},
          {"dense_features", dense_features},
          {"table_sizes", table_sizes},
          {"lists", lists},
          {"crosses", cross_list},
          {"cross_buckets", cross_buckets},
          {"embedding_dim", embedding_dim},
          {"deep_mlp", deep_mlp},
          {"wide_update", wide_update},
          {"wide_lr", wide_lr},
          {"wide_l1", wide_l1},
          {"wide_l2", wide_l2}};
}

WideDeepArchitecture WideDeepArchitecture::FromJson(const nlohmann::json& document) {
  WideDeepArchitecture a;
  const JsonField json(document, "wnd architecture");
  json.ExpectObject();
  a.task = data::ParseTask(json["task"].Get<std::string>(), "wnd architecture");
  a.dense_features = json["dense_features"].Get<int64_t>();
  a.table_sizes = json["table_sizes"].Get<std::vector<int64_t>>();
  for (const JsonField& list : json["lists"].Elements()) {
    a.list_sizes.push_back(list["cardinality"].Get<int64_t>());
    a.list_pooling.push_back(ParsePooling(list["pooling"].Get<std::string>()));
  }
  for (const JsonField& cross : json["crosses"].Elements()) {
    a.cross_names.push_back(cross["name"].Get<std::string>());
    std::vector<int32_t> fields;
    for (int64_t f : cross["fields"].Get<std::vector<int64_t>>())
      fields.push_back(static_cast<int32_t>(f));
    a.crosses.push_back(std::move(fields));
  }
  a.cross_buckets = json["cross_buckets"].Get<int64_t>();
  a.embedding_dim = json["embedding_dim"].Get<int64_t>();
  a.deep_mlp = json["deep_mlp"].Get<std::vector<int64_t>>();
  a.wide_update = json["wide_update"].Get<std::string>();
  a.wide_lr = json["wide_lr"].Get<double>();
  a.wide_l1 = json["wide_l1"].Get<double>();
  a.wide_l2 = json["wide_l2"].Get<double>();
  a.Validate();
  return a;
}

void ApplyWideDeepPreset(const std::string& name, WideDeepArchitecture* a) {
  if (name == "wnd") {
    // The paper's: 32-dimensional embeddings, ReLU layers of 1024, 512 and 256.
    a->embedding_dim = 32;
    a->deep_mlp = {1024, 512, 256};
  } else if (name == "wnd-small") {
    // Democratized: half the embedding width and an eighth of the first layer.
    a->embedding_dim = 16;
    a->deep_mlp = {256, 128};
  } else {
    Throw(ErrorKind::kConfig, "unknown Wide&Deep preset '{}' (valid: wnd, wnd-small)", name);
  }
}

WideDeepImpl::WideDeepImpl(WideDeepArchitecture architecture)
    : architecture_(std::move(architecture)) {
  const WideDeepArchitecture& a = architecture_;
  a.Validate();
  FusedEmbeddingOptions deep;
  deep.table_sizes = a.table_sizes;
  deep.table_sizes.insert(deep.table_sizes.end(), a.list_sizes.begin(), a.list_sizes.end());
  deep.dim = a.embedding_dim;
  deep.list_pooling = a.list_pooling;
  deep_embedding_ = register_module("embedding", FusedEmbedding(deep));

  FusedEmbeddingOptions wide;
  wide.table_sizes = a.WideTableSizes();
  wide.dim = 1;
  // The wide part is linear in the one-hot values: a list contributes the sum of its values'
  // weights (its bag of words).
  wide.list_pooling.assign(a.list_sizes.size(), Pooling::kSum);
  wide.group_name = "wide";
  wide.zero_init = true;
  SparseUpdateRule rule;
  rule.update = a.wide_update;
  rule.lr = a.wide_lr;
  rule.l1 = a.wide_l1;
  rule.l2 = a.wide_l2;
  wide.own_update = rule;
  wide_ = register_module("wide", FusedEmbedding(wide));

  std::vector<int64_t> sizes = a.deep_mlp;
  sizes.push_back(1);
  deep_ = register_module("deep", Mlp(a.DeepWidth(), sizes, /*last_plain=*/true));
  bias_ = register_parameter("bias", torch::zeros({1}));
}

torch::Tensor WideDeepImpl::WideIds(const data::FeatureBatch& batch) const {
  const WideDeepArchitecture& a = architecture_;
  const auto singles = static_cast<int64_t>(a.table_sizes.size());
  const auto crosses = static_cast<int64_t>(a.crosses.size());
  const int64_t width = singles + crosses;
  torch::Tensor ids = torch::empty({batch.rows, width}, torch::kInt32);
  int32_t* out = ids.data_ptr<int32_t>();
  at::parallel_for(0, batch.rows, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int32_t* row = batch.categorical + r * singles;
      int32_t* dst = out + r * width;
      std::copy(row, row + singles, dst);
      for (int64_t c = 0; c < crosses; ++c)
        dst[singles + c] = CrossBucket(row, a.crosses[static_cast<size_t>(c)], a.cross_buckets);
    }
  });
  return ids;
}

torch::Tensor WideDeepImpl::forward(const data::FeatureBatch& batch) {
  const WideDeepArchitecture& a = architecture_;
  a.CheckBatch(batch, "wnd");
  const auto singles = static_cast<int64_t>(a.table_sizes.size());
  const torch::Tensor ids = singles > 0 ? torch::from_blob(const_cast<int32_t*>(batch.categorical),
                                                           {batch.rows, singles}, torch::kInt32)
                                        : torch::empty({batch.rows, 0}, torch::kInt32);
  // Deep: [dense, embeddings...] -> MLP -> one logit per row.
  torch::Tensor deep_in = deep_embedding_->forward(ids, batch.jagged).reshape({batch.rows, -1});
  if (a.dense_features > 0) {
    const torch::Tensor dense = torch::from_blob(const_cast<float*>(batch.dense),
                                                 {batch.rows, a.dense_features}, torch::kFloat32);
    deep_in = torch::cat({dense, deep_in}, 1);
  }
  const torch::Tensor deep_logit = deep_->forward(deep_in).squeeze(1);
  // Wide: the sum of the row's one-hot weights (values, crosses, list values).
  const torch::Tensor wide_logit = wide_->forward(WideIds(batch), batch.jagged).sum({1, 2});
  return deep_logit.to(torch::kFloat32) + wide_logit + bias_;
}

}  // namespace aiok::models
