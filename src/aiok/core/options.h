// Options declared once. An options struct lists its user-facing keys in one Visit() method —
// name, default (the field's initial value), bounds and help — and everything that needs the
// keys walks that declaration: command-line flags (cli), JSON round trips, validation, and
// later the advisor's default search ranges. They cannot drift apart.
//
//   struct FooOptions {
//     int64_t rows = 1000;
//     template <typename V> void Visit(V& v) { v.Int("rows", &rows, 1, kMaxRows, "rows to make"); }
//   };
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace aiok {

/// What a Visit() method calls for each key. Implementations bind, check or serialize.
class OptionVisitor {
 public:
  virtual ~OptionVisitor() = default;
  /// An integer key in [min, max].
  virtual void Int(const char* name, int64_t* value, int64_t min, int64_t max,
                   const char* help) = 0;
  /// A real key in [min, max].
  virtual void Real(const char* name, double* value, double min, double max, const char* help) = 0;
  /// A text key; when `choices` is not empty the value must be one of them.
  virtual void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
                    const char* help) = 0;
  /// An on/off key.
  virtual void Flag(const char* name, bool* value, const char* help) = 0;
};

constexpr int64_t kNoIntLimit = std::numeric_limits<int64_t>::max();
constexpr double kNoRealLimit = std::numeric_limits<double>::infinity();

/// Checks every key of `options` against its declared bounds and choices; throws
/// Error(kConfig) naming the key, the bounds and the value found.
template <typename Options>
void ValidateOptions(const Options& options, const std::string& owner);

/// The options as a JSON object keyed by option name.
template <typename Options>
nlohmann::json OptionsToJson(const Options& options);

/// Sets options from a JSON object. Keys not given keep their values; an unknown key or a value
/// of the wrong type throws Error(kConfig) naming `owner`, the key and the valid keys.
template <typename Options>
void OptionsFromJson(Options& options, const nlohmann::json& json, const std::string& owner);

// ---- implementation details below ---------------------------------------------------------

namespace detail {
class OptionValidator final : public OptionVisitor {
 public:
  explicit OptionValidator(std::string owner) : owner_(std::move(owner)) {}
  void Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) override;
  void Real(const char* name, double* value, double min, double max, const char* help) override;
  void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
            const char* help) override;
  void Flag(const char*, bool*, const char*) override {}

 private:
  std::string owner_;
};

class OptionJsonWriter final : public OptionVisitor {
 public:
  explicit OptionJsonWriter(nlohmann::json* out) : out_(out) {}
  void Int(const char* name, int64_t* value, int64_t, int64_t, const char*) override;
  void Real(const char* name, double* value, double, double, const char*) override;
  void Text(const char* name, std::string* value, const std::vector<std::string>&,
            const char*) override;
  void Flag(const char* name, bool* value, const char*) override;

 private:
  nlohmann::json* out_;
};

class OptionJsonReader final : public OptionVisitor {
 public:
  OptionJsonReader(const nlohmann::json* in, std::string owner);
  void Int(const char* name, int64_t* value, int64_t, int64_t, const char*) override;
  void Real(const char* name, double* value, double, double, const char*) override;
  void Text(const char* name, std::string* value, const std::vector<std::string>&,
            const char*) override;
  void Flag(const char* name, bool* value, const char*) override;
  /// Throws if the JSON held keys no option claimed.
  void CheckAllKeysUsed() const;

 private:
  const nlohmann::json* in_;
  std::string owner_;
  std::vector<std::string> known_;
};
}  // namespace detail

// Visit() hands out pointers for binding, so it is not const; these readers walk a copy.
template <typename Options>
void ValidateOptions(const Options& options, const std::string& owner) {
  Options copy = options;
  detail::OptionValidator validator(owner);
  copy.Visit(validator);
}

template <typename Options>
nlohmann::json OptionsToJson(const Options& options) {
  Options copy = options;
  nlohmann::json out;
  detail::OptionJsonWriter writer(&out);
  copy.Visit(writer);
  return out;
}

template <typename Options>
void OptionsFromJson(Options& options, const nlohmann::json& json, const std::string& owner) {
  detail::OptionJsonReader reader(&json, owner);
  options.Visit(reader);
  reader.CheckAllKeysUsed();
}

}  // namespace aiok
