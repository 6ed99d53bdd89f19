#include "aiok/core/error.h"

namespace aiok {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
      return "invalid input";
    case ErrorKind::kTooLarge:
      return "too large";
    case ErrorKind::kUsage:
      return "usage";
    case ErrorKind::kConfig:
      return "config";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kNotImplemented:
      return "not implemented";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string TextLocation::ToString() const {
  std::string out = file.empty() ? "<input>" : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0)
      out += ":" + std::to_string(column);
  }
  return out;
}

Error::Error(ErrorKind kind, std::string message)
    : std::runtime_error(message), kind_(kind), message_(std::move(message)) {
  Rebuild();
}

Error& Error::AddContext(std::string line) {
  context_.push_back(std::move(line));
  Rebuild();
  return *this;
}

void Error::Rebuild() {
  full_ = message_;
  if (context_.empty())
    return;
  full_ += " (";
  for (size_t i = 0; i < context_.size(); ++i) {
    if (i > 0)
      full_ += "; ";
    full_ += context_[i];
  }
  full_ += ")";
}

}  // namespace aiok
