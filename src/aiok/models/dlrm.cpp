#include "aiok/models/dlrm.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <sstream>

#include "aiok/core/error.h"
#include "aiok/models/dot_interaction.h"
#include "aiok/models/fast_linear.h"

namespace aiok::models {
namespace {

// Linear layers (FastLinear: oneDNN GEMMs, DLRM reference initialization) with ReLU between
// them, and after the last one unless `last_plain`.
torch::nn::Sequential Mlp(int64_t input, const std::vector<int64_t>& sizes, bool last_plain) {
  torch::nn::Sequential mlp;
  int64_t in = input;
  for (size_t i = 0; i < sizes.size(); ++i) {
    mlp->push_back(FastLinear(in, sizes[i]));
    if (!(last_plain && i + 1 == sizes.size())) mlp->push_back(torch::nn::ReLU());
    in = sizes[i];
  }
  return mlp;
}

}  // namespace

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

nlohmann::json DlrmOptions::ArchitectureJson() const {
  return {{"dense_features", dense_features}, {"embedding_dim", embedding_dim},
          {"bottom_mlp", bottom_mlp},         {"top_mlp", top_mlp},
          {"interaction", InteractionName(interaction)}, {"table_sizes", table_sizes}};
}

DlrmOptions DlrmOptions::FromArchitectureJson(const nlohmann::json& json) {
  DlrmOptions options;
  try {
    options.dense_features = json.value("dense_features", int64_t{13});
    options.embedding_dim = json.at("embedding_dim").get<int64_t>();
    options.bottom_mlp = json.at("bottom_mlp").get<std::vector<int64_t>>();
    options.top_mlp = json.at("top_mlp").get<std::vector<int64_t>>();
    options.interaction = ParseInteraction(json.at("interaction").get<std::string>());
    options.table_sizes = json.at("table_sizes").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    Throw(ErrorKind::kInvalidInput, "dlrm architecture: {}", e.what());
  }
  options.Validate();
  return options;
}

void DlrmOptions::Validate() const {
  AIOK_CHECK(dense_features >= 1, ErrorKind::kConfig, "dlrm: dense features must be >= 1");
  AIOK_CHECK(!table_sizes.empty(), ErrorKind::kConfig, "dlrm: no categorical tables");
  AIOK_CHECK(!bottom_mlp.empty() && bottom_mlp.back() == embedding_dim, ErrorKind::kConfig,
             "dlrm: the bottom MLP must end at the embedding dim {} (got {})", embedding_dim,
             fmt::join(bottom_mlp, "-"));
  AIOK_CHECK(!top_mlp.empty() && top_mlp.back() == 1, ErrorKind::kConfig,
             "dlrm: the top MLP must end at 1 output (got {})", fmt::join(top_mlp, "-"));
  for (int64_t size : bottom_mlp) {
    AIOK_CHECK(size >= 1, ErrorKind::kConfig, "dlrm: layer sizes must be >= 1");
  }
  for (int64_t size : top_mlp) {
    AIOK_CHECK(size >= 1, ErrorKind::kConfig, "dlrm: layer sizes must be >= 1");
  }
}

int64_t DlrmOptions::InteractionWidth() const {
  const int64_t vectors = 1 + static_cast<int64_t>(table_sizes.size());
  switch (interaction) {
    case Interaction::kDot:
      return embedding_dim + vectors * (vectors - 1) / 2;
    case Interaction::kDotWithSelf:
      return embedding_dim + vectors * (vectors + 1) / 2;
    case Interaction::kCat:
      return embedding_dim * vectors;
  }
  return 0;
}

void ApplyDlrmPreset(const std::string& name, DlrmOptions* options) {
  if (name == "dlrm-kaggle") {
    options->embedding_dim = 16;
    options->bottom_mlp = {512, 256, 64, 16};
    options->top_mlp = {512, 256, 1};
  } else if (name == "dlrm-small") {
    // Democratized: a quarter of the MLP width; the dot interaction keeps the crosses.
    options->embedding_dim = 16;
    options->bottom_mlp = {128, 64, 16};
    options->top_mlp = {128, 64, 1};
  } else if (name == "dlrm-tiny") {
    options->embedding_dim = 8;
    options->bottom_mlp = {64, 8};
    options->top_mlp = {64, 1};
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

DlrmImpl::DlrmImpl(DlrmOptions options) : options_(std::move(options)) {
  options_.Validate();
  bottom_ = register_module("bottom", Mlp(options_.dense_features, options_.bottom_mlp, false));
  top_ = register_module("top", Mlp(options_.InteractionWidth(), options_.top_mlp, true));
  FusedEmbeddingOptions embedding;
  embedding.table_sizes = options_.table_sizes;
  embedding.dim = options_.embedding_dim;
  embedding.update = options_.embedding_update;
  embedding.lr = options_.embedding_lr;
  embedding_ = register_module("embedding", FusedEmbedding(embedding));
}

torch::Tensor DlrmImpl::Interact(const torch::Tensor& bottom,
                                 const torch::Tensor& embeddings) const {
  if (options_.interaction == Interaction::kCat) {
    return torch::cat({bottom.unsqueeze(1), embeddings.to(bottom.scalar_type())}, 1)
        .reshape({bottom.size(0), -1});
  }
  return DotInteraction(bottom, embeddings, options_.interaction == Interaction::kDotWithSelf);
}

torch::Tensor DlrmImpl::forward(const torch::Tensor& dense, const torch::Tensor& categorical) {
  const torch::Tensor bottom = bottom_->forward(dense);
  const torch::Tensor embeddings = embedding_->forward(categorical);
  return top_->forward(Interact(bottom, embeddings)).squeeze(1);
}

}  // namespace aiok::models
