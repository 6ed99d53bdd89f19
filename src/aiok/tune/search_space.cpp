#include "aiok/tune/search_space.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/suggest.h"

namespace aiok::tune {
namespace {

const char* TypeName(Param::Type type) {
  switch (type) {
    case Param::Type::kInt:
      return "int";
    case Param::Type::kFloat:
      return "float";
    case Param::Type::kCategorical:
      return "categorical";
  }
  return "?";
}

std::string Limit(double v) {
  return std::isinf(v) ? (v > 0 ? "inf" : "-inf") : fmt::format("{}", v);
}

// Six significant digits: enough for any learning rate, and one spelling per configuration.
double RoundSignificant(double x) {
  if (x == 0.0 || !std::isfinite(x))
    return x;
  return std::stod(fmt::format("{:.6g}", x));
}

// Reads a [low, high] pair of numbers from `entry[field]`.
std::pair<double, double> ReadPair(const nlohmann::json& entry, const char* field,
                                   const std::string& where) {
  const nlohmann::json& v = entry.at(field);
  AIOK_CHECK(v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number(),
             ErrorKind::kConfig, "{}: '{}' must be [low, high], got {}", where, field, v.dump());
  return {v[0].get<double>(), v[1].get<double>()};
}

bool IsWhole(double x) { return std::isfinite(x) && std::floor(x) == x; }

// The fields an entry may have; anything else is a typo that would silently do nothing.
void CheckFields(const nlohmann::json& entry, const std::string& where) {
  static const std::vector<std::string> kFields = {"type", "low",    "high",  "log", "choices",
                                                   "when", "layers", "width", "last"};
  for (const auto& [field, value] : entry.items()) {
    AIOK_CHECK(std::find(kFields.begin(), kFields.end(), field) != kFields.end(),
               ErrorKind::kConfig, "{}: unknown field '{}' (valid: {}){}", where, field,
               fmt::join(kFields, ", "), DidYouMean(field, kFields));
  }
}

// Numeric bounds of an entry, checked against the declared bounds.
void ReadBounds(const nlohmann::json& entry, const DeclaredOption* decl, Param* p,
                const std::string& where) {
  const bool has_low = entry.contains("low"), has_high = entry.contains("high");
  if (decl != nullptr && (!has_low || !has_high)) {
    AIOK_CHECK(std::isfinite(decl->min) && std::isfinite(decl->max), ErrorKind::kConfig,
               "{}: needs low and high (the declared bounds [{}, {}] are open)", where,
               Limit(decl->min), Limit(decl->max));
  }
  AIOK_CHECK(decl != nullptr || (has_low && has_high), ErrorKind::kConfig,
             "{}: a {} parameter needs low and high", where, TypeName(p->type));
  auto number = [&](const char* field, double fallback) {
    if (!entry.contains(field))
      return fallback;
    AIOK_CHECK(entry[field].is_number(), ErrorKind::kConfig, "{}: '{}' must be a number, got {}",
               where, field, entry[field].dump());
    return entry[field].get<double>();
  };
  p->low = number("low", decl ? decl->min : 0.0);
  p->high = number("high", decl ? decl->max : 0.0);
  p->log = entry.value("log", false);
  AIOK_CHECK(p->low <= p->high, ErrorKind::kConfig, "{}: low {} is above high {}", where, p->low,
             p->high);
  if (decl != nullptr) {
    AIOK_CHECK(p->low >= decl->min && p->high <= decl->max, ErrorKind::kConfig,
               "{}: bounds [{}, {}] are outside the declared bounds [{}, {}] of '{}'", where,
               p->low, p->high, Limit(decl->min), Limit(decl->max), decl->name);
  }
  if (p->type == Param::Type::kInt) {
    AIOK_CHECK(IsWhole(p->low) && IsWhole(p->high), ErrorKind::kConfig,
               "{}: an integer parameter needs whole bounds, got [{}, {}]", where, p->low, p->high);
  }
  AIOK_CHECK(!p->log || p->low > 0, ErrorKind::kConfig, "{}: a log scale needs low > 0, got {}",
             where, p->low);
}

// Choices of a categorical entry, checked against the declaration.
void ReadChoices(const nlohmann::json& entry, const DeclaredOption* decl, Param* p,
                 const std::string& where) {
  const nlohmann::json& c = entry.at("choices");
  AIOK_CHECK(c.is_array() && !c.empty(), ErrorKind::kConfig,
             "{}: 'choices' must be a non-empty list, got {}", where, c.dump());
  std::set<std::string> seen;
  for (const nlohmann::json& v : c) {
    AIOK_CHECK(seen.insert(v.dump()).second, ErrorKind::kConfig, "{}: choice {} appears twice",
               where, v.dump());
    if (decl == nullptr) {
      AIOK_CHECK(v.is_primitive() && !v.is_null(), ErrorKind::kConfig,
                 "{}: choices must be numbers, text or booleans, got {}", where, v.dump());
    } else if (decl->kind == DeclaredOption::Kind::kText) {
      AIOK_CHECK(v.is_string(), ErrorKind::kConfig, "{}: choices must be text, got {}", where,
                 v.dump());
      const std::string s = v.get<std::string>();
      AIOK_CHECK(decl->choices.empty() || std::find(decl->choices.begin(), decl->choices.end(),
                                                    s) != decl->choices.end(),
                 ErrorKind::kConfig, "{}: choice '{}' is not one of the declared {}{}", where, s,
                 fmt::join(decl->choices, ", "), DidYouMean(s, decl->choices));
    } else if (decl->kind == DeclaredOption::Kind::kFlag) {
      AIOK_CHECK(v.is_boolean(), ErrorKind::kConfig, "{}: choices must be true/false, got {}",
                 where, v.dump());
    } else {
      AIOK_CHECK(
          v.is_number() && (decl->kind == DeclaredOption::Kind::kReal || IsWhole(v.get<double>())),
          ErrorKind::kConfig, "{}: choice {} is not a {}", where, v.dump(),
          decl->kind == DeclaredOption::Kind::kInt ? "whole number" : "number");
      const double x = v.get<double>();
      AIOK_CHECK(x >= decl->min && x <= decl->max, ErrorKind::kConfig,
                 "{}: choice {} is outside the declared bounds [{}, {}] of '{}'", where, x,
                 Limit(decl->min), Limit(decl->max), decl->name);
    }
    p->choices.push_back(v);
  }
}

// Parameters ordered so that every parent comes before the parameters it switches.
std::vector<Param> ParentsFirst(std::vector<Param> params, const std::string& source) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < params.size(); ++i)
    index[params[i].name] = i;
  std::vector<int> state(params.size(), 0);  // 0 new, 1 visiting, 2 done
  std::vector<Param> out;
  std::function<void(size_t)> visit = [&](size_t i) {
    if (state[i] == 2)
      return;
    AIOK_CHECK(state[i] != 1, ErrorKind::kConfig, "{}: '{}' takes part in a cycle of 'when's",
               source, params[i].name);
    state[i] = 1;
    for (const Condition& c : params[i].conditions)
      visit(index.at(c.parent));
    state[i] = 2;
    out.push_back(params[i]);
  };
  for (size_t i = 0; i < params.size(); ++i)
    visit(i);
  return out;
}

}  // namespace

nlohmann::json SearchSpace::MergeSpecs(const nlohmann::json& base,
                                       const nlohmann::json& overrides) {
  if (overrides.is_null())
    return base;
  AIOK_CHECK(overrides.is_object(), ErrorKind::kConfig,
             "search space: expected a map of parameter names, got {}", overrides.type_name());
  nlohmann::json out = overrides.value("replace", false) ? nlohmann::json::object() : base;
  for (const auto& [key, value] : overrides.items()) {
    if (key == "replace")
      continue;
    if (value.is_null()) {
      out.erase(key);
    } else if (out.contains(key) && value.is_object()) {
      // A new range or choice list replaces the old one; "when" and "log" stay unless given.
      nlohmann::json merged = out[key];
      if (value.contains("choices") || value.contains("low") || value.contains("high"))
        for (const char* f : {"choices", "low", "high", "layers", "width"})
          if (!value.contains(f))
            merged.erase(f);
      merged.update(value);
      out[key] = merged;
    } else {
      out[key] = value;
    }
  }
  return out;
}

SearchSpace SearchSpace::FromSpec(const nlohmann::json& spec,
                                  const std::vector<DeclaredOption>& declared,
                                  const std::string& source) {
  AIOK_CHECK(spec.is_object() && !spec.empty(), ErrorKind::kConfig,
             "{}: a search space is a non-empty map of parameter names", source);
  SearchSpace space;
  space.spec_ = spec;
  std::vector<std::string> declared_names;
  for (const DeclaredOption& d : declared)
    declared_names.push_back(d.name);
  std::vector<Param> params;
  std::vector<std::pair<std::string, nlohmann::json>> conditions;  // param name -> when

  for (const auto& [name, entry] : spec.items()) {
    const std::string where = fmt::format("{}: parameter '{}'", source, name);
    AIOK_CHECK(entry.is_object(), ErrorKind::kConfig, "{}: expected a map, got {}", where,
               entry.dump());
    CheckFields(entry, where);
    const DeclaredOption* decl = nullptr;
    if (!declared.empty()) {
      decl = FindDeclared(declared, name);
      AIOK_CHECK(decl != nullptr, ErrorKind::kConfig,
                 "{}: not a declared option of the trial (aiok train --list-models and "
                 "aiok train --help list them){}",
                 where, DidYouMean(name, declared_names));
    }
    if (entry.contains("layers")) {
      AIOK_CHECK(
          decl == nullptr || (decl->kind == DeclaredOption::Kind::kText && decl->choices.empty()),
          ErrorKind::kConfig, "{}: a layer list needs a free text option, '{}' is {}", where, name,
          decl ? KindName(decl->kind) : "");
      AIOK_CHECK(entry.contains("width"), ErrorKind::kConfig,
                 "{}: a layer list needs 'width: [low, high]'", where);
      const auto [min_layers, max_layers] = ReadPair(entry, "layers", where);
      const auto [min_width, max_width] = ReadPair(entry, "width", where);
      AIOK_CHECK(IsWhole(min_layers) && min_layers >= 1 && max_layers >= min_layers &&
                     IsWhole(max_layers) && max_layers <= 16,
                 ErrorKind::kConfig, "{}: layers must be whole numbers with 1 <= low <= high <= 16",
                 where);
      AIOK_CHECK(
          IsWhole(min_width) && min_width >= 1 && max_width >= min_width && IsWhole(max_width),
          ErrorKind::kConfig, "{}: width must be whole numbers with 1 <= low <= high", where);
      LayerList list;
      list.option = name;
      list.count_param = name + ".layers";
      list.last = entry.value("last", nlohmann::json());
      Param count;
      count.name = list.count_param;
      count.type = Param::Type::kInt;
      count.low = min_layers;
      count.high = max_layers;
      params.push_back(count);
      if (entry.contains("when"))
        conditions.emplace_back(count.name, entry["when"]);
      for (int i = 0; i < static_cast<int>(max_layers); ++i) {
        Param width;
        width.name = fmt::format("{}.width{}", name, i + 1);
        width.type = Param::Type::kInt;
        width.low = min_width;
        width.high = max_width;
        width.log = entry.value("log", true);
        if (i >= static_cast<int>(min_layers))
          width.conditions.push_back({count.name, {}, static_cast<double>(i + 1)});
        else
          width.conditions.push_back({count.name, {}, 0.0});  // active with the list
        list.width_params.push_back(width.name);
        params.push_back(width);
      }
      space.layer_lists_.push_back(list);
      continue;
    }
    Param p;
    p.name = name;
    std::string type = entry.value("type", "");
    if (decl != nullptr) {
      AIOK_CHECK(type.empty(), ErrorKind::kConfig,
                 "{}: 'type' comes from the declared option ({}); leave it out", where,
                 KindName(decl->kind));
      if (decl->kind == DeclaredOption::Kind::kText || decl->kind == DeclaredOption::Kind::kFlag ||
          entry.contains("choices"))
        type = "categorical";
      else
        type = decl->kind == DeclaredOption::Kind::kInt ? "int" : "float";
      if (decl->kind == DeclaredOption::Kind::kText && !entry.contains("choices")) {
        AIOK_CHECK(!decl->choices.empty(), ErrorKind::kConfig,
                   "{}: '{}' is free text; give 'choices' (or 'layers' and 'width' for a "
                   "layer list)",
                   where, name);
        p.type = Param::Type::kCategorical;
        for (const std::string& c : decl->choices)
          p.choices.emplace_back(c);
      }
      if (decl->kind == DeclaredOption::Kind::kFlag && !entry.contains("choices"))
        p.choices = {false, true};
    } else if (type.empty()) {
      // A --command study: the spec is all there is. Whole bounds without a log scale mean int.
      if (entry.contains("choices"))
        type = "categorical";
      else if (entry.contains("low") && entry.contains("high") &&
               entry["low"].is_number_integer() && entry["high"].is_number_integer())
        type = "int";
      else
        type = "float";
    }
    if (type == "categorical") {
      p.type = Param::Type::kCategorical;
      if (entry.contains("choices"))
        ReadChoices(entry, decl, &p, where);
      AIOK_CHECK(!p.choices.empty(), ErrorKind::kConfig,
                 "{}: a categorical parameter needs "
                 "'choices'",
                 where);
    } else if (type == "int" || type == "float") {
      p.type = type == "int" ? Param::Type::kInt : Param::Type::kFloat;
      ReadBounds(entry, decl, &p, where);
    } else {
      Throw(ErrorKind::kConfig, "{}: type '{}' is not one of int, float, categorical", where, type);
    }
    if (entry.contains("when"))
      conditions.emplace_back(name, entry["when"]);
    params.push_back(p);
  }

  // Conditions, now that every parameter is known.
  std::set<std::string> unreachable;  // parameters whose parent choices were narrowed away
  auto find = [&](const std::string& name) -> Param* {
    for (Param& p : params)
      if (p.name == name)
        return &p;
    return nullptr;
  };
  for (const auto& [name, when] : conditions) {
    const std::string where = fmt::format("{}: parameter '{}'", source, name);
    AIOK_CHECK(when.is_object(), ErrorKind::kConfig,
               "{}: 'when' must map a parameter to its values, got {}", where, when.dump());
    Param* child = find(name);
    for (const auto& [parent_name, values] : when.items()) {
      const Param* parent = find(parent_name);
      AIOK_CHECK(parent != nullptr, ErrorKind::kConfig,
                 "{}: 'when' names '{}', which is not a parameter of the space", where,
                 parent_name);
      AIOK_CHECK(parent->type == Param::Type::kCategorical, ErrorKind::kConfig,
                 "{}: 'when' needs a categorical parent, '{}' is {}", where, parent_name,
                 TypeName(parent->type));
      Condition c;
      c.parent = parent_name;
      const nlohmann::json list = values.is_array() ? values : nlohmann::json::array({values});
      const DeclaredOption* parent_decl = FindDeclared(declared, parent_name);
      for (const nlohmann::json& v : list) {
        if (std::find(parent->choices.begin(), parent->choices.end(), v) != parent->choices.end()) {
          c.values.push_back(v);
          continue;
        }
        // A declared choice the space narrowed away only makes the parameter rarer; anything
        // else is a typo.
        const bool declared_choice =
            parent_decl != nullptr && v.is_string() &&
            std::find(parent_decl->choices.begin(), parent_decl->choices.end(),
                      v.get<std::string>()) != parent_decl->choices.end();
        AIOK_CHECK(declared_choice, ErrorKind::kConfig,
                   "{}: 'when' value {} is not a choice of '{}'", where, v.dump(), parent_name);
      }
      if (c.values.empty())
        unreachable.insert(name);
      child->conditions.push_back(c);
    }
  }
  // A layer list's widths follow their count; a condition on the list is its count's.
  for (const LayerList& list : space.layer_lists_) {
    if (list.last.is_string()) {
      const Param* last = find(list.last.get<std::string>());
      AIOK_CHECK(last != nullptr, ErrorKind::kConfig,
                 "{}: layer list '{}' ends at '{}', which is not a parameter of the space", source,
                 list.option, list.last.get<std::string>());
      AIOK_CHECK(last->conditions.empty(), ErrorKind::kConfig,
                 "{}: layer list '{}' ends at '{}', which must always be active", source,
                 list.option, last->name);
    } else {
      AIOK_CHECK(list.last.is_null() || (list.last.is_number() && list.last.get<double>() >= 1),
                 ErrorKind::kConfig,
                 "{}: layer list '{}': 'last' must be a width or a parameter "
                 "name, got {}",
                 source, list.option, list.last.dump());
    }
  }
  // Parameters that can never be active, and those below them, leave the space.
  for (bool changed = true; changed;) {
    changed = false;
    for (const Param& p : params)
      for (const Condition& c : p.conditions)
        if (unreachable.count(c.parent) && unreachable.insert(p.name).second)
          changed = true;
  }
  params.erase(std::remove_if(params.begin(), params.end(),
                              [&](const Param& p) { return unreachable.count(p.name) > 0; }),
               params.end());
  space.params_ = ParentsFirst(std::move(params), source);
  return space;
}

bool SearchSpace::IsActive(size_t i, const nlohmann::json& assignment) const {
  for (const Condition& c : params_[i].conditions) {
    if (!assignment.contains(c.parent))
      return false;
    const nlohmann::json& v = assignment[c.parent];
    if (c.values.empty()) {
      if (v.get<double>() < c.min)
        return false;
    } else if (std::find(c.values.begin(), c.values.end(), v) == c.values.end()) {
      return false;
    }
  }
  return true;
}

size_t SearchSpace::Cardinality(size_t i) const {
  return params_[i].type == Param::Type::kCategorical ? params_[i].choices.size() : 0;
}

nlohmann::json SearchSpace::Decode(const std::vector<double>& point) const {
  AIOK_ASSERT(point.size() == params_.size());
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!IsActive(i, out))
      continue;
    const Param& p = params_[i];
    const double u = std::isnan(point[i]) ? 0.5 : point[i];
    switch (p.type) {
      case Param::Type::kCategorical: {
        const double k = std::isnan(point[i]) ? 0.0 : point[i];
        const size_t index =
            std::min(p.choices.size() - 1, static_cast<size_t>(std::max(0.0, std::floor(k))));
        out[p.name] = p.choices[index];
        break;
      }
      case Param::Type::kFloat: {
        const double c = std::clamp(u, 0.0, 1.0);
        double x = p.log ? std::exp(std::log(p.low) + c * (std::log(p.high) - std::log(p.low)))
                         : p.low + c * (p.high - p.low);
        out[p.name] = std::clamp(RoundSignificant(x), p.low, p.high);
        break;
      }
      case Param::Type::kInt: {
        // Each integer owns an equal slice of [0, 1] (on the log scale, of the log range).
        const double c = std::clamp(u, 0.0, 1.0);
        const double lo = p.low - 0.5, hi = p.high + 0.5;
        const double x =
            p.log ? std::exp(std::log(lo) + c * (std::log(hi) - std::log(lo))) : lo + c * (hi - lo);
        out[p.name] = static_cast<int64_t>(std::clamp(std::round(x), p.low, p.high));
        break;
      }
    }
  }
  return out;
}

std::vector<double> SearchSpace::Encode(const nlohmann::json& assignment) const {
  std::vector<double> point(params_.size(), NAN);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Param& p = params_[i];
    if (!assignment.contains(p.name))
      continue;
    const nlohmann::json& v = assignment[p.name];
    switch (p.type) {
      case Param::Type::kCategorical: {
        auto it = std::find(p.choices.begin(), p.choices.end(), v);
        if (it != p.choices.end())
          point[i] = static_cast<double>(it - p.choices.begin());
        break;
      }
      case Param::Type::kFloat: {
        const double x = v.get<double>();
        point[i] = p.high == p.low ? 0.5
                   : p.log ? (std::log(x) - std::log(p.low)) / (std::log(p.high) - std::log(p.low))
                           : (x - p.low) / (p.high - p.low);
        break;
      }
      case Param::Type::kInt: {
        const double x = v.get<double>();
        const double lo = p.low - 0.5, hi = p.high + 0.5;
        point[i] = p.log ? (std::log(x) - std::log(lo)) / (std::log(hi) - std::log(lo))
                         : (x - lo) / (hi - lo);
        break;
      }
    }
    if (p.type != Param::Type::kCategorical && !std::isnan(point[i]))
      point[i] = std::clamp(point[i], 0.0, 1.0);
  }
  return point;
}

std::string SearchSpace::Key(const nlohmann::json& assignment) { return assignment.dump(); }

nlohmann::json SearchSpace::ToOptions(const nlohmann::json& assignment) const {
  nlohmann::json out = nlohmann::json::object();
  std::set<std::string> list_params;
  for (const LayerList& list : layer_lists_) {
    list_params.insert(list.count_param);
    list_params.insert(list.width_params.begin(), list.width_params.end());
    if (!assignment.contains(list.count_param))
      continue;
    std::vector<std::string> parts;
    for (const std::string& w : list.width_params)
      if (assignment.contains(w))
        parts.push_back(std::to_string(assignment[w].get<int64_t>()));
    if (list.last.is_string())
      parts.push_back(assignment.at(list.last.get<std::string>()).dump());
    else if (list.last.is_number())
      parts.push_back(std::to_string(list.last.get<int64_t>()));
    out[list.option] = fmt::format("{}", fmt::join(parts, "-"));
  }
  for (const auto& [name, value] : assignment.items())
    if (!list_params.count(name))
      out[name] = value;
  return out;
}

nlohmann::json BuiltinSpaceSpec(const std::string& model,
                                const std::vector<DeclaredOption>& declared) {
  // Ranges a person would start from; each is checked against the declared bounds when the
  // space is built, so a change of a declaration that leaves them out fails loudly.
  static const char* kShared = R"(
optimizer: {choices: [adagrad, adam, lamb, sgd]}
lr: {low: 0.001, high: 0.3, log: true}
weight-decay: {low: 1.0e-6, high: 0.01, log: true, when: {optimizer: [lamb]}}
beta1: {low: 0.8, high: 0.95, when: {optimizer: [adam, lamb]}}
beta2: {low: 0.99, high: 0.9999, when: {optimizer: [adam, lamb]}}
momentum: {low: 0.0, high: 0.95, when: {optimizer: [sgd]}}
embedding-update: {choices: [rowwise-adagrad, adagrad, sgd]}
embedding-lr: {low: 0.005, high: 0.5, log: true}
batch-size: {choices: [256, 512, 1024, 2048, 4096]}
warmup-steps: {low: 0, high: 500}
decay: {choices: [none, linear, cosine]}
)";
  // Architecture spaces per model family. Widths are drawn on a log scale (layer lists'
  // default) and no layer is wider than the widest of the family's published preset.
  static const std::map<std::string, const char*> kModels = {
      {"dlrm", R"(
emb-dim: {choices: [4, 8, 16, 32]}
mlp-bot: {layers: [1, 3], width: [16, 512], last: emb-dim}
mlp-top: {layers: [1, 3], width: [16, 1024], last: 1}
interaction: {choices: [dot, cat]}
)"},
      // Wide&Deep: the deep part's width and depth (the paper's 1024-512-256 at most), and the
      // wide part's own optimizer — FTRL's L1/L2 only mean something under FTRL.
      {"wnd", R"(
emb-dim: {choices: [8, 16, 32, 64]}
mlp: {layers: [1, 3], width: [32, 1024]}
pooling: {choices: [sum, mean]}
wide-update: {choices: [ftrl, adagrad]}
wide-lr: {low: 0.005, high: 0.5, log: true}
wide-l1: {low: 1.0e-4, high: 1.0, log: true, when: {wide-update: [ftrl]}}
wide-l2: {low: 1.0e-4, high: 1.0, log: true, when: {wide-update: [ftrl]}}
)"},
      // DIEN: embedding and GRU widths, the attention and final MLPs (the reference code's
      // 80-40 and 200-80 at most), how much history it reads, and the auxiliary loss: its
      // weight as a few levels (0 switches it off, and with it the auxiliary MLP's shape).
      {"dien", R"(
emb-dim: {choices: [8, 12, 18, 24]}
hidden: {low: 16, high: 128, log: true}
attention-mlp: {layers: [1, 2], width: [16, 80]}
mlp: {layers: [1, 3], width: [32, 256]}
activation: {choices: [dice, prelu]}
max-history: {choices: [10, 20, 50, 100]}
aux-weight: {choices: [0.0, 0.25, 0.5, 1.0, 2.0]}
aux-mlp: {layers: [1, 2], width: [16, 100], when: {aux-weight: [0.25, 0.5, 1.0, 2.0]}}
)"},
  };
  nlohmann::json spec = ParseConfigText(kShared, "built-in space");
  // Keep only what the trial declares, so the shared part fits any trainer.
  for (auto it = spec.begin(); it != spec.end();)
    it = FindDeclared(declared, it.key()) ? std::next(it) : spec.erase(it);
  const auto found = kModels.find(model);
  if (found != kModels.end()) {
    spec.update(ParseConfigText(found->second, "built-in space of " + model));
  } else {
    for (const DeclaredOption& d : declared)
      if (d.owner == model && d.kind == DeclaredOption::Kind::kText && d.choices.size() > 1)
        spec[d.name] = nlohmann::json::object();
  }
  return spec;
}

}  // namespace aiok::tune
