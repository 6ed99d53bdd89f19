#include "aiok/core/json_fields.h"

#include <fmt/format.h>

#include <limits>

namespace aiok {
namespace {

const char* TypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::array:
      return "a list";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::number_float:
      return "a real number";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    default:
      return "a binary value";
  }
}

// The value as a message shows it: short values whole, long ones cut.
std::string Shown(const nlohmann::json& value) {
  constexpr size_t kLongest = 60;
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kLongest)
    text = text.substr(0, kLongest) + "...";
  return text;
}

// The value as a T if it is an integer within T's range.
template <typename T>
bool ToInteger(const nlohmann::json& value, T* out) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      return false;
    *out = static_cast<T>(v);
    return true;
  }
  if (value.is_number_integer()) {
    const auto v = value.get<int64_t>();
    if constexpr (std::numeric_limits<T>::is_signed) {
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        return false;
      }
    } else if (v < 0) {
      return false;
    }
    *out = static_cast<T>(v);
    return true;
  }
  return false;
}

// What a T field expects, said so that a value of the right kind but out of range is told why.
template <typename T>
std::string IntegerExpected(const nlohmann::json& value) {
  if (!value.is_number_integer())
    return std::numeric_limits<T>::is_signed ? "an integer" : "a non-negative integer";
  return fmt::format("an integer from {} to {}", std::numeric_limits<T>::min(),
                     std::numeric_limits<T>::max());
}

}  // namespace

JsonField::JsonField(const nlohmann::json& document, std::string file, ErrorKind kind)
    : value_(&document), file_(std::move(file)), kind_(kind) {}

std::string JsonField::Where() const { return path_.empty() ? file_ : file_ + ": " + path_; }

void JsonField::Fail(std::string_view expected) const {
  if (value_ == nullptr)
    throw Error(kind_, fmt::format("{}: expected {}, found nothing (the field is missing)", Where(),
                                   expected));
  throw Error(kind_, fmt::format("{}: expected {}, found {} ({})", Where(), expected,
                                 Shown(*value_), TypeName(*value_)));
}

const JsonField& JsonField::ExpectObject() const {
  if (!value_->is_object())
    Fail("an object (a mapping of names to values)");
  return *this;
}

bool JsonField::Has(const std::string& key) const {
  if (!value_->is_object())
    return false;
  const auto it = value_->find(key);
  return it != value_->end() && !it->is_null();
}

JsonField JsonField::operator[](const std::string& key) const {
  std::string path = path_.empty() ? key : path_ + "." + key;
  if (!value_->is_object())
    Fail(fmt::format("an object with the field '{}'", key));
  const auto it = value_->find(key);
  if (it == value_->end())
    JsonField(nullptr, file_, std::move(path), kind_).Fail("a value");
  return JsonField(&*it, file_, std::move(path), kind_);
}

JsonField JsonField::operator[](size_t index) const {
  if (!value_->is_array())
    Fail("a list");
  std::string path = fmt::format("{}[{}]", path_, index);
  if (index >= value_->size()) {
    throw Error(kind_, fmt::format("{}: expected a list of more than {} elements, found {}",
                                   Where(), index, value_->size()));
  }
  return JsonField(&(*value_)[index], file_, std::move(path), kind_);
}

std::vector<JsonField> JsonField::Elements() const {
  if (!value_->is_array())
    Fail("a list");
  std::vector<JsonField> out;
  for (size_t i = 0; i < value_->size(); ++i)
    out.push_back((*this)[i]);
  return out;
}

std::vector<std::string> JsonField::Keys() const {
  ExpectObject();
  std::vector<std::string> out;
  for (const auto& item : value_->items())
    out.push_back(item.key());
  return out;
}

template <>
bool JsonField::Get<bool>() const {
  if (!value_->is_boolean())
    Fail("true or false");
  return value_->get<bool>();
}

template <>
std::string JsonField::Get<std::string>() const {
  if (!value_->is_string())
    Fail("a string");
  return value_->get<std::string>();
}

template <>
double JsonField::Get<double>() const {
  if (!value_->is_number())
    Fail("a number");
  return value_->get<double>();
}

template <>
int JsonField::Get<int>() const {
  int out = 0;
  if (!ToInteger(*value_, &out))
    Fail(IntegerExpected<int>(*value_));
  return out;
}

template <>
int64_t JsonField::Get<int64_t>() const {
  int64_t out = 0;
  if (!ToInteger(*value_, &out))
    Fail(IntegerExpected<int64_t>(*value_));
  return out;
}

template <>
uint64_t JsonField::Get<uint64_t>() const {
  uint64_t out = 0;
  if (!ToInteger(*value_, &out))
    Fail(IntegerExpected<uint64_t>(*value_));
  return out;
}

template <>
std::vector<std::string> JsonField::Get<std::vector<std::string>>() const {
  if (!value_->is_array())
    Fail("a list of strings");
  std::vector<std::string> out;
  for (const JsonField& element : Elements())
    out.push_back(element.Get<std::string>());
  return out;
}

template <>
std::vector<int64_t> JsonField::Get<std::vector<int64_t>>() const {
  if (!value_->is_array())
    Fail("a list of integers");
  std::vector<int64_t> out;
  for (const JsonField& element : Elements())
    out.push_back(element.Get<int64_t>());
  return out;
}

nlohmann::json ParseJsonText(const std::string& text, const std::string& file, ErrorKind kind) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // what() is "[json.exception.parse_error.101] parse error at line L, column C: ...", or
    // for a number beyond double, "[json.exception.out_of_range.406] number overflow parsing
    // '65e949'" (not a parse_error: found by fuzzing schema.json).
    std::string message = e.what();
    const size_t bracket = message.find("] ");
    if (message.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos)
      message.erase(0, bracket + 2);
    throw Error(kind, fmt::format("{}: not valid JSON: {}", file, message));
  }
}

}  // namespace aiok
