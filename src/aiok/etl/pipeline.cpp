#include "aiok/etl/pipeline.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <regex>

#include "aiok/core/config.h"
#include "aiok/core/error.h"

namespace aiok::etl {
namespace {

constexpr int kStateFormatVersion = 1;

// "C1..C26" -> C1, C2, ..., C26; any other text is one column name.
std::vector<std::string> ExpandColumns(const std::string& text, const std::string& where) {
  static const std::regex kRange("([A-Za-z_]+)([0-9]+)\\.\\.([A-Za-z_]+)([0-9]+)");
  std::smatch match;
  if (!std::regex_match(text, match, kRange))
    return {text};
  const int first = std::stoi(match[2]);
  const int last = std::stoi(match[4]);
  AIOK_CHECK(match[1] == match[3] && first <= last, ErrorKind::kConfig,
             "{}: bad column range '{}' (expected like C1..C26)", where, text);
  std::vector<std::string> columns;
  for (int i = first; i <= last; ++i)
    columns.push_back(match[1].str() + std::to_string(i));
  return columns;
}

void CheckKeys(const nlohmann::json& object, const std::vector<std::string>& valid,
               const std::string& where) {
  for (const auto& item : object.items()) {
    AIOK_CHECK(std::find(valid.begin(), valid.end(), item.key()) != valid.end(), ErrorKind::kConfig,
               "{}: unknown key '{}' (valid: {})", where, item.key(), fmt::join(valid, ", "));
  }
}

}  // namespace

PipelineSpec PipelineSpec::FromJson(const nlohmann::json& json, const std::string& source) {
  AIOK_CHECK(json.is_object() && json.contains("steps") && json["steps"].is_array(),
             ErrorKind::kConfig, "{}: expected a 'steps' list", source);
  CheckKeys(json, {"steps"}, source);
  PipelineSpec spec;
  int index = 0;
  for (const auto& step_json : json["steps"]) {
    const std::string where = fmt::format("{}: step {}", source, ++index);
    AIOK_CHECK(step_json.is_object(), ErrorKind::kConfig,
               "{}: expected a map with 'columns' and "
               "'ops'",
               where);
    CheckKeys(step_json, {"columns", "ops"}, where);
    PipelineStep step;
    const auto& columns = step_json.value("columns", nlohmann::json());
    AIOK_CHECK(columns.is_array() || columns.is_string(), ErrorKind::kConfig,
               "{}: 'columns' must be a list of column names", where);
    for (const auto& column : columns.is_array() ? columns : nlohmann::json::array({columns})) {
      AIOK_CHECK(column.is_string(), ErrorKind::kConfig, "{}: column names must be strings, got {}",
                 where, column.dump());
      for (auto& name : ExpandColumns(column.get<std::string>(), where)) {
        step.columns.push_back(std::move(name));
      }
    }
    const auto& ops = step_json.value("ops", nlohmann::json());
    AIOK_CHECK(ops.is_array() && !ops.empty(), ErrorKind::kConfig,
               "{}: 'ops' must be a non-empty list like [{{categorify: {{freq_threshold: 3}}}}]",
               where);
    for (const auto& op : ops) {
      if (op.is_string()) {  // "log1p" is short for {log1p: {}}
        step.ops.push_back(OperatorSpec{op.get<std::string>(), nlohmann::json::object()});
        continue;
      }
      AIOK_CHECK(op.is_object() && op.size() == 1, ErrorKind::kConfig,
                 "{}: each op is one 'name: {{options}}' entry, got {}", where, op.dump());
      const auto& options = op.begin().value();
      step.ops.push_back(
          OperatorSpec{op.begin().key(), options.is_null() ? nlohmann::json::object() : options});
    }
    spec.steps.push_back(std::move(step));
  }
  return spec;
}

nlohmann::json PipelineSpec::ToJson() const {
  nlohmann::json steps_json = nlohmann::json::array();
  for (const auto& step : steps) {
    nlohmann::json ops = nlohmann::json::array();
    for (const auto& op : step.ops)
      ops.push_back({{op.name, op.options}});
    steps_json.push_back({{"columns", step.columns}, {"ops", ops}});
  }
  return {{"steps", steps_json}};
}

namespace {
const std::string& PresetText(const std::string& name) {
  for (const auto& [preset, text] : BuiltinPresetTexts()) {
    if (preset == name)
      return text;
  }
  Throw(ErrorKind::kConfig, "unknown preset '{}' (presets: {})", name,
        fmt::join(PresetNames(), ", "));
}
}  // namespace

PipelineSpec LoadPreset(const std::string& name, int64_t freq_threshold) {
  PipelineSpec spec = PipelineSpec::FromJson(ParseConfigText(PresetText(name), "preset " + name),
                                             "preset " + name);
  if (freq_threshold > 0) {
    for (PipelineStep& step : spec.steps) {
      for (OperatorSpec& op : step.ops) {
        if (op.name == "categorify")
          op.options["freq_threshold"] = freq_threshold;
      }
    }
  }
  return spec;
}

PipelineSpec CriteoPreset(int64_t freq_threshold) { return LoadPreset("criteo", freq_threshold); }

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const auto& [name, text] : BuiltinPresetTexts())
    names.push_back(name);
  return names;
}

std::string PresetDescription(const std::string& name) {
  const std::string& text = PresetText(name);
  if (text.rfind("# ", 0) != 0)
    return "";
  return text.substr(2, text.find('\n') - 2);
}

int ColumnChain::FitPhases() const {
  return static_cast<int>(
      std::count_if(ops.begin(), ops.end(), [](const auto& op) { return op->needs_fit(); }));
}

std::optional<size_t> ColumnChain::FitOperatorOfPhase(int phase) const {
  int seen = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i]->needs_fit() && seen++ == phase)
      return i;
  }
  return std::nullopt;
}

void ColumnChain::TransformDensePrefix(double* values, size_t n, size_t end) const {
  for (size_t i = 0; i < end; ++i)
    ops[i]->TransformDense(values, n);
}

Pipeline::Pipeline(const PipelineSpec& spec, const std::vector<std::string>& dense,
                   const std::vector<std::string>& categorical, const std::string& source)
    : spec_(spec) {
  OperatorRegistry registry;
  RegisterBuiltinOperators(registry);
  std::map<std::string, ColumnChain> chains;
  for (const auto& name : dense)
    chains[name] = ColumnChain{name, ColumnKind::kDense, {}};
  for (const auto& name : categorical) {
    chains[name] = ColumnChain{name, ColumnKind::kCategorical, {}};
  }
  std::map<std::string, int> covered_by;
  for (size_t s = 0; s < spec.steps.size(); ++s) {
    const PipelineStep& step = spec.steps[s];
    for (const std::string& column : step.columns) {
      const std::string where = fmt::format("{}: step {} ({})", source, s + 1, column);
      auto it = chains.find(column);
      AIOK_CHECK(it != chains.end(), ErrorKind::kConfig, "{}: unknown column (columns: {}, {})",
                 where, fmt::join(dense, ", "), fmt::join(categorical, ", "));
      AIOK_CHECK(covered_by.count(column) == 0, ErrorKind::kConfig,
                 "{}: column already handled by step {}", where, covered_by[column]);
      covered_by[column] = static_cast<int>(s + 1);
      ColumnChain& chain = it->second;
      for (const OperatorSpec& op_spec : step.ops) {
        auto op = registry.Create(op_spec.name, op_spec.options, where);
        AIOK_CHECK(op->kind() == chain.kind, ErrorKind::kConfig,
                   "{}: operator '{}' works on {} columns, but {} is {}", where, op_spec.name,
                   op->kind() == ColumnKind::kDense ? "dense" : "categorical", column,
                   chain.kind == ColumnKind::kDense ? "dense" : "categorical");
        chain.ops.push_back(std::move(op));
      }
      if (chain.kind == ColumnKind::kDense) {
        const bool fills = std::any_of(chain.ops.begin(), chain.ops.end(), [](const auto& op) {
          return std::string(op->name()) == "fill_missing";
        });
        AIOK_CHECK(fills, ErrorKind::kConfig,
                   "{}: a dense column needs fill_missing, or missing values would reach the "
                   "model as NaN",
                   where);
      } else {
        AIOK_CHECK(chain.ops.size() == 1, ErrorKind::kConfig,
                   "{}: a categorical column takes exactly one operator (categorify or "
                   "hash_bucket), got {}",
                   where, chain.ops.size());
      }
    }
  }
  std::vector<std::string> uncovered;
  for (const auto& name : dense) {
    if (!covered_by.count(name))
      uncovered.push_back(name);
  }
  for (const auto& name : categorical) {
    if (!covered_by.count(name))
      uncovered.push_back(name);
  }
  AIOK_CHECK(uncovered.empty(), ErrorKind::kConfig, "{}: no step handles column(s) {}", source,
             fmt::join(uncovered, ", "));
  for (const auto& name : dense)
    dense_.push_back(std::move(chains[name]));
  for (const auto& name : categorical)
    categorical_.push_back(std::move(chains[name]));
}

int Pipeline::FitPhases() const {
  int phases = 0;
  for (const auto& chain : dense_)
    phases = std::max(phases, chain.FitPhases());
  for (const auto& chain : categorical_)
    phases = std::max(phases, chain.FitPhases());
  return phases;
}

void Pipeline::FinishFitFreeOperators() {
  for (auto* group : {&dense_, &categorical_}) {
    for (ColumnChain& chain : *group) {
      for (auto& op : chain.ops) {
        if (!op->needs_fit())
          op->FinishFit();
      }
    }
  }
}

nlohmann::json Pipeline::SaveState() const {
  nlohmann::json columns = nlohmann::json::object();
  for (const auto* group : {&dense_, &categorical_}) {
    for (const ColumnChain& chain : *group) {
      nlohmann::json ops = nlohmann::json::array();
      for (const auto& op : chain.ops) {
        ops.push_back({{"op", op->name()}, {"options", op->Options()}, {"state", op->SaveState()}});
      }
      columns[chain.column] = ops;
    }
  }
  return {{"format_version", kStateFormatVersion}, {"spec", spec_.ToJson()}, {"columns", columns}};
}

Pipeline Pipeline::LoadState(const nlohmann::json& state, const std::vector<std::string>& dense,
                             const std::vector<std::string>& categorical,
                             const std::string& source) {
  AIOK_CHECK(state.value("format_version", 0) == kStateFormatVersion, ErrorKind::kInvalidInput,
             "{}: fitted state format {} is not the supported {}", source,
             state.value("format_version", 0), kStateFormatVersion);
  Pipeline pipeline(PipelineSpec::FromJson(state.at("spec"), source), dense, categorical, source);
  for (auto* group : {&pipeline.dense_, &pipeline.categorical_}) {
    for (ColumnChain& chain : *group) {
      const auto& ops = state.at("columns").at(chain.column);
      AIOK_CHECK(ops.size() == chain.ops.size(), ErrorKind::kInvalidInput,
                 "{}: column {} has {} fitted operators, the spec {}", source, chain.column,
                 ops.size(), chain.ops.size());
      for (size_t i = 0; i < ops.size(); ++i) {
        AIOK_CHECK(ops[i].at("op").get<std::string>() == chain.ops[i]->name(),
                   ErrorKind::kInvalidInput, "{}: column {} operator {} mismatch", source,
                   chain.column, i + 1);
        chain.ops[i]->LoadState(ops[i].at("state"));
      }
    }
  }
  return pipeline;
}

}  // namespace aiok::etl
