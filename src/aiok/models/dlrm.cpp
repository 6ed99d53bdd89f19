#include "aiok/models/dlrm.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <sstream>

#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"
#include "aiok/models/dot_interaction.h"
#include "aiok/models/mlp.h"
#include "aiok/models/model.h"

namespace aiok::models {

Interaction ParseInteraction(const std::string& name) {
  if (name == "dot")
    return Interaction::kDot;
  if (name == "dot-self")
    return Interaction::kDotWithSelf;
  if (name == "cat")
    return Interaction::kCat;
  Throw(ErrorKind::kConfig, "unknown interaction '{}' (valid: dot, dot-self, cat)", name);
}

std::string InteractionName(Interaction interaction) {
  switch (interaction) {
    case Interaction::kDot:
      return "dot";
    case Interaction::kDotWithSelf:
      return "dot-self";
    case Interaction::kCat:
      return "cat";
  }
  return "?";
}

DlrmArchitecture DlrmArchitecture::Resolve(const data::FeatureLayout& layout,
                                           const DlrmOptions& options) {
  DlrmArchitecture a;
  a.task = layout.task;
  a.dense_features = layout.dense_width();
  a.table_sizes = layout.cardinalities();
  PoolListFields(layout, options.pooling, &a.list_sizes, &a.list_pooling);
  ApplyDlrmPreset(options.preset, &a);
  if (options.emb_dim > 0) {
    a.embedding_dim = options.emb_dim;
    a.bottom_mlp.back() = options.emb_dim;  // the bottom MLP must end at the embedding width
  }
  if (!options.mlp_bot.empty()) {
    AIOK_CHECK(a.dense_features > 0, ErrorKind::kConfig,
               "dlrm: --mlp-bot {}: the dataset has no dense field, so DLRM has no bottom MLP",
               options.mlp_bot);
    a.bottom_mlp = ParseMlpSizes(options.mlp_bot, a.dense_features);
  }
  if (!options.mlp_top.empty())
    a.top_mlp = ParseMlpSizes(options.mlp_top, -1);
  if (a.dense_features == 0)
    a.bottom_mlp.clear();
  a.interaction = ParseInteraction(options.interaction);
  a.Validate();
  return a;
}

int64_t DlrmArchitecture::fields() const {
  return static_cast<int64_t>(table_sizes.size() + list_sizes.size());
}

int64_t DlrmArchitecture::vectors() const { return fields() + (dense_features > 0 ? 1 : 0); }

void DlrmArchitecture::Validate() const {
  AIOK_CHECK(dense_features >= 0, ErrorKind::kConfig, "dlrm: dense features must be >= 0");
  AIOK_CHECK(fields() >= 1, ErrorKind::kConfig,
             "dlrm: the dataset has no categorical or list field; DLRM needs at least one");
  AIOK_CHECK(list_sizes.size() == list_pooling.size(), ErrorKind::kConfig,
             "dlrm: {} list fields but {} poolings", list_sizes.size(), list_pooling.size());
  if (dense_features > 0) {
    AIOK_CHECK(!bottom_mlp.empty() && bottom_mlp.back() == embedding_dim, ErrorKind::kConfig,
               "dlrm: the bottom MLP must end at the embedding dim {} (got {})", embedding_dim,
               fmt::join(bottom_mlp, "-"));
  } else {
    AIOK_CHECK(bottom_mlp.empty(), ErrorKind::kConfig,
               "dlrm: no dense features, so no bottom MLP (got {})", fmt::join(bottom_mlp, "-"));
  }
  AIOK_CHECK(!top_mlp.empty() && top_mlp.back() == 1, ErrorKind::kConfig,
             "dlrm: the top MLP must end at 1 output (got {})", fmt::join(top_mlp, "-"));
  for (const auto* sizes : {&bottom_mlp, &top_mlp}) {
    for (int64_t size : *sizes)
      AIOK_CHECK(size >= 1, ErrorKind::kConfig, "dlrm: layer sizes must be >= 1");
  }
}

int64_t DlrmArchitecture::InteractionWidth() const {
  const int64_t v = vectors();
  switch (interaction) {
    case Interaction::kDot:
      return embedding_dim + v * (v - 1) / 2;
    case Interaction::kDotWithSelf:
      return embedding_dim + v * (v + 1) / 2;
    case Interaction::kCat:
      return embedding_dim * v;
  }
  return 0;
}

void DlrmArchitecture::CheckBatch(const data::FeatureBatch& batch, const char* who) const {
  CheckBatchBlocks(who, dense_features, table_sizes.size(), list_sizes.size(), batch);
}

nlohmann::json DlrmArchitecture::ToJson() const {
  nlohmann::json lists = nlohmann::json::array();
  for (size_t i = 0; i < list_sizes.size(); ++i)
    lists.push_back({{"cardinality", list_sizes[i]}, {"pooling", PoolingName(list_pooling[i])}});
  return {{"task", data::TaskName(task)},
          {"dense_features", dense_features},
          {"embedding_dim", embedding_dim},
          {"bottom_mlp", bottom_mlp},
          {"top_mlp", top_mlp},
          {"interaction", InteractionName(interaction)},
          {"table_sizes", table_sizes},
          {"lists", lists}};
}

DlrmArchitecture DlrmArchitecture::FromJson(const nlohmann::json& document) {
  DlrmArchitecture a;
  const JsonField json(document, "dlrm architecture");
  json.ExpectObject();
  // Bundles written before the model registry have no task and no list fields.
  a.task = data::ParseTask(json.Get<std::string>("task", "binary"), "dlrm architecture");
  a.dense_features = json.Get<int64_t>("dense_features", 13);
  a.embedding_dim = json["embedding_dim"].Get<int64_t>();
  a.bottom_mlp = json["bottom_mlp"].Get<std::vector<int64_t>>();
  a.top_mlp = json["top_mlp"].Get<std::vector<int64_t>>();
  a.interaction = ParseInteraction(json["interaction"].Get<std::string>());
  a.table_sizes = json["table_sizes"].Get<std::vector<int64_t>>();
  if (json.Has("lists")) {
    for (const JsonField& list : json["lists"].Elements()) {
      a.list_sizes.push_back(list["cardinality"].Get<int64_t>());
      a.list_pooling.push_back(ParsePooling(list["pooling"].Get<std::string>()));
    }
  }
  a.Validate();
  return a;
}

void ApplyDlrmPreset(const std::string& name, DlrmArchitecture* a) {
  if (name == "dlrm-kaggle") {
    a->embedding_dim = 16;
    a->bottom_mlp = {512, 256, 64, 16};
    a->top_mlp = {512, 256, 1};
  } else if (name == "dlrm-small") {
    // Democratized: a quarter of the MLP width; the dot interaction keeps the crosses.
    a->embedding_dim = 16;
    a->bottom_mlp = {128, 64, 16};
    a->top_mlp = {128, 64, 1};
  } else if (name == "dlrm-tiny") {
    a->embedding_dim = 8;
    a->bottom_mlp = {64, 8};
    a->top_mlp = {64, 1};
  } else {
    Throw(ErrorKind::kConfig, "unknown DLRM preset '{}' (valid: {})", name,
          fmt::join(DlrmPresetNames(), ", "));
  }
}

std::vector<std::string> DlrmPresetNames() { return {"dlrm-kaggle", "dlrm-small", "dlrm-tiny"}; }

std::vector<int64_t> ParseMlpSizes(const std::string& text, int64_t drop_leading_if) {
  std::vector<int64_t> sizes;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, '-')) {
    char* end = nullptr;
    const long long value = std::strtoll(part.c_str(), &end, 10);
    AIOK_CHECK(!part.empty() && end && *end == '\0' && value >= 1, ErrorKind::kConfig,
               "MLP '{}': expected positive sizes joined by '-', like 512-256-1", text);
    sizes.push_back(value);
  }
  AIOK_CHECK(!sizes.empty(), ErrorKind::kConfig, "MLP '{}': no layer sizes", text);
  if (sizes.size() > 1 && sizes.front() == drop_leading_if)
    sizes.erase(sizes.begin());
  return sizes;
}

DlrmImpl::DlrmImpl(DlrmArchitecture architecture) : architecture_(std::move(architecture)) {
  const DlrmArchitecture& a = architecture_;
  a.Validate();
  if (a.dense_features > 0)
    bottom_ = register_module("bottom", Mlp(a.dense_features, a.bottom_mlp, false));
  top_ = register_module("top", Mlp(a.InteractionWidth(), a.top_mlp, true));
  FusedEmbeddingOptions embedding;
  embedding.table_sizes = a.table_sizes;
  embedding.table_sizes.insert(embedding.table_sizes.end(), a.list_sizes.begin(),
                               a.list_sizes.end());
  embedding.dim = a.embedding_dim;
  embedding.list_pooling = a.list_pooling;
  embedding_ = register_module("embedding", FusedEmbedding(embedding));
}

torch::Tensor DlrmImpl::Interact(const torch::Tensor& bottom,
                                 const torch::Tensor& embeddings) const {
  if (architecture_.interaction == Interaction::kCat) {
    return torch::cat({bottom.unsqueeze(1), embeddings.to(bottom.scalar_type())}, 1)
        .reshape({bottom.size(0), -1});
  }
  return DotInteraction(bottom, embeddings, architecture_.interaction == Interaction::kDotWithSelf);
}

torch::Tensor DlrmImpl::forward(const torch::Tensor& dense, const torch::Tensor& ids,
                                const std::vector<data::JaggedIds>& lists) {
  const torch::Tensor embeddings = embedding_->forward(ids, lists);
  torch::Tensor interaction;
  if (architecture_.dense_features > 0) {
    interaction = Interact(bottom_->forward(dense), embeddings);
  } else {
    // No bottom MLP: the first embedding stands where its output would.
    interaction =
        Interact(embeddings.select(1, 0), embeddings.narrow(1, 1, embeddings.size(1) - 1));
  }
  return top_->forward(interaction).squeeze(1);
}

torch::Tensor DlrmImpl::forward(const data::FeatureBatch& batch) {
  const DlrmArchitecture& a = architecture_;
  const auto singles = static_cast<int64_t>(a.table_sizes.size());
  a.CheckBatch(batch, "dlrm");
  const torch::Tensor dense =
      a.dense_features > 0 ? torch::from_blob(const_cast<float*>(batch.dense),
                                              {batch.rows, a.dense_features}, torch::kFloat32)
                           : torch::empty({batch.rows, 0});
  const torch::Tensor ids = singles > 0 ? torch::from_blob(const_cast<int32_t*>(batch.categorical),
                                                           {batch.rows, singles}, torch::kInt32)
                                        : torch::empty({batch.rows, 0}, torch::kInt32);
  return forward(dense, ids, batch.jagged);
}

}  // namespace aiok::models
