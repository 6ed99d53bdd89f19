// The model interface and the registry of model families. A model is built from a dataset's
// FeatureLayout and its options (declared once with Visit(), see core/options.h); it reads
// FeatureBatches, describes its architecture as JSON (enough to rebuild it for serving), names
// the embedding tables it updates sparsely, and makes a torch-free inference engine.
//
// Torch-free header: the CLI lists models and binds their options without libtorch, and the
// trainer and the predictor hold models through this interface. at::Tensor and
// torch::nn::Module are only declared here; callers that run a model include torch.
#pragma once

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/options.h"
#include "aiok/data/feature_batch.h"
#include "aiok/models/sparse_gradient.h"

namespace at {
class Tensor;
}  // namespace at
namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace aiok::models {

/// Scores FeatureBatches without autograd: the path predict, serve and evaluation take.
class InferenceEngine {
 public:
  virtual ~InferenceEngine() = default;
  /// Predictions for the batch's rows into out [batch.rows]: click probabilities for a binary
  /// task, predicted values for regression. Safe to call from several threads at once.
  virtual void Predict(const data::FeatureBatch& batch, float* out) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  /// The registry name ("dlrm").
  virtual const std::string& name() const = 0;
  /// The task the model was built for: what its output means.
  virtual data::Task task() const = 0;
  /// Throws Error(kInvalidInput) naming the difference when batches of `layout` do not fit
  /// the model (another number of fields, another table size).
  virtual void CheckLayout(const data::FeatureLayout& layout) const = 0;
  /// Outputs [batch.rows], differentiable: logits (binary) or values (regression). In training
  /// mode the backward pass leaves sparse gradients in SparseGroups().
  virtual at::Tensor Forward(const data::FeatureBatch& batch) = 0;
  /// A loss the model adds to the task's during training (DIEN's auxiliary loss), already
  /// weighted: the last training-mode Forward's. Undefined (the default) when there is none.
  virtual at::Tensor AuxiliaryLoss();
  /// Everything the model is built from (the layout's shapes included): Create() in the
  /// registry rebuilds the same model from it.
  virtual nlohmann::json Architecture() const = 0;
  /// The module holding every parameter and buffer: train()/eval(), save and load.
  virtual std::shared_ptr<torch::nn::Module> module() = 0;
  /// The parameters a dense optimizer updates (the sparse groups' tables are not among them).
  virtual std::vector<at::Tensor> DenseParameters() = 0;
  /// The embedding tables updated sparsely.
  virtual std::vector<SparseParameterGroup*> SparseGroups() = 0;
  /// An engine over the current weights (copied, or shared for the tables: keep the model
  /// alive while it is used). `bf16`: matrix products in bf16.
  virtual std::unique_ptr<InferenceEngine> MakeInferenceEngine(bool bf16) = 0;
};

/// Throws Error(kInvalidInput) naming the difference when `layout` does not have the shapes
/// a `model` was built for: `dense` dense fields, one-id tables of `tables` rows and list
/// tables of `lists` rows. What every model's CheckLayout starts with.
void CheckLayoutShapes(const char* model, int64_t dense, const std::vector<int64_t>& tables,
                       const std::vector<int64_t>& lists, const data::FeatureLayout& layout);
/// Throws Error(kInvalidInput) when `batch` lacks a block a model reads (`dense` dense fields,
/// `tables` one-id fields) or has another number of list fields than `lists`; `who` starts
/// the message.
void CheckBatchBlocks(const char* who, int64_t dense, size_t tables, size_t lists,
                      const data::FeatureBatch& batch);

/// Writes the model's parameters and buffers to `path` (a libtorch archive), beside it first
/// and then renamed into place, so a reader never sees half a file.
void SaveWeights(Model& model, const std::string& path);
/// Loads weights SaveWeights wrote; errors (kInvalidInput) name the file in one line, and say
/// when it is damaged or truncated. A path that is not a regular file is refused (kIo).
void LoadWeights(Model& model, const std::string& path);

/// The cause of a libtorch error in one line, without the backtrace libtorch appends.
std::string TorchErrorCause(const std::exception& error);
/// Throws Error(kInvalidInput) for a libtorch archive `path` that `error` says cannot be read,
/// naming the file and `what` it holds ("the weights"), in one line.
[[noreturn]] void ThrowUnreadableArchive(const std::string& path, const std::string& what,
                                         const std::exception& error);

/// A model family's options, behind one interface so the registry can hand them out. Each
/// family declares a plain struct with Visit() (e.g. DlrmOptions) and wraps it in
/// DeclaredOptions<T>.
class ModelOptions {
 public:
  virtual ~ModelOptions() = default;
  virtual void Visit(OptionVisitor& visitor) = 0;
};

template <typename T>
class DeclaredOptions final : public ModelOptions {
 public:
  void Visit(OptionVisitor& visitor) override { value.Visit(visitor); }
  T value;
};

/// The options as a JSON object keyed by option name.
nlohmann::json ModelOptionsToJson(ModelOptions& options);
/// Sets options from a (possibly partial) JSON object; an unknown key or a value out of its
/// bounds throws Error(kConfig) naming `owner`, the key and the valid keys.
void ModelOptionsFromJson(ModelOptions& options, const nlohmann::json& json,
                          const std::string& owner);

/// Model families by name. Filled explicitly by RegisterBuiltinModels().
class ModelRegistry {
 public:
  using OptionsFactory = std::function<std::unique_ptr<ModelOptions>()>;
  /// Builds a model for `layout` from its options as JSON (every key present).
  using Builder = std::function<std::unique_ptr<Model>(const data::FeatureLayout& layout,
                                                       const nlohmann::json& options)>;
  /// Rebuilds a model from its Architecture() JSON.
  using Rebuilder = std::function<std::unique_ptr<Model>(const nlohmann::json& architecture)>;

  void Register(const std::string& name, const std::string& description, OptionsFactory options,
                Builder build, Rebuilder rebuild);
  /// Registered names, sorted.
  std::vector<std::string> Names() const;
  const std::string& Description(const std::string& name) const;
  /// The family's options at their defaults. An unknown name throws Error(kConfig) listing the
  /// valid names (as every lookup here does).
  std::unique_ptr<ModelOptions> DefaultOptions(const std::string& name) const;
  /// Every option of the family as JSON: the defaults, overridden by `options` (which may be
  /// partial); checked against the declared bounds. Errors name `owner`.
  nlohmann::json ResolveOptions(const std::string& name, const nlohmann::json& options,
                                const std::string& owner) const;
  /// A new model for `layout` (weights initialized from torch's current seed).
  std::unique_ptr<Model> Create(const std::string& name, const data::FeatureLayout& layout,
                                const nlohmann::json& options) const;
  /// The model a trained one's architecture describes (weights still to be loaded).
  std::unique_ptr<Model> FromArchitecture(const std::string& name,
                                          const nlohmann::json& architecture) const;

 private:
  struct Entry {
    std::string description;
    OptionsFactory options;
    Builder build;
    Rebuilder rebuild;
  };
  const Entry& Find(const std::string& name) const;
  std::map<std::string, Entry> entries_;
};

/// Registers every model aiok ships ("dlrm", "dien", "wnd").
void RegisterBuiltinModels(ModelRegistry& registry);

/// A registry filled with the built-in models, made on first use.
const ModelRegistry& BuiltinModels();

}  // namespace aiok::models
