#include "aiok/data/on_error.h"

#include "aiok/core/error.h"

namespace aiok::data {

OnError ParseOnError(const std::string& text) {
  if (text == "fail")
    return OnError::kFail;
  if (text == "skip")
    return OnError::kSkip;
  Throw(ErrorKind::kConfig, "on-error must be 'fail' or 'skip', got '{}'", text);
}

}  // namespace aiok::data
