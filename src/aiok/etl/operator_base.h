// Shared plumbing of the built-in operators: options declared once (core/options.h), read
// from the pipeline's JSON and validated by MakeOperator, and written back by Options().
#pragma once

#include <memory>
#include <string>

#include "aiok/core/options.h"
#include "aiok/etl/operator.h"

namespace aiok::etl {

template <typename OptionsT>
class OperatorWithOptions : public Operator {
 public:
  OptionsT& options() { return options_; }
  nlohmann::json Options() override { return OptionsToJson(options_); }
  void VisitOptions(OptionVisitor& visitor) override { options_.Visit(visitor); }
  /// Checks that span several options (min <= max, ...); `where` names the operator.
  virtual void CheckOptions(const std::string& where) const {}

 protected:
  OptionsT options_;
};

/// Builds operator Op from JSON options: unknown keys, wrong types and out-of-range values
/// throw Error(kConfig) naming `where` and the operator.
template <typename Op>
std::unique_ptr<Operator> MakeOperator(const nlohmann::json& options, const std::string& where) {
  auto op = std::make_unique<Op>();
  const std::string owner = where + ": " + op->name();
  OptionsFromJson(op->options(), options.is_null() ? nlohmann::json::object() : options, owner);
  ValidateOptions(op->options(), owner);
  op->CheckOptions(owner);
  return op;
}

/// Registers Op under `name`: built from options (MakeOperator), and its prototype.
template <typename Op>
void RegisterOperator(OperatorRegistry& registry, const std::string& name) {
  registry.Register(name, MakeOperator<Op>, [] { return std::make_unique<Op>(); });
}

}  // namespace aiok::etl
