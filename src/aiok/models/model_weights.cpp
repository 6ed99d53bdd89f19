#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/models/model.h"

namespace aiok::models {

void SaveWeights(Model& model, const std::string& path) {
  RemoveStaleTemporaries(path);
  const std::string temp = TemporaryPath(path);
  torch::save(model.module(), temp);
  PublishFile(temp, path);
}

void LoadWeights(Model& model, const std::string& path) {
  std::shared_ptr<torch::nn::Module> module = model.module();
  try {
    torch::load(module, path);
  } catch (const c10::Error& e) {
    Throw(ErrorKind::kInvalidInput, "{}: cannot load the weights: {}", path,
          e.what_without_backtrace());
  }
}

}  // namespace aiok::models
