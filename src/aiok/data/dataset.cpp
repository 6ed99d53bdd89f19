#include "aiok/data/dataset.h"

#include <fmt/format.h>

#include <filesystem>

#include "aiok/core/error.h"

namespace aiok::data {

const std::vector<std::string>& SplitNames() {
  static const std::vector<std::string> kNames = {"train", "valid", "test"};
  return kNames;
}

const SplitInfo& DatasetSchema::split(const std::string& name) const {
  for (const auto& s : splits) {
    if (s.name == name)
      return s;
  }
  Throw(ErrorKind::kUsage, "unknown split '{}' (valid: train, valid, test)", name);
}

nlohmann::json DatasetSchema::ToJson() const {
  nlohmann::json columns = nlohmann::json::array();
  columns.push_back({{"name", "label"}, {"role", "label"}, {"dtype", "uint8"}});
  for (const auto& name : dense_columns) {
    columns.push_back({{"name", name}, {"role", "dense"}, {"dtype", "float32"}});
  }
  for (size_t c = 0; c < categorical_columns.size(); ++c) {
    columns.push_back({{"name", categorical_columns[c]},
                       {"role", "categorical"},
                       {"dtype", "int32"},
                       {"cardinality", cardinalities[c]}});
  }
  nlohmann::json splits_json = nlohmann::json::object();
  for (const auto& s : splits) {
    nlohmann::json shards = nlohmann::json::array();
    for (const auto& shard : s.shards) {
      shards.push_back({{"rows", shard.rows},
                        {"label", shard.label_file},
                        {"dense", shard.dense_file},
                        {"categorical", shard.categorical_file}});
    }
    splits_json[s.name] = {
        {"source_lines", {s.lines.begin, s.lines.end}}, {"rows", s.rows}, {"shards", shards}};
    if (!s.truth_file.empty())
      splits_json[s.name]["truth"] = s.truth_file;
  }
  return {{"format_version", kDatasetFormatVersion},
          {"columns", columns},
          {"splits", splits_json},
          {"split_rule", split_rule},
          {"split_rule_meaning", SplitRule::Parse(split_rule).Describe()},
          {"source", source},
          {"rejected_lines", rejected},
          {"pipeline", pipeline},
          {"fitted_state", "etl_state/pipeline.json"},
          {"shard_layout",
           "little-endian row-major: label uint8 [rows], dense float32 "
           "[rows x dense], categorical int32 [rows x categorical]"}};
}

DatasetSchema DatasetSchema::FromJson(const nlohmann::json& json, const std::string& source) {
  try {
    AIOK_CHECK(json.at("format_version").get<int>() == kDatasetFormatVersion,
               ErrorKind::kInvalidInput, "{}: dataset format {} is not the supported {}", source,
               json.at("format_version").get<int>(), kDatasetFormatVersion);
    DatasetSchema schema;
    for (const auto& column : json.at("columns")) {
      const std::string role = column.at("role");
      if (role == "dense")
        schema.dense_columns.push_back(column.at("name"));
      if (role == "categorical") {
        schema.categorical_columns.push_back(column.at("name"));
        schema.cardinalities.push_back(column.at("cardinality"));
      }
    }
    for (const auto& name : SplitNames()) {
      const auto& s = json.at("splits").at(name);
      SplitInfo split;
      split.name = name;
      split.lines = RowRange{s.at("source_lines")[0], s.at("source_lines")[1]};
      split.rows = s.at("rows");
      for (const auto& shard : s.at("shards")) {
        split.shards.push_back(ShardInfo{shard.at("rows"), shard.at("label"), shard.at("dense"),
                                         shard.at("categorical")});
      }
      split.truth_file = s.value("truth", "");
      schema.splits.push_back(std::move(split));
    }
    schema.source = json.at("source");
    schema.rejected = json.value("rejected_lines", int64_t{0});
    schema.pipeline = json.value("pipeline", nlohmann::json());
    schema.split_rule = json.value("split_rule", "kaggle");
    return schema;
  } catch (const nlohmann::json::exception& e) {
    Throw(ErrorKind::kInvalidInput, "{}: not a valid dataset schema: {}", source, e.what());
  }
}

DatasetSchema ReadDatasetSchema(const std::string& dir) {
  const std::string path = dir + "/schema.json";
  AIOK_CHECK(std::filesystem::exists(path), ErrorKind::kIo,
             "'{}' is not a dataset directory: no schema.json (make one with aiok etl)", dir);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::parse_error& e) {
    Throw(ErrorKind::kInvalidInput, "{}: {}", path, e.what());
  }
  return DatasetSchema::FromJson(json, path);
}

SplitWriter::SplitWriter(std::string dir, SplitInfo* split, int dense_columns,
                         int categorical_columns, int64_t shard_rows)
    : dir_(std::move(dir)),
      split_(split),
      dense_columns_(dense_columns),
      categorical_columns_(categorical_columns),
      shard_rows_(shard_rows) {
  std::filesystem::create_directories(dir_ + "/" + split_->name);
}

void SplitWriter::OpenShard() {
  const std::string stem = fmt::format("{}/part-{:05}", split_->name, split_->shards.size());
  ShardInfo shard;
  shard.label_file = stem + ".label.u8";
  shard.dense_file = stem + ".dense.f32";
  shard.categorical_file = stem + ".cat.i32";
  label_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + shard.label_file);
  dense_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + shard.dense_file);
  categorical_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + shard.categorical_file);
  split_->shards.push_back(shard);
  rows_in_shard_ = 0;
}

void SplitWriter::CloseShard() {
  if (!label_)
    return;
  label_->Commit();
  dense_->Commit();
  categorical_->Commit();
  split_->shards.back().rows = rows_in_shard_;
  label_.reset();
  dense_.reset();
  categorical_.reset();
}

void SplitWriter::Append(const uint8_t* labels, const float* dense, const int32_t* categorical,
                         int64_t rows) {
  while (rows > 0) {
    if (!label_ || rows_in_shard_ == shard_rows_) {
      CloseShard();
      OpenShard();
    }
    const int64_t take = std::min(rows, shard_rows_ - rows_in_shard_);
    label_->Write(labels, static_cast<size_t>(take));
    dense_->Write(dense, sizeof(float) * static_cast<size_t>(take * dense_columns_));
    categorical_->Write(categorical,
                        sizeof(int32_t) * static_cast<size_t>(take * categorical_columns_));
    labels += take;
    dense += take * dense_columns_;
    categorical += take * categorical_columns_;
    rows_in_shard_ += take;
    split_->rows += take;
    rows -= take;
  }
}

void SplitWriter::AppendTruth(const float* truth, int64_t rows) {
  if (!truth_) {
    std::filesystem::create_directories(dir_ + "/truth");
    split_->truth_file = "truth/" + split_->name + ".f32";
    truth_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + split_->truth_file);
  }
  truth_->Write(truth, sizeof(float) * static_cast<size_t>(rows));
}

void SplitWriter::Close() {
  CloseShard();
  if (truth_)
    truth_->Commit();
  truth_.reset();
}

SplitReader::SplitReader(const std::string& dir, const DatasetSchema& schema,
                         const std::string& split_name) {
  const SplitInfo& split = schema.split(split_name);
  const size_t dense = schema.dense_columns.size();
  const size_t cat = schema.categorical_columns.size();
  for (const ShardInfo& info : split.shards) {
    auto open = [&](const std::string& file, size_t row_bytes) {
      files_.push_back(std::make_unique<MappedFile>(dir + "/" + file));
      const MappedFile& mapped = *files_.back();
      AIOK_CHECK(mapped.size() == row_bytes * static_cast<size_t>(info.rows),
                 ErrorKind::kInvalidInput, "{}: {} bytes, expected {} ({} rows)", mapped.path(),
                 mapped.size(), row_bytes * static_cast<size_t>(info.rows), info.rows);
      return mapped.data();
    };
    Shard shard;
    shard.rows = info.rows;
    shard.labels = reinterpret_cast<const uint8_t*>(open(info.label_file, 1));
    shard.dense = reinterpret_cast<const float*>(open(info.dense_file, sizeof(float) * dense));
    shard.categorical =
        reinterpret_cast<const int32_t*>(open(info.categorical_file, sizeof(int32_t) * cat));
    shards_.push_back(shard);
    rows_ += info.rows;
  }
}

}  // namespace aiok::data
