#include "aiok/etl/label_decision.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "aiok/core/error.h"

namespace aiok::etl {

void LabelValues::See(const data::ColumnValues& column, int64_t rows) {
  for (size_t r = 0; r < static_cast<size_t>(rows) && distinct.size() <= 2; ++r) {
    if (!column.valid[r])
      continue;
    // Most rows repeat a value already seen: compare its bits before making text of it.
    uint64_t bits = 0;
    switch (column.type.value) {
      case data::ValueType::kInt64:
      case data::ValueType::kTimestamp:
        bits = static_cast<uint64_t>(column.ints[r]);
        break;
      case data::ValueType::kUInt64:
        bits = column.uints[r];
        break;
      case data::ValueType::kFloat64:
        std::memcpy(&bits, &column.reals[r], sizeof bits);
        break;
      case data::ValueType::kString:
        bits = HashBytes(column.string(r));
        break;
    }
    if (std::find(seen_bits.begin(), seen_bits.end(), bits) != seen_bits.end())
      continue;
    seen_bits.push_back(bits);
    switch (column.type.value) {
      case data::ValueType::kInt64:
      case data::ValueType::kTimestamp:
        distinct.insert(std::to_string(column.ints[r]));
        break;
      case data::ValueType::kUInt64:
        distinct.insert(std::to_string(column.uints[r]));
        break;
      case data::ValueType::kFloat64:
        distinct.insert(fmt::format("{}", column.reals[r]));
        break;
      case data::ValueType::kString:
        numeric = false;
        distinct.emplace(column.string(r));
        break;
    }
  }
}

LabelMapping DecideLabel(const LabelValues& seen, const std::string& task,
                         const std::string& positive_flag, const std::string& label) {
  const std::vector<std::string> values(seen.distinct.begin(), seen.distinct.end());
  const std::string shown = fmt::format("'{}'{}", fmt::join(values, "', '"),
                                        values.size() > 2 ? " and more" : "");
  AIOK_CHECK(!values.empty(), ErrorKind::kInvalidInput, "label {}: no value in the input", label);
  LabelMapping mapping;
  const bool two = values.size() <= 2;
  if (task == "regression" || (task == "auto" && !two)) {
    AIOK_CHECK(seen.numeric, ErrorKind::kInvalidInput,
               "label {}: a regression label must be numeric, found text values {}", label, shown);
    AIOK_CHECK(positive_flag.empty(), ErrorKind::kUsage,
               "--positive goes with a binary task; label {} has the values {}", label, shown);
    mapping.task = data::Task::kRegression;
    return mapping;
  }
  AIOK_CHECK(two, ErrorKind::kInvalidInput,
             "label {}: a binary task needs exactly two label values, found {} (use --task "
             "regression for a numeric target)",
             label, shown);
  AIOK_CHECK(values.size() == 2, ErrorKind::kInvalidInput,
             "label {}: every row has the label {}: there is nothing to learn", label, shown);
  mapping.task = data::Task::kBinary;
  if (positive_flag.empty() && seen.numeric && values[0] == "0" && values[1] == "1")
    return mapping;  // already 0/1
  std::string positive = positive_flag;
  if (positive.empty()) {
    static const std::set<std::string> kPositiveWords = {"1",   "true",  "yes",     "y",
                                                         "pos", "click", "clicked", "positive"};
    positive = values[1];  // the larger number, or the later text
    for (const std::string& value : values) {
      std::string lower = value;
      for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (kPositiveWords.count(lower))
        positive = value;
    }
    if (seen.numeric) {
      positive = std::stod(values[0]) > std::stod(values[1]) ? values[0] : values[1];
    }
    spdlog::info("etl: label {} has the values {}; '{}' is taken as 1 (set it with --positive)",
                 label, shown, positive);
  }
  AIOK_CHECK(positive == values[0] || positive == values[1], ErrorKind::kUsage,
             "--positive {}: label {} has no such value (values: {})", positive, label, shown);
  mapping.positive = positive;
  mapping.negative = positive == values[0] ? values[1] : values[0];
  return mapping;
}


}  // namespace aiok::etl
