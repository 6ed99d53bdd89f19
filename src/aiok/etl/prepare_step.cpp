#include "aiok/etl/prepare_step.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"
#include "aiok/core/suggest.h"

namespace aiok::etl {
namespace {

std::string Shown(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Reads a step's options from JSON: scalars as core/options.h reads them, lists of names
// from a YAML list (or one name), and checks bounds, choices and required lists.
class PrepareOptionReader final : public PrepareOptionVisitor {
 public:
  PrepareOptionReader(const nlohmann::json& in, std::string owner)
      : in_(in), owner_(std::move(owner)), scalars_(&in_, owner_), validator_(owner_) {}
  void Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) override {
    known_.emplace_back(name);
    scalars_.Int(name, value, min, max, help);
    validator_.Int(name, value, min, max, help);
  }
  void Real(const char* name, double* value, double min, double max, const char* help) override {
    known_.emplace_back(name);
    scalars_.Real(name, value, min, max, help);
    validator_.Real(name, value, min, max, help);
  }
  void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
            const char* help) override {
    known_.emplace_back(name);
    scalars_.Text(name, value, choices, help);
    validator_.Text(name, value, choices, help);
  }
  void Flag(const char* name, bool* value, const char* help) override {
    known_.emplace_back(name);
    scalars_.Flag(name, value, help);
  }
  void Names(const char* name, std::vector<std::string>* value, bool required,
             const char*) override {
    known_.emplace_back(name);
    const auto it = in_.find(name);
    if (it != in_.end())
      *value = ReadNames(*it, name);
    AIOK_CHECK(!required || !value->empty(), ErrorKind::kConfig,
               "{}: option '{}' is required: a list of column names like [user_id]", owner_, name);
  }
  void NameLists(const char* name,
                 std::vector<std::pair<std::string, std::vector<std::string>>>* value,
                 const std::vector<std::string>& choices, const char*) override {
    known_.emplace_back(name);
    const auto it = in_.find(name);
    if (it == in_.end())
      return;
    AIOK_CHECK(it->is_object() && !it->empty(), ErrorKind::kConfig,
               "{}: option '{}' must be a map of column to a list, like {{price: [mean, max]}}; "
               "got {}",
               owner_, name, Shown(*it));
    value->clear();
    for (const auto& [column, list] : it->items()) {
      std::vector<std::string> names = ReadNames(list, name);
      for (const std::string& entry : names) {
        AIOK_CHECK(std::find(choices.begin(), choices.end(), entry) != choices.end(),
                   ErrorKind::kConfig, "{}: option '{}': '{}' for column {} must be one of {}{}",
                   owner_, name, entry, column, fmt::join(choices, ", "),
                   DidYouMean(entry, choices));
      }
      AIOK_CHECK(!names.empty(), ErrorKind::kConfig, "{}: option '{}': column {} lists nothing",
                 owner_, name, column);
      value->emplace_back(column, std::move(names));
    }
  }
  void CheckAllKeysUsed() const {
    for (const auto& item : in_.items()) {
      AIOK_CHECK(std::find(known_.begin(), known_.end(), item.key()) != known_.end(),
                 ErrorKind::kConfig, "{}: unknown option '{}'{} (valid: {})", owner_, item.key(),
                 DidYouMean(item.key(), known_), fmt::join(known_, ", "));
    }
  }

 private:
  std::vector<std::string> ReadNames(const nlohmann::json& json, const char* name) const {
    if (json.is_string())
      return {json.get<std::string>()};
    bool ok = json.is_array();
    for (const auto& entry : ok ? json : nlohmann::json::array())
      ok = ok && entry.is_string() && !entry.get<std::string>().empty();
    AIOK_CHECK(ok, ErrorKind::kConfig, "{}: option '{}' must be a list of names, got {}", owner_,
               name, Shown(json));
    return json.get<std::vector<std::string>>();
  }

  const nlohmann::json& in_;
  std::string owner_;
  detail::OptionJsonReader scalars_;
  detail::OptionValidator validator_;
  std::vector<std::string> known_;
};

class PrepareOptionWriter final : public PrepareOptionVisitor {
 public:
  explicit PrepareOptionWriter(nlohmann::json* out) : out_(out), scalars_(out) {}
  void Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) override {
    scalars_.Int(name, value, min, max, help);
  }
  void Real(const char* name, double* value, double min, double max, const char* help) override {
    scalars_.Real(name, value, min, max, help);
  }
  void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
            const char* help) override {
    scalars_.Text(name, value, choices, help);
  }
  void Flag(const char* name, bool* value, const char* help) override {
    scalars_.Flag(name, value, help);
  }
  void Names(const char* name, std::vector<std::string>* value, bool, const char*) override {
    (*out_)[name] = *value;
  }
  void NameLists(const char* name,
                 std::vector<std::pair<std::string, std::vector<std::string>>>* value,
                 const std::vector<std::string>&, const char*) override {
    nlohmann::json map = nlohmann::json::object();
    for (const auto& [column, list] : *value)
      map[column] = list;
    (*out_)[name] = map;
  }

 private:
  nlohmann::json* out_;
  detail::OptionJsonWriter scalars_;
};

}  // namespace

void PlainOptionAdapter::Names(const char* name, std::vector<std::string>* value, bool required,
                               const char* help) {
  std::string shown = fmt::format("[{}]", fmt::join(*value, ", "));
  const std::string text = fmt::format("{}{}", help, required ? " (required)" : "");
  texts_.push_back(text);
  inner_->Text(name, &shown, {}, texts_.back().c_str());
}

void PlainOptionAdapter::NameLists(
    const char* name, std::vector<std::pair<std::string, std::vector<std::string>>>* value,
    const std::vector<std::string>& choices, const char* help) {
  std::string shown = "{COLUMN: [...]}";
  texts_.push_back(fmt::format("{}; each one of {}", help, fmt::join(choices, ", ")));
  inner_->Text(name, &shown, {}, texts_.back().c_str());
}

nlohmann::json PrepareLookup::ToJson() const {
  return {{"step", step}, {"op", op},         {"file", file},
          {"keys", keys}, {"values", values}, {"zero_if_absent", zero_if_absent}};
}

PrepareLookup PrepareLookup::FromJson(const nlohmann::json& json, const std::string& where) {
  const JsonField f(json, where);
  f.ExpectObject();
  PrepareLookup lookup;
  lookup.step = f["step"].Get<int>();
  lookup.op = f["op"].Get<std::string>();
  lookup.file = f["file"].Get<std::string>();
  lookup.keys = f["keys"].Get<std::vector<std::string>>();
  lookup.values = f["values"].Get<std::vector<std::string>>();
  lookup.zero_if_absent = f["zero_if_absent"].Get<std::vector<std::string>>();
  // The file is a name inside the lookup directory, never a path out of it.
  AIOK_CHECK(
      !lookup.file.empty() && lookup.file.find('/') == std::string::npos && lookup.file[0] != '.',
      ErrorKind::kInvalidInput, "{}: file: expected a file name, found '{}'", where, lookup.file);
  return lookup;
}

nlohmann::json PrepareStep::Options() {
  nlohmann::json out = nlohmann::json::object();
  PrepareOptionWriter writer(&out);
  VisitOptions(writer);
  return out;
}

void PrepareRegistry::Register(const std::string& name, Factory factory) {
  factories_[name] = std::move(factory);
}

std::unique_ptr<PrepareStep> PrepareRegistry::Create(const std::string& name,
                                                     const nlohmann::json& options,
                                                     const std::string& where) const {
  const auto it = factories_.find(name);
  if (it == factories_.end()) {
    const std::vector<std::string> names = Names();
    Throw(ErrorKind::kConfig, "{}: unknown prepare step '{}'{} (steps: {})", where, name,
          DidYouMean(name, names), fmt::join(names, ", "));
  }
  std::unique_ptr<PrepareStep> step = it->second();
  const nlohmann::json& given = options.is_null() ? nlohmann::json::object() : options;
  AIOK_CHECK(given.is_object(), ErrorKind::kConfig, "{}: expected a map of options, got {}", where,
             Shown(given));
  PrepareOptionReader reader(given, where);
  step->VisitOptions(reader);
  reader.CheckAllKeysUsed();
  step->CheckOptions(where);
  return step;
}

std::unique_ptr<PrepareStep> PrepareRegistry::CreateDefault(const std::string& name) const {
  return factories_.at(name)();
}

std::vector<std::string> PrepareRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories_)
    names.push_back(name);
  return names;
}

void RegisterPrepareSteps(PrepareRegistry& registry) {
  RegisterRowSteps(registry);
  RegisterRelationalSteps(registry);
  RegisterSequenceSteps(registry);
  RegisterExpressionSteps(registry);
}

std::string RenumberedSelect(const std::string& source, const std::string& order) {
  return fmt::format(
      "SELECT * EXCLUDE (__row), CAST(row_number() OVER (ORDER BY {}) - 1 AS BIGINT) AS __row "
      "FROM {} ORDER BY __row",
      order, source);
}

}  // namespace aiok::etl
