#include "aiok/etl/prepare_serving.h"

#include <fmt/format.h>

#include <algorithm>

#include "aiok/core/error.h"
#include "aiok/etl/prepare_table_loader.h"

namespace aiok::etl {

PrepareServingSteps::PrepareServingSteps(const std::vector<OperatorSpec>& steps,
                                         const std::string& lookup_dir,
                                         const data::TableSchema& schema, const std::string& source)
    : schema_(schema) {
  if (!lookup_dir.empty()) {
    lookups_ = std::make_unique<PrepareLookups>(lookup_dir, schema, 1);
    for (const PrepareLookup& lookup : lookups_->lookups())
      order_.push_back(lookup.step);
    fields_ = lookups_->fields();
  }
  // Each expression binds over the schema's fields, as they are when serving reads them.
  std::vector<PrepareColumn> columns;
  for (const data::Field& field : schema.fields)
    columns.push_back(PrepareColumn{field.name, DuckTypeOf(field.type)});
  PrepareRegistry registry;
  RegisterPrepareSteps(registry);
  for (size_t s = 0; s < steps.size(); ++s) {
    const std::string where = fmt::format("{}: prepare step {} ({})", source, s + 1, steps[s].name);
    const std::unique_ptr<PrepareStep> step =
        registry.Create(steps[s].name, steps[s].options, where);
    if (step->serving() != PrepareServing::kComputed)
      continue;
    const nlohmann::json options = step->Options();
    Computed computed;
    computed.step = static_cast<int>(s) + 1;
    computed.field = schema.Find(options.at("output").get<std::string>());
    if (computed.field < 0)
      continue;  // a field the model does not read (the schema left it out)
    computed.expression =
        std::make_unique<SqlExpression>(options.at("expr").get<std::string>(), columns, where);
    for (const std::string& input : computed.expression->inputs()) {
      const data::FieldRole role = schema.fields[static_cast<size_t>(schema.Find(input))].role;
      AIOK_CHECK(role != data::FieldRole::kLabel && role != data::FieldRole::kWeight,
                 ErrorKind::kInvalidInput,
                 "{}: the expression \"{}\" reads '{}', the label or weight, which requests do "
                 "not carry",
                 where, computed.expression->expression(), input);
    }
    order_.push_back(computed.step);
    fields_.insert(schema.fields[static_cast<size_t>(computed.field)].name);
    computed_.push_back(std::move(computed));
  }
  std::sort(order_.begin(), order_.end());
  order_.erase(std::unique(order_.begin(), order_.end()), order_.end());
}

PrepareServingSteps::~PrepareServingSteps() = default;

void PrepareServingSteps::Apply(data::TableBatch* batch) const {
  for (int step : order_) {
    if (lookups_)
      lookups_->ApplyStep(step, batch);
    for (const Computed& computed : computed_) {
      if (computed.step != step)
        continue;
      const auto field = static_cast<size_t>(computed.field);
      batch->columns[field] =
          computed.expression->Compute(*batch, schema_, schema_.fields[field].type);
    }
  }
}

nlohmann::json PrepareServingSteps::Describe() const {
  nlohmann::json description = nlohmann::json::object();
  if (lookups_) {
    nlohmann::json looked_up = nlohmann::json::array();
    for (const PrepareLookup& lookup : lookups_->lookups()) {
      looked_up.push_back({{"step", lookup.step},
                           {"op", lookup.op},
                           {"keys", lookup.keys},
                           {"fields", lookup.values}});
    }
    description["looked_up"] = looked_up;
  }
  if (!computed_.empty()) {
    nlohmann::json computed = nlohmann::json::array();
    for (const Computed& c : computed_) {
      computed.push_back({{"step", c.step},
                          {"op", "sql"},
                          {"expr", c.expression->expression()},
                          {"reads", c.expression->inputs()},
                          {"field", schema_.fields[static_cast<size_t>(c.field)].name}});
    }
    description["computed"] = computed;
  }
  return description;
}

}  // namespace aiok::etl
