// The schema of a table: what each field of a raw input file is (its role for the model and
// its value type) and how a text file writes its rows. One type for every input: a header-less
// Criteo TSV is a file with a known schema (CriteoTableSchema), a user's CSV gets an inferred
// one (aiok schema infer) that a person can edit and pass back with --schema.
//
//   format: {separator: ",", header: true, quote: "\"", list_separator: "|",
//            null_tokens: ["", "NA"], trim: true}
//   fields:
//     - {name: y, role: label, type: int64}
//     - {name: price, role: dense, type: float64}
//     - {name: C1, role: categorical, type: uint64, encoding: hex}
//     - {name: genres, role: multi_categorical, type: list<string>}
//     - {name: ts, role: timestamp, type: timestamp}
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace aiok::data {

/// What a field is for.
enum class FieldRole {
  kLabel,             ///< the target
  kDense,             ///< a number fed to the model as is (after the pipeline's operators)
  kCategorical,       ///< one id-like value per row
  kMultiCategorical,  ///< a list of id-like values per row (genres)
  kSequence,          ///< an ordered list of events (a user's history)
  kTimestamp,         ///< a point in time (splits, time features)
  kWeight,            ///< a per-row sample weight
  kIgnored,           ///< read but not used
};
const char* FieldRoleName(FieldRole role);
/// All role names, for messages and help.
const std::vector<std::string>& FieldRoleNames();

/// The type of one value.
enum class ValueType {
  kInt64,
  kUInt64,     ///< ids above 2^63 (Avazu's `id`)
  kFloat64,
  kString,
  kTimestamp,  ///< seconds since the Unix epoch, UTC
};
const char* ValueTypeName(ValueType type);

/// A field's type: a value type, or a list of them.
struct FieldType {
  ValueType value = ValueType::kString;
  bool list = false;
  /// kUInt64 written as base-16 digits ("68fd1e64"), as Criteo's hashed categories are.
  bool hex = false;

  /// "int64", "list<string>", ...
  std::string Name() const;
  bool operator==(const FieldType& other) const {
    return value == other.value && list == other.list && hex == other.hex;
  }
};

struct Field {
  std::string name;
  FieldRole role = FieldRole::kIgnored;
  FieldType type;
};

/// How a text file writes rows.
struct TextFormat {
  char separator = ',';
  bool header = true;
  char quote = '"';  ///< RFC 4180 quoting; '\0' for none
  char list_separator = '|';
  /// Field texts that mean "missing" (after trimming); an empty field always does.
  std::vector<std::string> null_tokens = {"", "NA", "N/A", "NULL", "null", "NaN", "nan", "\\N", "?"};
  bool trim = true;  ///< spaces and tabs around unquoted fields are not part of the value

  bool IsNull(const char* text, size_t size) const;
};

struct TableSchema {
  std::vector<Field> fields;  ///< in file order
  TextFormat format;

  /// Index of the field named `name`, or -1.
  int Find(const std::string& name) const;
  /// The field named `name`; an unknown name throws Error(kConfig) naming `where` and the
  /// closest existing names.
  const Field& At(const std::string& name, const std::string& where) const;
  std::vector<std::string> Names() const;
  /// The label field's index, or -1.
  int LabelIndex() const;

  /// Checks names are unique, at most one label and one weight, and each role has a type it
  /// can take; throws Error(kConfig) naming `source` and the field.
  void Validate(const std::string& source) const;

  nlohmann::json ToJson() const;
  /// Reads the document above; unknown keys, roles and types throw Error(kConfig) naming
  /// `source`, the field and the valid names.
  static TableSchema FromJson(const nlohmann::json& json, const std::string& source);
  /// Reads a YAML or JSON schema file.
  static TableSchema Load(const std::string& path);
  /// The schema as YAML, one field per line, for a person to edit.
  std::string ToYaml() const;
};

/// Criteo's Kaggle layout: TAB-separated, no header, no quoting; label, I1..I13 (int64,
/// dense), C1..C26 (hex uint64, categorical). Without `with_label`, the rows to score.
TableSchema CriteoTableSchema(bool with_label);

/// Parses a type name ("float64", "list<int64>"); throws Error(kConfig) naming `where`.
FieldType ParseFieldType(const std::string& text, const std::string& where);
/// Parses a role name; throws Error(kConfig) naming `where` and the valid roles.
FieldRole ParseFieldRole(const std::string& text, const std::string& where);

}  // namespace aiok::data
