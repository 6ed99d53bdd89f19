#include "aiok/core/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "aiok/core/error.h"

namespace aiok::detail {
namespace {
std::string Limit(int64_t v) { return v == kNoIntLimit ? "inf" : std::to_string(v); }
std::string Limit(double v) {
  return std::isinf(v) ? (v > 0 ? "inf" : "-inf") : fmt::format("{}", v);
}
}  // namespace

void OptionValidator::Int(const char* name, int64_t* value, int64_t min, int64_t max, const char*) {
  AIOK_CHECK(*value >= min && *value <= max, ErrorKind::kConfig,
             "{}: option '{}' must be an integer in [{}, {}], got {}", owner_, name, Limit(min),
             Limit(max), *value);
}

void OptionValidator::Real(const char* name, double* value, double min, double max, const char*) {
  AIOK_CHECK(*value >= min && *value <= max, ErrorKind::kConfig,
             "{}: option '{}' must be a number in [{}, {}], got {}", owner_, name, Limit(min),
             Limit(max), *value);
}

void OptionValidator::Text(const char* name, std::string* value,
                           const std::vector<std::string>& choices, const char*) {
  AIOK_CHECK(choices.empty() || std::find(choices.begin(), choices.end(), *value) != choices.end(),
             ErrorKind::kConfig, "{}: option '{}' must be one of {}, got '{}'", owner_, name,
             fmt::join(choices, ", "), *value);
}

void OptionJsonWriter::Int(const char* name, int64_t* value, int64_t, int64_t, const char*) {
  (*out_)[name] = *value;
}
void OptionJsonWriter::Real(const char* name, double* value, double, double, const char*) {
  (*out_)[name] = *value;
}
void OptionJsonWriter::Text(const char* name, std::string* value, const std::vector<std::string>&,
                            const char*) {
  (*out_)[name] = *value;
}
void OptionJsonWriter::Flag(const char* name, bool* value, const char*) { (*out_)[name] = *value; }

OptionJsonReader::OptionJsonReader(const nlohmann::json* in, std::string owner)
    : in_(in), owner_(std::move(owner)) {
  AIOK_CHECK(in_->is_object(), ErrorKind::kConfig, "{}: expected an object of options, got {}",
             owner_, in_->type_name());
}

namespace {
// Reads key `name` into `value` when present; `type_ok` says whether the JSON type fits.
template <typename T, typename TypeCheck>
void ReadKey(const nlohmann::json& in, const char* name, T* value, TypeCheck type_ok,
             const std::string& owner, const char* expected) {
  auto it = in.find(name);
  if (it == in.end())
    return;
  AIOK_CHECK(type_ok(*it), ErrorKind::kConfig, "{}: option '{}' must be {}, got {}", owner, name,
             expected, it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  *value = it->template get<T>();
}
}  // namespace

void OptionJsonReader::Int(const char* name, int64_t* value, int64_t, int64_t, const char*) {
  known_.emplace_back(name);
  ReadKey(
      *in_, name, value, [](const auto& j) { return j.is_number_integer(); }, owner_, "an integer");
}
void OptionJsonReader::Real(const char* name, double* value, double, double, const char*) {
  known_.emplace_back(name);
  ReadKey(
      *in_, name, value, [](const auto& j) { return j.is_number(); }, owner_, "a number");
}
void OptionJsonReader::Text(const char* name, std::string* value, const std::vector<std::string>&,
                            const char*) {
  known_.emplace_back(name);
  ReadKey(
      *in_, name, value, [](const auto& j) { return j.is_string(); }, owner_, "a string");
}
void OptionJsonReader::Flag(const char* name, bool* value, const char*) {
  known_.emplace_back(name);
  ReadKey(
      *in_, name, value, [](const auto& j) { return j.is_boolean(); }, owner_, "true or false");
}

void OptionJsonReader::CheckAllKeysUsed() const {
  for (const auto& item : in_->items()) {
    AIOK_CHECK(std::find(known_.begin(), known_.end(), item.key()) != known_.end(),
               ErrorKind::kConfig, "{}: unknown option '{}' (valid: {})", owner_, item.key(),
               fmt::join(known_, ", "));
  }
}

}  // namespace aiok::detail
