#include "aiok/core/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"

namespace aiok {
namespace {

// The value of an unquoted YAML scalar (YAML 1.2 core schema).
nlohmann::json ParsePlainScalar(const std::string& text) {
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)");
  if (text == "true" || text == "True" || text == "TRUE")
    return true;
  if (text == "false" || text == "False" || text == "FALSE")
    return false;
  if (text == "null" || text == "~" || text.empty())
    return nullptr;
  if (std::regex_match(text, kInt)) {
    errno = 0;
    const long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0)
      return static_cast<int64_t>(value);
  }
  if (std::regex_match(text, kFloat)) {
    if (text.find("inf") != std::string::npos || text.find("Inf") != std::string::npos ||
        text.find("INF") != std::string::npos) {
      return text[0] == '-' ? -std::numeric_limits<double>::infinity()
                            : std::numeric_limits<double>::infinity();
    }
    return std::strtod(text.c_str(), nullptr);
  }
  return text;
}

nlohmann::json ScalarToJson(const YAML::Node& node) {
  // A quoted scalar is always a string.
  if (node.Tag() == "!")
    return node.Scalar();
  return ParsePlainScalar(node.Scalar());
}

nlohmann::json NodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node)
        out.push_back(NodeToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node)
        out[item.first.as<std::string>()] = NodeToJson(item.second);
      return out;
    }
  }
  return nullptr;
}

void EmitJson(YAML::Emitter& out, const nlohmann::json& value) {
  if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& item : value.items()) {
      out << YAML::Key << item.key() << YAML::Value;
      EmitJson(out, item.value());
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : value)
      EmitJson(out, item);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    // Quote strings that would read back as something else ("3", "true", "").
    const std::string& text = value.get_ref<const std::string&>();
    if (!ParsePlainScalar(text).is_string())
      out << YAML::DoubleQuoted;
    out << text;
  } else if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    const double v = value.get<double>();
    out << (std::isnan(v) ? ".nan" : (v > 0 ? ".inf" : "-.inf"));
  } else if (value.is_null()) {
    out << YAML::Null;
  } else {
    out << value.dump();  // numbers and booleans in their JSON spelling, which YAML reads back
  }
}

}  // namespace

nlohmann::json ParseConfigText(const std::string& text, const std::string& source) {
  try {
    return NodeToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp marks are 0-based.
    Throw(ErrorKind::kConfig, "{}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
}

nlohmann::json LoadConfigFile(const std::string& path) {
  return ParseConfigText(ReadFile(path), path);
}

std::string ToYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  EmitJson(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace aiok
