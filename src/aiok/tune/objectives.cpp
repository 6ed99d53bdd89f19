#include "aiok/tune/objectives.h"

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "aiok/core/error.h"

namespace aiok::tune {
namespace {

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ','))
    if (!part.empty())
      parts.push_back(part);
  return parts;
}

}  // namespace

std::string Objective::ToString() const { return metric + (maximize ? ":max" : ":min"); }

std::string Threshold::ToString() const {
  return fmt::format("{}{}{}", metric, at_least ? ">=" : "<=", value);
}

std::vector<Objective> ParseObjectives(const std::string& text) {
  std::vector<Objective> out;
  for (const std::string& part : SplitComma(text)) {
    const size_t colon = part.rfind(':');
    AIOK_CHECK(colon != std::string::npos && colon > 0, ErrorKind::kUsage,
               "--objectives: '{}' needs a direction, like auc:max or train_seconds:min", part);
    const std::string direction = part.substr(colon + 1);
    AIOK_CHECK(direction == "max" || direction == "min", ErrorKind::kUsage,
               "--objectives: '{}': the direction must be max or min, got '{}'", part, direction);
    Objective o{part.substr(0, colon), direction == "max"};
    for (const Objective& seen : out)
      AIOK_CHECK(seen.metric != o.metric, ErrorKind::kUsage,
                 "--objectives: '{}' appears twice", o.metric);
    out.push_back(o);
  }
  AIOK_CHECK(!out.empty(), ErrorKind::kUsage, "--objectives: give at least one, like auc:max");
  return out;
}

std::vector<Threshold> ParseThresholds(const std::string& text) {
  std::vector<Threshold> out;
  for (const std::string& part : SplitComma(text)) {
    size_t at = part.find(">=");
    bool at_least = true;
    if (at == std::string::npos) {
      at = part.find("<=");
      at_least = false;
    }
    AIOK_CHECK(at != std::string::npos && at > 0, ErrorKind::kUsage,
               "--threshold: '{}' must look like auc>=0.78 or train_seconds<=60", part);
    const std::string number = part.substr(at + 2);
    char* end = nullptr;
    const double value = std::strtod(number.c_str(), &end);
    AIOK_CHECK(!number.empty() && end && *end == '\0' && std::isfinite(value), ErrorKind::kUsage,
               "--threshold: '{}': '{}' is not a number", part, number);
    out.push_back({part.substr(0, at), at_least, value});
  }
  return out;
}

std::optional<std::vector<double>> ObjectiveValues(const std::vector<Objective>& objectives,
                                                   const nlohmann::json& metrics,
                                                   std::string* missing) {
  std::vector<double> values;
  for (const Objective& o : objectives) {
    if (!metrics.is_object() || !metrics.contains(o.metric) || !metrics[o.metric].is_number()) {
      if (missing != nullptr)
        *missing = o.metric;
      return std::nullopt;
    }
    values.push_back(metrics[o.metric].get<double>());
  }
  return values;
}

double Violation(const std::vector<Threshold>& thresholds, const nlohmann::json& metrics) {
  double total = 0.0;
  for (const Threshold& t : thresholds) {
    if (!metrics.is_object() || !metrics.contains(t.metric) || !metrics[t.metric].is_number()) {
      total += 1.0;
      continue;
    }
    const double v = metrics[t.metric].get<double>();
    const double shortfall = t.at_least ? t.value - v : v - t.value;
    if (shortfall > 0)
      total += shortfall / std::max(std::fabs(t.value), 1e-12);
  }
  return total;
}

std::vector<double> Minimized(const std::vector<Objective>& objectives,
                              const std::vector<double>& values) {
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = objectives[i].maximize ? -values[i] : values[i];
  return out;
}

nlohmann::json TrainMetrics(const nlohmann::json& m) {
  nlohmann::json out = nlohmann::json::object();
  auto copy_split = [&](const char* split, const std::string& prefix) {
    if (!m.contains(split) || !m[split].is_object())
      return;
    for (const auto& [key, value] : m[split].items())
      if (value.is_number() && key != "rows")
        out[prefix + key] = value;
  };
  copy_split("valid", "");
  copy_split("test", "test_");
  if (m.contains("train") && m["train"].is_object()) {
    const nlohmann::json& t = m["train"];
    if (t.contains("wall_seconds"))
      out["train_seconds"] = t["wall_seconds"];
    for (const char* key : {"samples_per_second", "steps", "samples", "final_loss"})
      if (t.contains(key) && t[key].is_number())
        out[key] = t[key];
  }
  return out;
}

nlohmann::json TrainCurveMetrics(const nlohmann::json& line) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : line.items()) {
    if (!value.is_number())
      continue;
    if (key.rfind("valid_", 0) == 0)
      out[key.substr(6)] = value;
    else
      out[key] = value;
  }
  return out;
}

}  // namespace aiok::tune
