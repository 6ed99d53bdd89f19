#include "aiok/data/generator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"

namespace aiok::data {

void GeneratorRegistry::Register(const std::string& name, const std::string& description,
                                 Factory factory) {
  AIOK_ASSERT(entries_.count(name) == 0);
  entries_[name] = Entry{description, std::move(factory)};
}

std::unique_ptr<Generator> GeneratorRegistry::Create(const std::string& name) const {
  auto it = entries_.find(name);
  AIOK_CHECK(it != entries_.end(), ErrorKind::kConfig, "unknown generator '{}' (valid: {})", name,
             fmt::join(Names(), ", "));
  return it->second.factory();
}

std::vector<std::string> GeneratorRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_)
    names.push_back(name);
  return names;
}

const std::string& GeneratorRegistry::Description(const std::string& name) const {
  auto it = entries_.find(name);
  AIOK_ASSERT(it != entries_.end());
  return it->second.description;
}

void RegisterBuiltinGenerators(GeneratorRegistry& registry) {
  registry.Register("criteo",
                    "Criteo Kaggle layout (label, I1..I13, C1..C26) with known click probabilities",
                    [] { return std::make_unique<CriteoGenerator>(); });
}

}  // namespace aiok::data
