#include "aiok/etl/operator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aiok/core/error.h"

namespace aiok::etl {

void Operator::FitDense(const double*, size_t) { AIOK_ASSERT(kind() == ColumnKind::kDense); }
void Operator::FitCategorical(const int64_t*, size_t) {
  AIOK_ASSERT(kind() == ColumnKind::kCategorical);
}
void Operator::TransformDense(double*, size_t) const { AIOK_ASSERT(false); }
void Operator::TransformCategorical(const int64_t*, size_t, int64_t*) const { AIOK_ASSERT(false); }
void Operator::TransformDenseToIds(const double*, size_t, int64_t*) const { AIOK_ASSERT(false); }
void Operator::TransformIdsToDense(const int64_t*, size_t, double*) const { AIOK_ASSERT(false); }
void Operator::TransformInputs(const std::vector<const int64_t*>&, size_t, int64_t*) const {
  AIOK_ASSERT(false);
}

void Operator::FitEncode(const int64_t*, size_t, size_t, int32_t*) { AIOK_ASSERT(false); }
void Operator::MapCodes(const int32_t*, size_t, int32_t*) const { AIOK_ASSERT(false); }
void Operator::UncountCodes(const int32_t*, size_t) { AIOK_ASSERT(false); }
const std::vector<int64_t>& Operator::CodeValues() const {
  AIOK_ASSERT(false);
  static const std::vector<int64_t> none;
  return none;
}
void Operator::BeginCodes(std::vector<int64_t>) { AIOK_ASSERT(false); }
void Operator::FitCodes(const int32_t*, const float*, const int32_t*, size_t) {
  AIOK_ASSERT(false);
}
void Operator::TransformCodes(const int32_t*, const int32_t*, size_t, double*) const {
  AIOK_ASSERT(false);
}

void OperatorRegistry::Register(const std::string& name, Factory factory, Prototype prototype) {
  AIOK_ASSERT(factories_.count(name) == 0);
  factories_[name] = std::move(factory);
  prototypes_[name] = std::move(prototype);
}

std::unique_ptr<Operator> OperatorRegistry::CreateDefault(const std::string& name) const {
  return prototypes_.at(name)();
}

std::unique_ptr<Operator> OperatorRegistry::Create(const std::string& name,
                                                   const nlohmann::json& options,
                                                   const std::string& where) const {
  auto it = factories_.find(name);
  AIOK_CHECK(it != factories_.end(), ErrorKind::kConfig, "{}: unknown operator '{}' (valid: {})",
             where, name, fmt::join(Names(), ", "));
  return it->second(options, where);
}

std::vector<std::string> OperatorRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories_)
    names.push_back(name);
  return names;
}

}  // namespace aiok::etl
