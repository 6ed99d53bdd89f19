// Typed errors with context. Every user-facing failure in aiok is an aiok::Error: it carries a
// kind (what sort of failure, which decides the exit code or HTTP status at the edges) and a
// stack of context lines ("while reading train.txt", "in trial 12") added as it propagates.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace aiok {

/// What sort of failure an Error is. The CLI maps kinds to exit codes, the server to statuses.
enum class ErrorKind {
  kInvalidInput,    ///< bad data from the user: a malformed row, a missing column
  kTooLarge,        ///< valid data over a configured limit (rows per request, ...)
  kUsage,           ///< bad flags or arguments on the command line
  kConfig,          ///< a bad option value or config file entry
  kIo,              ///< the file system refused: missing file, no space, permission
  kNotImplemented,  ///< a valid request that aiok cannot serve yet
  kCancelled,       ///< the run was stopped (SIGINT)
  kInternal,        ///< a broken invariant: a bug in aiok
};

/// Short lowercase name of a kind ("invalid input", "io", ...).
const char* ErrorKindName(ErrorKind kind);

/// A place in a text file; line and column are 1-based, 0 means "not known".
struct TextLocation {
  std::string file;
  int64_t line = 0;
  int64_t column = 0;

  /// "file:line:column", leaving out the parts that are not known.
  std::string ToString() const;
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message);

  ErrorKind kind() const { return kind_; }
  /// The message without the context lines.
  const std::string& message() const { return message_; }
  /// Context lines, innermost first.
  const std::vector<std::string>& context() const { return context_; }

  /// Adds a line of context ("while writing DIR/train.txt") and returns *this for rethrowing.
  Error& AddContext(std::string line);

  /// The one-line form shown to users: "message (context; outer context)".
  const char* what() const noexcept override { return full_.c_str(); }

 private:
  void Rebuild();

  ErrorKind kind_;
  std::string message_;
  std::vector<std::string> context_;
  std::string full_;
};

/// Throws an Error of `kind` with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void Throw(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

/// Throws an invalid-input Error whose message starts with the location.
template <typename... Args>
[[noreturn]] void ThrowAt(const TextLocation& where, fmt::format_string<Args...> format,
                          Args&&... args) {
  throw Error(ErrorKind::kInvalidInput,
              where.ToString() + ": " + fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace aiok

/// Checks a condition on user input or configuration; throws Error(kind, message) if false.
#define AIOK_CHECK(condition, kind, ...)  \
  do {                                    \
    if (!(condition))                     \
      ::aiok::Throw((kind), __VA_ARGS__); \
  } while (false)

/// Checks an invariant of aiok itself; a failure is a bug and says where in the source it is.
#define AIOK_ASSERT(condition)                                                          \
  do {                                                                                  \
    if (!(condition))                                                                   \
      ::aiok::Throw(::aiok::ErrorKind::kInternal, "internal check failed: {} at {}:{}", \
                    #condition, __FILE__, __LINE__);                                    \
  } while (false)
