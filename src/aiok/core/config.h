// Config files: YAML or JSON, read into one JSON value so that every consumer (pipelines,
// run configs, search spaces) handles one representation. YAML errors name file, line and
// column.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace aiok {

/// Parses YAML (a superset of JSON) text. `source` names it in errors. Scalars become numbers
/// or booleans when they read as such in YAML 1.2 core schema, strings otherwise.
nlohmann::json ParseConfigText(const std::string& text, const std::string& source);

/// Reads and parses a YAML or JSON file. Throws Error(kIo) if it cannot be read and
/// Error(kConfig) with file:line:column if it does not parse.
nlohmann::json LoadConfigFile(const std::string& path);

/// Writes `value` as YAML.
std::string ToYaml(const nlohmann::json& value);

}  // namespace aiok
