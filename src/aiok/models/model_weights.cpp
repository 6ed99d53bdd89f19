#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/positional_io.h"
#include "aiok/models/model.h"

namespace aiok::models {

void SaveWeights(Model& model, const std::string& path) {
  RemoveStaleTemporaries(path);
  const std::string temp = TemporaryPath(path);
  torch::save(model.module(), temp);
  PublishFile(temp, path);
}

void LoadWeights(Model& model, const std::string& path) {
  CheckRegularFile(path);  // libtorch opens it itself, and would wait on a FIFO
  std::shared_ptr<torch::nn::Module> module = model.module();
  try {
    torch::load(module, path);
  } catch (const std::exception& e) {
    ThrowUnreadableArchive(path, "the weights", e);
  }
}

std::string TorchErrorCause(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  std::string cause = torch_error != nullptr ? torch_error->what_without_backtrace() : error.what();
  // libtorch's messages go on with a backtrace or the C++ call that failed.
  cause = cause.substr(0, cause.find('\n'));
  while (!cause.empty() && (cause.back() == ' ' || cause.back() == '.'))
    cause.pop_back();
  return cause;
}

void ThrowUnreadableArchive(const std::string& path, const std::string& what,
                            const std::exception& error) {
  const std::string cause = TorchErrorCause(error);
  // A cut file loses the zip directory at its end; other damage fails the zip's checks.
  if (cause.find("PytorchStreamReader") != std::string::npos ||
      cause.find("zip archive") != std::string::npos) {
    Throw(ErrorKind::kInvalidInput,
          "{} is damaged or truncated: cannot load {} from it (libtorch: {})", path, what, cause);
  }
  Throw(ErrorKind::kInvalidInput, "{}: cannot load {} from it: {}", path, what, cause);
}

}  // namespace aiok::models
