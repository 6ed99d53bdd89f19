#include "aiok/data/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/suggest.h"
#include "aiok/data/criteo_layout.h"

namespace aiok::data {
namespace {

struct RoleName {
  FieldRole role;
  const char* name;
};
constexpr RoleName kRoles[] = {
    {FieldRole::kLabel, "label"},         {FieldRole::kDense, "dense"},
    {FieldRole::kCategorical, "categorical"}, {FieldRole::kMultiCategorical, "multi_categorical"},
    {FieldRole::kSequence, "sequence"},   {FieldRole::kTimestamp, "timestamp"},
    {FieldRole::kWeight, "weight"},       {FieldRole::kIgnored, "ignored"},
};

struct TypeName {
  ValueType type;
  const char* name;
};
constexpr TypeName kTypes[] = {
    {ValueType::kInt64, "int64"},     {ValueType::kUInt64, "uint64"},
    {ValueType::kFloat64, "float64"}, {ValueType::kString, "string"},
    {ValueType::kTimestamp, "timestamp"},
};

std::vector<std::string> TypeNames() {
  std::vector<std::string> names;
  for (const auto& t : kTypes) {
    names.push_back(t.name);
    names.push_back(std::string("list<") + t.name + ">");
  }
  return names;
}

// A JSON value for an error message. Config text may hold bytes that are not UTF-8 (a Latin-1
// file), which a strict dump refuses with a raw type_error.
std::string Dumped(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsUtf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// One character given as a string of length 1 ("\t" in YAML is a TAB), or "" for none.
char ParseChar(const nlohmann::json& value, const std::string& where, bool allow_none) {
  AIOK_CHECK(value.is_string(), ErrorKind::kConfig, "{}: expected a one-character string, found {}",
             where, Dumped(value));
  const std::string text = value.get<std::string>();
  if (text.empty() && allow_none)
    return '\0';
  if (text == "\\t" || text == "tab")
    return '\t';
  AIOK_CHECK(text.size() == 1, ErrorKind::kConfig,
             "{}: expected one character (a one-byte separator), found \"{}\"", where, text);
  return text[0];
}

std::string CharText(char c) { return c == '\0' ? "" : std::string(1, c); }

// Throws unless every key of `object` is one of `known`, naming the closest known keys.
void CheckKeys(const nlohmann::json& object, const std::vector<std::string>& known,
               const std::string& where) {
  AIOK_CHECK(object.is_object(), ErrorKind::kConfig, "{}: expected a mapping, found {}", where,
             Dumped(object));
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      Throw(ErrorKind::kConfig, "{}: unknown key '{}'{} (valid: {})", where, key,
            DidYouMean(key, known), fmt::join(known, ", "));
    }
  }
}

}  // namespace

const char* FieldRoleName(FieldRole role) {
  for (const auto& r : kRoles) {
    if (r.role == role)
      return r.name;
  }
  return "?";
}

const std::vector<std::string>& FieldRoleNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& r : kRoles)
      names.push_back(r.name);
    return names;
  }();
  return kNames;
}

const char* ValueTypeName(ValueType type) {
  for (const auto& t : kTypes) {
    if (t.type == type)
      return t.name;
  }
  return "?";
}

std::string FieldType::Name() const {
  const std::string name = ValueTypeName(value);
  return list ? "list<" + name + ">" : name;
}

FieldType ParseFieldType(const std::string& text, const std::string& where) {
  FieldType type;
  std::string inner = text;
  if (text.size() > 6 && text.compare(0, 5, "list<") == 0 && text.back() == '>') {
    type.list = true;
    inner = text.substr(5, text.size() - 6);
  }
  for (const auto& t : kTypes) {
    if (inner == t.name) {
      type.value = t.type;
      return type;
    }
  }
  const std::vector<std::string> names = TypeNames();
  Throw(ErrorKind::kConfig, "{}: unknown type '{}'{} (valid: {})", where, text,
        DidYouMean(text, names), fmt::join(names, ", "));
}

FieldRole ParseFieldRole(const std::string& text, const std::string& where) {
  for (const auto& r : kRoles) {
    if (text == r.name)
      return r.role;
  }
  Throw(ErrorKind::kConfig, "{}: unknown role '{}'{} (valid: {})", where, text,
        DidYouMean(text, FieldRoleNames()), fmt::join(FieldRoleNames(), ", "));
}

bool TextFormat::IsNull(const char* text, size_t size) const {
  if (size == 0)
    return true;
  for (const std::string& token : null_tokens) {
    if (token.size() == size && std::memcmp(token.data(), text, size) == 0)
      return true;
  }
  return false;
}

int TableSchema::Find(const std::string& name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name)
      return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> TableSchema::Names() const {
  std::vector<std::string> names;
  for (const Field& field : fields)
    names.push_back(field.name);
  return names;
}

const Field& TableSchema::At(const std::string& name, const std::string& where) const {
  const int index = Find(name);
  if (index < 0) {
    Throw(ErrorKind::kConfig, "{}: no field named '{}' in the schema{}", where, name,
          DidYouMean(name, Names()));
  }
  return fields[static_cast<size_t>(index)];
}

int TableSchema::LabelIndex() const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].role == FieldRole::kLabel)
      return static_cast<int>(i);
  }
  return -1;
}

void TableSchema::Validate(const std::string& source) const {
  AIOK_CHECK(!fields.empty(), ErrorKind::kConfig, "{}: the schema has no fields", source);
  std::set<std::string> seen;
  int labels = 0;
  int weights = 0;
  for (const Field& field : fields) {
    const std::string where = fmt::format("{}: field '{}'", source, field.name);
    AIOK_CHECK(!field.name.empty(), ErrorKind::kConfig, "{}: a field has no name", source);
    AIOK_CHECK(IsUtf8(field.name), ErrorKind::kConfig,
               "{}: field name {} is not UTF-8 text; aiok reads UTF-8 (convert the file, e.g. "
               "iconv -f latin1 -t utf-8)",
               source, Dumped(field.name));
    AIOK_CHECK(seen.insert(field.name).second, ErrorKind::kConfig, "{} appears twice", where);
    const bool list_role =
        field.role == FieldRole::kMultiCategorical || field.role == FieldRole::kSequence;
    if (field.role != FieldRole::kIgnored) {
      AIOK_CHECK(field.type.list == list_role, ErrorKind::kConfig,
                 "{}: role {} takes {} type, found {}", where, FieldRoleName(field.role),
                 list_role ? "a list<...>" : "a single-value", field.type.Name());
    }
    const bool numeric = field.type.value == ValueType::kInt64 ||
                         field.type.value == ValueType::kUInt64 ||
                         field.type.value == ValueType::kFloat64;
    switch (field.role) {
      case FieldRole::kLabel:
        ++labels;
        break;
      case FieldRole::kWeight:
      case FieldRole::kDense:
        AIOK_CHECK(numeric, ErrorKind::kConfig, "{}: role {} takes a number type, found {}", where,
                   FieldRoleName(field.role), field.type.Name());
        weights += field.role == FieldRole::kWeight;
        break;
      case FieldRole::kTimestamp:
        AIOK_CHECK(field.type.value == ValueType::kTimestamp ||
                       field.type.value == ValueType::kInt64,
                   ErrorKind::kConfig,
                   "{}: role timestamp takes type timestamp or int64 (seconds), found {}", where,
                   field.type.Name());
        break;
      default:
        break;
    }
    AIOK_CHECK(!field.type.hex || field.type.value == ValueType::kUInt64, ErrorKind::kConfig,
               "{}: encoding hex applies to uint64 only, found {}", where, field.type.Name());
  }
  AIOK_CHECK(labels <= 1, ErrorKind::kConfig, "{}: {} fields have role label; at most one may",
             source, labels);
  AIOK_CHECK(weights <= 1, ErrorKind::kConfig, "{}: {} fields have role weight; at most one may",
             source, weights);
  for (const std::string& token : format.null_tokens) {
    AIOK_CHECK(IsUtf8(token), ErrorKind::kConfig, "{}: format: null token {} is not UTF-8 text",
               source, Dumped(token));
  }
  for (const char c : {format.separator, format.quote, format.list_separator}) {
    AIOK_CHECK(static_cast<unsigned char>(c) < 0x80, ErrorKind::kConfig,
               "{}: format: separators and the quote must be ASCII characters, found byte 0x{:02x}",
               source, static_cast<unsigned char>(c));
  }
  AIOK_CHECK(format.separator != '\n' && format.separator != '\r' &&
                 format.separator != format.quote && format.list_separator != format.separator,
             ErrorKind::kConfig,
             "{}: format: the separator must differ from the quote, the list separator and line "
             "ends",
             source);
}

nlohmann::json TableSchema::ToJson() const {
  nlohmann::json fields_json = nlohmann::json::array();
  for (const Field& field : fields) {
    nlohmann::json f = {{"name", field.name},
                        {"role", FieldRoleName(field.role)},
                        {"type", field.type.Name()}};
    if (field.type.hex)
      f["encoding"] = "hex";
    fields_json.push_back(std::move(f));
  }
  return {{"format",
           {{"separator", CharText(format.separator)},
            {"header", format.header},
            {"quote", CharText(format.quote)},
            {"list_separator", CharText(format.list_separator)},
            {"null_tokens", format.null_tokens},
            {"trim", format.trim}}},
          {"fields", fields_json}};
}

TableSchema TableSchema::FromJson(const nlohmann::json& json, const std::string& source) {
  CheckKeys(json, {"format", "fields"}, source);
  TableSchema schema;
  if (json.contains("format")) {
    const nlohmann::json& f = json.at("format");
    const std::string where = source + ": format";
    CheckKeys(f, {"separator", "header", "quote", "list_separator", "null_tokens", "trim"}, where);
    auto flag = [&](const char* key, bool* out) {
      if (!f.contains(key))
        return;
      AIOK_CHECK(f.at(key).is_boolean(), ErrorKind::kConfig, "{}.{}: expected true or false, found {}",
                 where, key, Dumped(f.at(key)));
      *out = f.at(key).get<bool>();
    };
    if (f.contains("separator"))
      schema.format.separator = ParseChar(f.at("separator"), where + ".separator", false);
    if (f.contains("quote"))
      schema.format.quote = ParseChar(f.at("quote"), where + ".quote", true);
    if (f.contains("list_separator"))
      schema.format.list_separator = ParseChar(f.at("list_separator"), where + ".list_separator", false);
    flag("header", &schema.format.header);
    flag("trim", &schema.format.trim);
    if (f.contains("null_tokens")) {
      const nlohmann::json& tokens = f.at("null_tokens");
      AIOK_CHECK(tokens.is_array() && std::all_of(tokens.begin(), tokens.end(),
                                                  [](const auto& t) { return t.is_string(); }),
                 ErrorKind::kConfig, "{}.null_tokens: expected a list of strings, found {}", where,
                 Dumped(tokens));
      schema.format.null_tokens = tokens.get<std::vector<std::string>>();
    }
  }
  AIOK_CHECK(json.contains("fields") && json.at("fields").is_array(), ErrorKind::kConfig,
             "{}: expected 'fields', a list of {{name, role, type}}", source);
  for (size_t i = 0; i < json.at("fields").size(); ++i) {
    const nlohmann::json& f = json.at("fields")[i];
    const std::string where = fmt::format("{}: fields[{}]", source, i);
    CheckKeys(f, {"name", "role", "type", "encoding"}, where);
    for (const char* key : {"name", "role", "type"}) {
      AIOK_CHECK(f.contains(key) && f.at(key).is_string(), ErrorKind::kConfig,
                 "{}: expected '{}' as a string", where, key);
    }
    Field field;
    field.name = f.at("name").get<std::string>();
    const std::string named = fmt::format("{}: field '{}'", source, field.name);
    field.role = ParseFieldRole(f.at("role").get<std::string>(), named);
    field.type = ParseFieldType(f.at("type").get<std::string>(), named);
    if (f.contains("encoding")) {
      AIOK_CHECK(f.at("encoding") == "hex", ErrorKind::kConfig,
                 "{}: unknown encoding {} (valid: hex)", named, Dumped(f.at("encoding")));
      field.type.hex = true;
    }
    schema.fields.push_back(std::move(field));
  }
  schema.Validate(source);
  return schema;
}

TableSchema TableSchema::Load(const std::string& path) {
  return FromJson(LoadConfigFile(path), path);
}

std::string TableSchema::ToYaml() const {
  // Flow style per field keeps one field on one line, which is what a person edits.
  auto quoted = [](const std::string& text) { return nlohmann::json(text).dump(); };
  std::string out = "format:\n";
  out += fmt::format("  separator: {}\n", quoted(CharText(format.separator)));
  out += fmt::format("  header: {}\n", format.header ? "true" : "false");
  out += fmt::format("  quote: {}\n", quoted(CharText(format.quote)));
  out += fmt::format("  list_separator: {}\n", quoted(CharText(format.list_separator)));
  std::vector<std::string> tokens;
  for (const std::string& token : format.null_tokens)
    tokens.push_back(quoted(token));
  out += fmt::format("  null_tokens: [{}]\n", fmt::join(tokens, ", "));
  out += fmt::format("  trim: {}\n", format.trim ? "true" : "false");
  out += "fields:  # roles: " + fmt::format("{}", fmt::join(FieldRoleNames(), ", ")) + "\n";
  for (const Field& field : fields) {
    out += fmt::format("  - {{name: {}, role: {}, type: {}{}}}\n", quoted(field.name),
                       FieldRoleName(field.role), field.type.Name(),
                       field.type.hex ? ", encoding: hex" : "");
  }
  return out;
}

TableSchema CriteoTableSchema(bool with_label) {
  TableSchema schema;
  schema.format.separator = '\t';
  schema.format.header = false;
  schema.format.quote = '\0';
  schema.format.null_tokens = {""};
  schema.format.trim = false;
  if (with_label)
    schema.fields.push_back({"label", FieldRole::kLabel, {ValueType::kInt64, false, false}});
  for (int d = 0; d < kCriteoDense; ++d)
    schema.fields.push_back({CriteoDenseName(d), FieldRole::kDense, {ValueType::kInt64, false, false}});
  for (int c = 0; c < kCriteoCategorical; ++c) {
    schema.fields.push_back(
        {CriteoCategoricalName(c), FieldRole::kCategorical, {ValueType::kUInt64, false, true}});
  }
  return schema;
}

}  // namespace aiok::data
