#include "aiok/tune/declared_options.h"

#include <algorithm>

namespace aiok::tune {

const char* KindName(DeclaredOption::Kind kind) {
  switch (kind) {
    case DeclaredOption::Kind::kInt:
      return "int";
    case DeclaredOption::Kind::kReal:
      return "real";
    case DeclaredOption::Kind::kText:
      return "text";
    case DeclaredOption::Kind::kFlag:
      return "flag";
  }
  return "?";
}

void DeclarationCollector::Int(const char* name, int64_t* value, int64_t min, int64_t max,
                               const char* help) {
  DeclaredOption o;
  o.name = name;
  o.owner = owner_;
  o.kind = DeclaredOption::Kind::kInt;
  o.min = static_cast<double>(min);
  // kNoIntLimit means "no upper bound": keep that visible as infinity.
  o.max = max == kNoIntLimit ? kNoRealLimit : static_cast<double>(max);
  o.default_value = *value;
  o.help = help;
  options_.push_back(std::move(o));
}

void DeclarationCollector::Real(const char* name, double* value, double min, double max,
                                const char* help) {
  DeclaredOption o;
  o.name = name;
  o.owner = owner_;
  o.kind = DeclaredOption::Kind::kReal;
  o.min = min;
  o.max = max;
  o.default_value = *value;
  o.help = help;
  options_.push_back(std::move(o));
}

void DeclarationCollector::Text(const char* name, std::string* value,
                                const std::vector<std::string>& choices, const char* help) {
  DeclaredOption o;
  o.name = name;
  o.owner = owner_;
  o.kind = DeclaredOption::Kind::kText;
  o.choices = choices;
  o.default_value = *value;
  o.help = help;
  options_.push_back(std::move(o));
}

void DeclarationCollector::Flag(const char* name, bool* value, const char* help) {
  DeclaredOption o;
  o.name = name;
  o.owner = owner_;
  o.kind = DeclaredOption::Kind::kFlag;
  o.default_value = *value;
  o.help = help;
  options_.push_back(std::move(o));
}

const DeclaredOption* FindDeclared(const std::vector<DeclaredOption>& declared,
                                   const std::string& name) {
  auto it = std::find_if(declared.begin(), declared.end(),
                         [&](const DeclaredOption& o) { return o.name == name; });
  return it == declared.end() ? nullptr : &*it;
}

}  // namespace aiok::tune
