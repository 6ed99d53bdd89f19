// What the advisor knows about a trainable program's options: the keys declared once with
// Visit() (core/options.h), collected into plain records. The CLI walks the train, loader,
// optimizer and model options with a DeclarationCollector; the search space (search_space.h)
// takes its types, bounds and choices from these records, so a space cannot leave them.
// Torch-free: the records are plain data.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/options.h"

namespace aiok::tune {

/// One declared option.
struct DeclaredOption {
  enum class Kind { kInt, kReal, kText, kFlag };
  std::string name;   ///< the flag name without dashes ("lr", "emb-dim")
  std::string owner;  ///< who declared it ("optimizer", "dlrm", ...)
  Kind kind = Kind::kInt;
  double min = 0.0;  ///< numeric kinds: declared bounds (may be infinite)
  double max = 0.0;
  std::vector<std::string> choices;  ///< kText: allowed values (empty: free text)
  nlohmann::json default_value;
  std::string help;
};

/// "int", "real", "text", "flag".
const char* KindName(DeclaredOption::Kind kind);

/// Collects every key a Visit() method declares, tagged with `owner`.
class DeclarationCollector final : public OptionVisitor {
 public:
  /// Later Visit() calls are tagged with `owner`.
  void SetOwner(std::string owner) { owner_ = std::move(owner); }
  void Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) override;
  void Real(const char* name, double* value, double min, double max, const char* help) override;
  void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
            const char* help) override;
  void Flag(const char* name, bool* value, const char* help) override;

  const std::vector<DeclaredOption>& options() const { return options_; }

 private:
  std::string owner_;
  std::vector<DeclaredOption> options_;
};

/// The declaration named `name`, or nullptr.
const DeclaredOption* FindDeclared(const std::vector<DeclaredOption>& declared,
                                   const std::string& name);

}  // namespace aiok::tune
