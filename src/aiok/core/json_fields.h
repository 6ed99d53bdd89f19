// Typed fields of a parsed JSON or YAML file (bundle.json, schema.json, run.yaml, a
// checkpoint's position.json, a schema YAML). A missing field or a value of another type is an
// Error that names the file, the field's path in it and the type expected —
//
//   bundle/bundle.json: format_version: expected an integer, found "1" (a string)
//
// — instead of nlohmann's "[json.exception.type_error.302] type must be number".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "aiok/core/error.h"

namespace aiok {

/// A value of a parsed file with where it is: the file and the path to it ("splits.train.rows",
/// "fields[3].name"). Cheap to copy; refers to the document, which must outlive it.
class JsonField {
 public:
  /// The whole document parsed from `file`; errors about it are of `kind` (kInvalidInput for
  /// files aiok wrote, kConfig for files a person writes).
  JsonField(const nlohmann::json& document, std::string file,
            ErrorKind kind = ErrorKind::kInvalidInput);

  const nlohmann::json& json() const { return *value_; }
  const std::string& file() const { return file_; }
  /// The field's path in the file; "" for the document itself.
  const std::string& path() const { return path_; }
  /// "file: path" (or the file alone), the start of a message about this value.
  std::string Where() const;

  /// Whether this is an object with a member `key` that is not null.
  bool Has(const std::string& key) const;
  /// The member `key`. Throws unless this is an object that has it.
  JsonField operator[](const std::string& key) const;
  /// Element `index` of this array. Throws unless this is an array that long.
  JsonField operator[](size_t index) const;
  /// This array's elements. Throws unless this is an array.
  std::vector<JsonField> Elements() const;
  /// This object's member names, sorted (as nlohmann::json keeps them). Throws unless this is
  /// an object.
  std::vector<std::string> Keys() const;

  /// This value as T — bool, int, int64_t, uint64_t, double, std::string, or a std::vector
  /// of std::string or int64_t. Throws, naming file, path, the type expected and the value found,
  /// when it is not one (integers must be whole and in T's range).
  template <typename T>
  T Get() const;
  /// The member `key` as T, or `fallback` when it is absent or null.
  template <typename T>
  T Get(const std::string& key, T fallback) const {
    return Has(key) ? (*this)[key].Get<T>() : fallback;
  }
  /// Throws unless this is an object (also named "a mapping" in YAML).
  const JsonField& ExpectObject() const;

  /// Throws Error(kind) "file: path: expected `expected`, found VALUE (a TYPE)".
  [[noreturn]] void Fail(std::string_view expected) const;

 private:
  JsonField(const nlohmann::json* value, std::string file, std::string path, ErrorKind kind)
      : value_(value), file_(std::move(file)), path_(std::move(path)), kind_(kind) {}

  const nlohmann::json* value_;
  std::string file_;
  std::string path_;
  ErrorKind kind_;
};

template <>
bool JsonField::Get<bool>() const;
template <>
int JsonField::Get<int>() const;
template <>
int64_t JsonField::Get<int64_t>() const;
template <>
uint64_t JsonField::Get<uint64_t>() const;
template <>
double JsonField::Get<double>() const;
template <>
std::string JsonField::Get<std::string>() const;
template <>
std::vector<std::string> JsonField::Get<std::vector<std::string>>() const;
template <>
std::vector<int64_t> JsonField::Get<std::vector<int64_t>>() const;

/// Parses the JSON text of `file`: Error(kind) naming the file, line and column when it is
/// not JSON.
nlohmann::json ParseJsonText(const std::string& text, const std::string& file,
                             ErrorKind kind = ErrorKind::kInvalidInput);

}  // namespace aiok
