// What a reader does with a malformed record, for every reader (text, Parquet, requests).
#pragma once

#include <string>

namespace aiok::data {

enum class OnError {
  kFail,  ///< stop with an Error(kInvalidInput) naming the first bad line
  kSkip,  ///< leave the line out of the batch and report it among the batch's rejects
};

/// Parses "fail" / "skip"; anything else throws Error(kConfig).
OnError ParseOnError(const std::string& text);

}  // namespace aiok::data
