// The search space of a study: parameters (int, float on a linear or log scale, categorical),
// conditions that switch parameters on and off (LAMB's betas only when the optimizer is
// lamb), and layer lists (an MLP's widths, drawn as a layer count plus one width per layer
// and joined into the option's "512-256-1" text).
//
// A space is built from a spec (JSON, usually read from YAML) checked against the declared
// options (declared_options.h): every key must be declared, numeric bounds must lie inside
// the declared ones, choices inside the declared choices. Types come from the declaration, so
// the spec only narrows. With no declarations (a --command study) the spec gives the types.
//
// Samplers see points in the unit cube: one coordinate per parameter, in [0, 1] for numeric
// parameters (after the log transform) and the choice index for categorical ones. Decode()
// turns a point into an assignment holding only the active parameters.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/tune/declared_options.h"

namespace aiok::tune {

/// A parameter is active only when every condition holds: `parent` is active and its value is
/// one of `values` (categorical parents) or at least `min` (integer parents, for layer lists).
struct Condition {
  std::string parent;
  std::vector<nlohmann::json> values;  ///< empty: use min
  double min = 0.0;
};

struct Param {
  enum class Type { kInt, kFloat, kCategorical };
  std::string name;  ///< option name, or "<list>.layers" / "<list>.width<i>" for layer lists
  Type type = Type::kFloat;
  double low = 0.0;  ///< numeric: inclusive bounds
  double high = 1.0;
  bool log = false;
  std::vector<nlohmann::json> choices;  ///< categorical
  std::vector<Condition> conditions;    ///< all must hold
};

/// An option whose text value is a list of layer widths ("512-256-64"), drawn as a layer count
/// parameter and one width parameter per layer, and joined with a last element (a fixed
/// number, or the value of another parameter, e.g. DLRM's bottom MLP ends at emb-dim).
struct LayerList {
  std::string option;
  std::string count_param;
  std::vector<std::string> width_params;  ///< width_params[i] is active when count > i
  nlohmann::json last;                    ///< null, a number, or a parameter name
};

class SearchSpace {
 public:
  /// Builds the space from `spec` (see docs: `aiok tune --help`, and search_space.cpp),
  /// checked against `declared` (empty: a --command study; the spec gives the types).
  /// Errors are kConfig and name the key, the bounds and the value. `source` names the spec.
  static SearchSpace FromSpec(const nlohmann::json& spec,
                              const std::vector<DeclaredOption>& declared,
                              const std::string& source);

  /// `base` with `overrides` merged in: a key's fields replace the base's, a null removes the
  /// key; `replace: true` at the top starts from nothing instead.
  static nlohmann::json MergeSpecs(const nlohmann::json& base, const nlohmann::json& overrides);

  const std::vector<Param>& params() const { return params_; }
  const std::vector<LayerList>& layer_lists() const { return layer_lists_; }
  size_t dims() const { return params_.size(); }
  /// The spec the space was built from (stored with the study).
  const nlohmann::json& spec() const { return spec_; }

  /// True when parameter `i` is active in the partial assignment (its parents decided).
  bool IsActive(size_t i, const nlohmann::json& assignment) const;
  /// The assignment of a unit-cube point: active parameters only, floats rounded to 6
  /// significant digits so that a configuration has one spelling.
  nlohmann::json Decode(const std::vector<double>& point) const;
  /// The point of an assignment; inactive coordinates are NaN.
  std::vector<double> Encode(const nlohmann::json& assignment) const;
  /// One text per configuration, for "never the same configuration twice".
  static std::string Key(const nlohmann::json& assignment);
  /// The option values an assignment gives (layer lists joined into text), by option name.
  nlohmann::json ToOptions(const nlohmann::json& assignment) const;
  /// Number of choices (categorical) or 0 (numeric) of parameter i.
  size_t Cardinality(size_t i) const;

 private:
  std::vector<Param> params_;
  std::vector<LayerList> layer_lists_;
  nlohmann::json spec_;
};

/// The built-in search space spec of a model family (names the advisor knows good ranges for:
/// "dlrm"), and the ranges of the optimizer and loader options every model shares. For a
/// model without one: every declared choice of the model, plus the shared ones.
nlohmann::json BuiltinSpaceSpec(const std::string& model,
                                const std::vector<DeclaredOption>& declared);

}  // namespace aiok::tune
