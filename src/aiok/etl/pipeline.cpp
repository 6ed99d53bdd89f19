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
  // A range cannot name more columns than a table has: numbers past 9 digits, or a range of
  // more than a million names, are mistakes (and would overflow or never end).
  constexpr int64_t kMaxRange = 1000000;
  const bool short_numbers = match[2].length() <= 9 && match[4].length() <= 9;
  const int64_t first = short_numbers ? std::stoll(match[2]) : 0;
  const int64_t last = short_numbers ? std::stoll(match[4]) : -1;
  AIOK_CHECK(match[1] == match[3] && first <= last && last - first < kMaxRange, ErrorKind::kConfig,
             "{}: bad column range '{}' (expected like C1..C26, at most {} columns)", where, text,
             kMaxRange);
  std::vector<std::string> columns;
  for (int64_t i = first; i <= last; ++i)
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
  CheckKeys(json, {"steps", "prepare"}, source);
  PipelineSpec spec;
  if (json.contains("prepare")) {
    const auto& prepare = json["prepare"];
    AIOK_CHECK(prepare.is_array(), ErrorKind::kConfig,
               "{}: 'prepare' must be a list like [{{filter: {{where: \"price > 0\"}}}}]", source);
    for (size_t i = 0; i < prepare.size(); ++i) {
      const auto& step = prepare[i];
      AIOK_CHECK(step.is_object() && step.size() == 1, ErrorKind::kConfig,
                 "{}: prepare step {}: expected one 'name: {{options}}' entry, got {}", source,
                 i + 1, step.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      const auto& options = step.begin().value();
      spec.prepare.push_back(
          OperatorSpec{step.begin().key(), options.is_null() ? nlohmann::json::object() : options});
    }
  }
  int index = 0;
  for (const auto& step_json : json["steps"]) {
    const std::string where = fmt::format("{}: step {}", source, ++index);
    AIOK_CHECK(step_json.is_object(), ErrorKind::kConfig,
               "{}: expected a map with 'columns' and 'ops' (or 'inputs', 'output' and 'ops')",
               where);
    CheckKeys(step_json, {"columns", "inputs", "output", "ops"}, where);
    PipelineStep step;
    const bool derived = step_json.contains("inputs");
    AIOK_CHECK(derived != step_json.contains("columns"), ErrorKind::kConfig,
               "{}: a step has 'columns' (a chain per column) or 'inputs' (one chain over several "
               "columns, writing the field 'output'), not both",
               where);
    AIOK_CHECK(derived || !step_json.contains("output"), ErrorKind::kConfig,
               "{}: 'output' goes with 'inputs'", where);
    const auto& columns = step_json.value(derived ? "inputs" : "columns", nlohmann::json());
    AIOK_CHECK(columns.is_array() || columns.is_string(), ErrorKind::kConfig,
               "{}: '{}' must be a list of column names", where, derived ? "inputs" : "columns");
    for (const auto& column : columns.is_array() ? columns : nlohmann::json::array({columns})) {
      AIOK_CHECK(column.is_string(), ErrorKind::kConfig, "{}: column names must be strings, got {}",
                 where, column.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      for (auto& name : ExpandColumns(column.get<std::string>(), where)) {
        step.columns.push_back(std::move(name));
      }
    }
    if (derived) {
      step.derived = true;
      const auto& output = step_json.value("output", nlohmann::json());
      AIOK_CHECK(output.is_string() || output.is_null(), ErrorKind::kConfig,
                 "{}: 'output' must be a field name", where);
      step.output = output.is_string() ? output.get<std::string>()
                                       : fmt::format("{}", fmt::join(step.columns, "_x_"));
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
                 "{}: each op is one 'name: {{options}}' entry, got {}", where,
                 op.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
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
    if (step.derived) {
      steps_json.push_back({{"inputs", step.columns}, {"output", step.output}, {"ops", ops}});
    } else {
      steps_json.push_back({{"columns", step.columns}, {"ops", ops}});
    }
  }
  nlohmann::json json = {{"steps", steps_json}};
  if (!prepare.empty()) {  // absent when unused, so pipelines without it read as before
    nlohmann::json prepare_json = nlohmann::json::array();
    for (const auto& step : prepare)
      prepare_json.push_back({{step.name, step.options}});
    json["prepare"] = prepare_json;
  }
  return json;
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
  PipelineSpec spec =
      PipelineSpec::FromJson(ParseConfigText(PresetText(name), "preset " + name), "preset " + name);
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

ChainColumn ColumnChain::Run(std::vector<ChainColumn> inputs, size_t n, size_t end) const {
  AIOK_ASSERT(!inputs.empty() && end <= ops.size());
  ChainColumn current;
  size_t i = 0;
  if (inputs.size() > 1) {
    AIOK_ASSERT(end > 0);
    std::vector<const int64_t*> keys;
    for (const ChainColumn& input : inputs)
      keys.push_back(input.ids.data());
    current.kind = ColumnKind::kCategorical;
    current.ids.resize(n);
    ops[0]->TransformInputs(keys, n, current.ids.data());
    i = 1;
  } else {
    current = std::move(inputs[0]);
  }
  return RunFrom(std::move(current), n, i, end);
}

ChainColumn ColumnChain::RunFrom(ChainColumn current, size_t n, size_t begin, size_t end) const {
  AIOK_ASSERT(begin <= end && end <= ops.size());
  std::vector<int64_t> ids;
  for (size_t i = begin; i < end; ++i) {
    const Operator& op = *ops[i];
    const bool dense_in = op.kind() == ColumnKind::kDense;
    const bool dense_out = op.output_kind() == ColumnKind::kDense;
    if (dense_in && dense_out) {
      op.TransformDense(current.dense.data(), n);
    } else if (!dense_in && !dense_out) {
      ids.resize(n);
      op.TransformCategorical(current.ids.data(), n, ids.data());
      current.ids.swap(ids);
    } else if (dense_in) {
      current.ids.resize(n);
      op.TransformDenseToIds(current.dense.data(), n, current.ids.data());
      current.dense.clear();
    } else {
      current.dense.resize(n);
      op.TransformIdsToDense(current.ids.data(), n, current.dense.data());
      current.ids.clear();
    }
    current.kind = op.output_kind();
  }
  return current;
}

namespace {

const char* KindName(ColumnKind kind) {
  return kind == ColumnKind::kDense ? "dense" : "categorical";
}

// Appends a step's operators to `chain`, each checked to read what the one before writes.
void AddOperators(const PipelineStep& step, const OperatorRegistry& registry,
                  const std::string& where, ColumnChain* chain) {
  ColumnKind current = chain->kind;
  for (size_t i = 0; i < step.ops.size(); ++i) {
    const OperatorSpec& op_spec = step.ops[i];
    auto op = registry.Create(op_spec.name, op_spec.options, where);
    if (i == 0 && chain->inputs.size() > 1) {
      AIOK_CHECK(op->inputs() == Operator::kManyInputs, ErrorKind::kConfig,
                 "{}: a step with several inputs starts with an operator that reads several "
                 "columns (such as hashed_cross); '{}' reads one",
                 where, op_spec.name);
      AIOK_CHECK(!op->needs_fit(), ErrorKind::kConfig,
                 "{}: '{}' over several inputs would need fitting, which is not supported", where,
                 op_spec.name);
    } else {
      AIOK_CHECK(op->inputs() == 1, ErrorKind::kConfig,
                 "{}: '{}' reads several columns: it goes first in a step with 'inputs' and an "
                 "'output'",
                 where, op_spec.name);
    }
    AIOK_CHECK(op->kind() == current, ErrorKind::kConfig,
               "{}: operator '{}' reads {} values, but {} {} values", where, op_spec.name,
               KindName(op->kind()),
               i == 0 ? "the column holds" : "'" + step.ops[i - 1].name + "' writes",
               KindName(current));
    current = op->output_kind();
    chain->ops.push_back(std::move(op));
  }
  if (chain->kind == ColumnKind::kDense && current == ColumnKind::kDense) {
    const bool fills = std::any_of(chain->ops.begin(), chain->ops.end(), [](const auto& op) {
      return std::string(op->name()) == "fill_missing";
    });
    AIOK_CHECK(fills, ErrorKind::kConfig,
               "{}: a dense column needs fill_missing, or missing values would reach the model "
               "as NaN",
               where);
  }
}

}  // namespace

Pipeline::Pipeline(const PipelineSpec& spec, const std::vector<std::string>& dense,
                   const std::vector<std::string>& categorical, const std::string& source)
    : spec_(spec) {
  OperatorRegistry registry;
  RegisterBuiltinOperators(registry);
  std::map<std::string, ColumnChain> chains;
  for (const auto& name : dense)
    chains[name] = ColumnChain{name, {name}, ColumnKind::kDense, {}};
  for (const auto& name : categorical)
    chains[name] = ColumnChain{name, {name}, ColumnKind::kCategorical, {}};
  std::map<std::string, int> covered_by;
  for (size_t s = 0; s < spec.steps.size(); ++s) {
    const PipelineStep& step = spec.steps[s];
    if (step.derived) {
      const std::string where = fmt::format("{}: step {} ({})", source, s + 1, step.output);
      AIOK_CHECK(!step.columns.empty(), ErrorKind::kConfig, "{}: 'inputs' names no column", where);
      for (const std::string& input : step.columns) {
        AIOK_CHECK(chains.count(input) > 0, ErrorKind::kConfig,
                   "{}: unknown input column '{}' (columns: {}, {})", where, input,
                   fmt::join(dense, ", "), fmt::join(categorical, ", "));
      }
      const bool taken = chains.count(step.output) > 0 ||
                         std::any_of(derived_.begin(), derived_.end(),
                                     [&](const ColumnChain& c) { return c.column == step.output; });
      AIOK_CHECK(!taken, ErrorKind::kConfig, "{}: the output name '{}' is already a field", where,
                 step.output);
      // Several inputs are read as categorical keys, whatever their role; one input (a second
      // feature from a field) as its field is read.
      const ColumnKind kind =
          step.columns.size() == 1 ? chains.at(step.columns[0]).kind : ColumnKind::kCategorical;
      ColumnChain chain{step.output, step.columns, kind, {}};
      AddOperators(step, registry, where, &chain);
      derived_.push_back(std::move(chain));
      continue;
    }
    for (const std::string& column : step.columns) {
      const std::string where = fmt::format("{}: step {} ({})", source, s + 1, column);
      auto it = chains.find(column);
      AIOK_CHECK(it != chains.end(), ErrorKind::kConfig, "{}: unknown column (columns: {}, {})",
                 where, fmt::join(dense, ", "), fmt::join(categorical, ", "));
      AIOK_CHECK(covered_by.count(column) == 0, ErrorKind::kConfig,
                 "{}: column already handled by step {}", where, covered_by[column]);
      covered_by[column] = static_cast<int>(s + 1);
      AddOperators(step, registry, where, &it->second);
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

std::vector<ColumnChain*> Pipeline::chains() {
  std::vector<ColumnChain*> all;
  for (auto* group : {&dense_, &categorical_, &derived_}) {
    for (ColumnChain& chain : *group)
      all.push_back(&chain);
  }
  return all;
}

std::vector<const ColumnChain*> Pipeline::chains() const {
  std::vector<const ColumnChain*> all;
  for (const auto* group : {&dense_, &categorical_, &derived_}) {
    for (const ColumnChain& chain : *group)
      all.push_back(&chain);
  }
  return all;
}

int Pipeline::FitPhases() const {
  int phases = 0;
  for (const ColumnChain* chain : chains())
    phases = std::max(phases, chain->FitPhases());
  return phases;
}

void Pipeline::FinishFitFreeOperators() {
  for (ColumnChain* chain : chains()) {
    for (auto& op : chain->ops) {
      if (!op->needs_fit())
        op->FinishFit();
    }
  }
}

nlohmann::json Pipeline::SaveState() const {
  nlohmann::json columns = nlohmann::json::object();
  for (const ColumnChain* chain : chains()) {
    nlohmann::json ops = nlohmann::json::array();
    for (const auto& op : chain->ops)
      ops.push_back({{"op", op->name()}, {"options", op->Options()}, {"state", op->SaveState()}});
    columns[chain->column] = ops;
  }
  return {{"format_version", kStateFormatVersion}, {"spec", spec_.ToJson()}, {"columns", columns}};
}

Pipeline Pipeline::LoadState(const nlohmann::json& state, const std::vector<std::string>& dense,
                             const std::vector<std::string>& categorical,
                             const std::string& source) {
  // A damaged or foreign state file is named with the key that is wrong, never left to a
  // raw JSON exception.
  AIOK_CHECK(state.is_object(), ErrorKind::kInvalidInput,
             "{}: expected a fitted pipeline state (a JSON object)", source);
  const auto version = state.find("format_version");
  AIOK_CHECK(version != state.end() && version->is_number_integer() &&
                 version->get<int64_t>() == kStateFormatVersion,
             ErrorKind::kInvalidInput, "{}: format_version: expected the integer {}, found {}",
             source, kStateFormatVersion,
             version == state.end()
                 ? "nothing"
                 : version->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  AIOK_CHECK(state.contains("spec") && state.contains("columns") && state.at("columns").is_object(),
             ErrorKind::kInvalidInput, "{}: expected the keys 'spec' and 'columns' (an object)",
             source);
  Pipeline pipeline(PipelineSpec::FromJson(state.at("spec"), source + ": spec"), dense, categorical,
                    source);
  for (ColumnChain* chain : pipeline.chains()) {
    const nlohmann::json& columns = state.at("columns");
    AIOK_CHECK(columns.contains(chain->column) && columns.at(chain->column).is_array(),
               ErrorKind::kInvalidInput, "{}: columns: no fitted operators for column {}", source,
               chain->column);
    const auto& ops = columns.at(chain->column);
    AIOK_CHECK(ops.size() == chain->ops.size(), ErrorKind::kInvalidInput,
               "{}: column {} has {} fitted operators, the spec {}", source, chain->column,
               ops.size(), chain->ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      const std::string where =
          fmt::format("{}: columns.{}[{}] ({})", source, chain->column, i, chain->ops[i]->name());
      AIOK_CHECK(ops[i].is_object() && ops[i].contains("op") && ops[i].at("op").is_string() &&
                     ops[i].at("op").get<std::string>() == chain->ops[i]->name() &&
                     ops[i].contains("state"),
                 ErrorKind::kInvalidInput, "{}: expected {{\"op\": \"{}\", \"state\": ...}}", where,
                 chain->ops[i]->name());
      try {
        chain->ops[i]->LoadState(ops[i].at("state"));
      } catch (const nlohmann::json::exception& e) {
        Throw(ErrorKind::kInvalidInput, "{}: state: {}", where, e.what());
      }
    }
  }
  return pipeline;
}

}  // namespace aiok::etl
