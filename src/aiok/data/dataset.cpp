#include "aiok/data/dataset.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"

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

namespace {

nlohmann::json ShardJson(const ShardInfo& shard, const FeatureLayout& layout) {
  nlohmann::json json = {{"rows", shard.rows},
                         {"label", shard.label_file},
                         {"dense", shard.dense_file},
                         {"categorical", shard.categorical_file}};
  if (!shard.weight_file.empty())
    json["weight"] = shard.weight_file;
  for (size_t f = 0; f < shard.jagged.size(); ++f) {
    json["jagged"][layout.jagged[f].name] = {{"offsets", shard.jagged[f].offsets_file},
                                             {"values", shard.jagged[f].values_file}};
  }
  return json;
}

ShardInfo ShardFromJson(const JsonField& json, const FeatureLayout& layout) {
  ShardInfo shard;
  shard.rows = json["rows"].Get<int64_t>();
  shard.label_file = json["label"].Get<std::string>();
  shard.dense_file = json["dense"].Get<std::string>();
  shard.categorical_file = json["categorical"].Get<std::string>();
  shard.weight_file = json.Get<std::string>("weight", "");
  for (const auto& field : layout.jagged) {
    const JsonField files = json["jagged"][field.name];
    shard.jagged.push_back(
        {files["offsets"].Get<std::string>(), files["values"].Get<std::string>()});
  }
  return shard;
}

// Format 1 listed Criteo-like columns: a u8 label, dense and categorical fields.
FeatureLayout LayoutFromFormat1(const JsonField& columns) {
  FeatureLayout layout;
  for (const JsonField& column : columns.Elements()) {
    const std::string role = column["role"].Get<std::string>();
    if (role == "dense")
      layout.dense.push_back(column["name"].Get<std::string>());
    if (role == "categorical")
      layout.categorical.push_back(
          {column["name"].Get<std::string>(), column["cardinality"].Get<int64_t>()});
  }
  return layout;
}

}  // namespace

nlohmann::json DatasetSchema::ToJson() const {
  nlohmann::json splits_json = nlohmann::json::object();
  for (const auto& s : splits) {
    nlohmann::json shards = nlohmann::json::array();
    for (const auto& shard : s.shards)
      shards.push_back(ShardJson(shard, features));
    splits_json[s.name] = {
        {"source_lines", {s.lines.begin, s.lines.end}}, {"rows", s.rows}, {"shards", shards}};
    if (!s.truth_file.empty())
      splits_json[s.name]["truth"] = s.truth_file;
  }
  return {{"format_version", kDatasetFormatVersion},
          {"features", features.ToJson()},
          {"label_type", label_type() == LabelType::kUInt8 ? "uint8" : "float32"},
          {"label_mapping", label_mapping},
          {"input_schema", input_schema},
          {"splits", splits_json},
          {"split_rule", split_rule},
          {"split_rule_meaning", SplitRule::Parse(split_rule).Describe()},
          {"source", source},
          {"rejected_lines", rejected},
          {"pipeline", pipeline},
          {"fitted_state", "etl_state/pipeline.json"},
          {"shard_layout",
           "little-endian: label uint8 or float32 [rows], weight float32 [rows], dense float32 "
           "[rows x dense] row-major, categorical int32 [rows x categorical] row-major, per "
           "list field offsets int64 [rows + 1] and values int32"}};
}

DatasetSchema DatasetSchema::FromJson(const nlohmann::json& document, const std::string& source) {
  const JsonField json(document, source);
  json.ExpectObject();
  const int version = json["format_version"].Get<int>();
  AIOK_CHECK(version == 1 || version == kDatasetFormatVersion, ErrorKind::kInvalidInput,
             "{}: dataset format {} is not supported (this aiok reads 1 and {}); remake it "
             "with aiok etl",
             source, version, kDatasetFormatVersion);
  DatasetSchema schema;
  schema.features =
      version == 1 ? LayoutFromFormat1(json["columns"]) : FeatureLayout::FromJson(json["features"]);
  for (const auto& name : SplitNames()) {
    const JsonField s = json["splits"][name];
    SplitInfo split;
    split.name = name;
    const std::vector<int64_t> lines = s["source_lines"].Get<std::vector<int64_t>>();
    AIOK_CHECK(lines.size() == 2, ErrorKind::kInvalidInput,
               "{}: expected [first, end], a list of 2 integers, found {}",
               s["source_lines"].Where(), s["source_lines"].json().dump());
    split.lines = RowRange{lines[0], lines[1]};
    split.rows = s["rows"].Get<int64_t>();
    for (const JsonField& shard : s["shards"].Elements())
      split.shards.push_back(ShardFromJson(shard, schema.features));
    split.truth_file = s.Get<std::string>("truth", "");
    schema.splits.push_back(std::move(split));
  }
  schema.source = json["source"].json();
  schema.rejected = json.Get<int64_t>("rejected_lines", 0);
  schema.pipeline = json.json().value("pipeline", nlohmann::json());
  schema.split_rule = json.Get<std::string>("split_rule", "kaggle");
  schema.input_schema = json.json().value("input_schema", nlohmann::json());
  schema.label_mapping = json.json().value("label_mapping", nlohmann::json());
  return schema;
}

DatasetSchema ReadDatasetSchema(const std::string& dir) {
  const std::string path = dir + "/schema.json";
  AIOK_CHECK(std::filesystem::exists(path), ErrorKind::kIo,
             "'{}' is not a dataset directory: no schema.json (make one with aiok etl)", dir);
  return DatasetSchema::FromJson(ParseJsonText(ReadFile(path), path), path);
}

SplitWriter::SplitWriter(std::string dir, SplitInfo* split, const FeatureLayout& layout,
                         int64_t shard_rows)
    : dir_(std::move(dir)), split_(split), layout_(layout), shard_rows_(shard_rows) {
  std::filesystem::create_directories(dir_ + "/" + split_->name);
}

void SplitWriter::OpenShard() {
  const std::string stem = fmt::format("{}/part-{:05}", split_->name, split_->shards.size());
  ShardInfo shard;
  const bool binary = layout_.task == Task::kBinary;
  shard.label_file = stem + (binary ? ".label.u8" : ".label.f32");
  shard.dense_file = stem + ".dense.f32";
  shard.categorical_file = stem + ".cat.i32";
  label_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + shard.label_file);
  dense_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + shard.dense_file);
  categorical_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + shard.categorical_file);
  if (layout_.has_weight) {
    shard.weight_file = stem + ".weight.f32";
    weight_ = std::make_unique<AtomicFileWriter>(dir_ + "/" + shard.weight_file);
  }
  offsets_.clear();
  values_.clear();
  values_in_shard_.assign(layout_.jagged.size(), 0);
  for (const auto& field : layout_.jagged) {
    JaggedFiles files{stem + "." + field.name + ".offsets.i64",
                      stem + "." + field.name + ".values.i32"};
    offsets_.push_back(std::make_unique<AtomicFileWriter>(dir_ + "/" + files.offsets_file));
    values_.push_back(std::make_unique<AtomicFileWriter>(dir_ + "/" + files.values_file));
    const int64_t zero = 0;
    offsets_.back()->Write(&zero, sizeof zero);
    shard.jagged.push_back(std::move(files));
  }
  split_->shards.push_back(shard);
  rows_in_shard_ = 0;
}

void SplitWriter::CloseShard() {
  if (!label_)
    return;
  for (auto* file : {&label_, &weight_, &dense_, &categorical_}) {
    if (*file)
      (*file)->Commit();
    file->reset();
  }
  for (auto& file : offsets_)
    file->Commit();
  for (auto& file : values_)
    file->Commit();
  offsets_.clear();
  values_.clear();
  split_->shards.back().rows = rows_in_shard_;
}

void SplitWriter::Append(const FeatureBatch& batch, int64_t begin, int64_t rows) {
  const int64_t n_dense = layout_.dense_width();
  const int64_t n_cat = layout_.categorical_width();
  while (rows > 0) {
    if (!label_ || rows_in_shard_ == shard_rows_) {
      CloseShard();
      OpenShard();
    }
    const int64_t take = std::min(rows, shard_rows_ - rows_in_shard_);
    const auto n = static_cast<size_t>(take);
    AIOK_ASSERT(batch.labels != nullptr);
    if (layout_.task == Task::kBinary) {
      label_bytes_.resize(n);
      for (size_t r = 0; r < n; ++r)
        label_bytes_[r] = static_cast<uint8_t>(batch.labels[begin + r]);
      label_->Write(label_bytes_.data(), n);
    } else {
      label_->Write(batch.labels + begin, sizeof(float) * n);
    }
    if (weight_)
      weight_->Write(batch.weights + begin, sizeof(float) * n);
    dense_->Write(batch.dense + begin * n_dense, sizeof(float) * n * static_cast<size_t>(n_dense));
    categorical_->Write(batch.categorical + begin * n_cat,
                        sizeof(int32_t) * n * static_cast<size_t>(n_cat));
    for (size_t f = 0; f < layout_.jagged.size(); ++f) {
      // Offsets are the shard's own: rebased from the batch's to the ids written so far.
      const JaggedIds& ids = batch.jagged[f];
      const int64_t first = ids.offsets[begin];
      std::vector<int64_t> offsets(n);
      for (size_t r = 0; r < n; ++r)
        offsets[r] = values_in_shard_[f] + ids.offsets[begin + static_cast<int64_t>(r) + 1] - first;
      offsets_[f]->Write(offsets.data(), sizeof(int64_t) * n);
      const int64_t count = ids.offsets[begin + take] - first;
      values_[f]->Write(ids.values + first, sizeof(int32_t) * static_cast<size_t>(count));
      values_in_shard_[f] += count;
    }
    begin += take;
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

const char* SplitReader::Map(const std::string& path, size_t expected_bytes) {
  files_.push_back(std::make_unique<MappedFile>(path));
  const MappedFile& mapped = *files_.back();
  AIOK_CHECK(mapped.size() == expected_bytes, ErrorKind::kInvalidInput,
             "{}: {} bytes, expected {}: the dataset is damaged (remake it with aiok etl)",
             mapped.path(), mapped.size(), expected_bytes);
  return mapped.data();
}

SplitReader::SplitReader(const std::string& dir, const DatasetSchema& schema,
                         const std::string& split_name)
    : layout_(schema.features) {
  const SplitInfo& split = schema.split(split_name);
  const auto dense = static_cast<size_t>(layout_.dense_width());
  const auto cat = static_cast<size_t>(layout_.categorical_width());
  for (const ShardInfo& info : split.shards) {
    const auto rows = static_cast<size_t>(info.rows);
    Shard shard;
    shard.rows = info.rows;
    if (schema.label_type() == LabelType::kUInt8) {
      shard.labels_u8 = reinterpret_cast<const uint8_t*>(Map(dir + "/" + info.label_file, rows));
    } else {
      shard.labels_f32 =
          reinterpret_cast<const float*>(Map(dir + "/" + info.label_file, rows * sizeof(float)));
    }
    if (!info.weight_file.empty()) {
      shard.weights =
          reinterpret_cast<const float*>(Map(dir + "/" + info.weight_file, rows * sizeof(float)));
    }
    shard.dense = reinterpret_cast<const float*>(
        Map(dir + "/" + info.dense_file, sizeof(float) * dense * rows));
    shard.categorical = reinterpret_cast<const int32_t*>(
        Map(dir + "/" + info.categorical_file, sizeof(int32_t) * cat * rows));
    for (const JaggedFiles& files : info.jagged) {
      const auto* offsets = reinterpret_cast<const int64_t*>(
          Map(dir + "/" + files.offsets_file, sizeof(int64_t) * (rows + 1)));
      const std::string values_path = dir + "/" + files.values_file;
      const auto* values = reinterpret_cast<const int32_t*>(
          Map(values_path, sizeof(int32_t) * static_cast<size_t>(offsets[rows])));
      shard.jagged.push_back(JaggedIds{offsets, values});
    }
    shards_.push_back(std::move(shard));
    rows_ += info.rows;
  }
}

std::vector<int64_t> SplitReader::shard_rows() const {
  std::vector<int64_t> rows;
  for (const Shard& shard : shards_)
    rows.push_back(shard.rows);
  return rows;
}

FeatureBatch SplitReader::View(int64_t shard_index, int64_t begin, int64_t count) const {
  const Shard& shard = shards_[static_cast<size_t>(shard_index)];
  FeatureBatch batch;
  batch.rows = count;
  if (shard.labels_u8) {
    batch.storage = std::make_shared<FeatureBatchStorage>();
    batch.storage->labels.assign(shard.labels_u8 + begin, shard.labels_u8 + begin + count);
    batch.labels = batch.storage->labels.data();
  } else {
    batch.labels = shard.labels_f32 + begin;
  }
  if (shard.weights)
    batch.weights = shard.weights + begin;
  batch.dense = shard.dense + begin * layout_.dense_width();
  batch.categorical = shard.categorical + begin * layout_.categorical_width();
  for (const JaggedIds& ids : shard.jagged)
    batch.jagged.push_back(JaggedIds{ids.offsets + begin, ids.values});
  return batch;
}

FeatureBatch SplitReader::Gather(const std::vector<RowRef>& refs) const {
  FeatureBatch batch = AllocateFeatureBatch(layout_, static_cast<int64_t>(refs.size()), true);
  FeatureBatchStorage& s = *batch.storage;
  const auto n_dense = static_cast<size_t>(layout_.dense_width());
  const auto n_cat = static_cast<size_t>(layout_.categorical_width());
  for (size_t r = 0; r < refs.size(); ++r) {
    const Shard& shard = shards_[static_cast<size_t>(refs[r].shard)];
    const auto row = static_cast<size_t>(refs[r].row);
    s.labels[r] = shard.labels_u8 ? shard.labels_u8[row] : shard.labels_f32[row];
    if (shard.weights)
      s.weights[r] = shard.weights[row];
    // A layout without dense (or categorical) fields has empty buffers: indexing them, or a
    // memcpy from their null pointers, is undefined even for 0 bytes (UBSan found it).
    if (n_dense > 0)
      std::memcpy(&s.dense[r * n_dense], shard.dense + row * n_dense, sizeof(float) * n_dense);
    if (n_cat > 0)
      std::memcpy(&s.categorical[r * n_cat], shard.categorical + row * n_cat,
                  sizeof(int32_t) * n_cat);
    for (size_t f = 0; f < shard.jagged.size(); ++f) {
      const JaggedIds& ids = shard.jagged[f];
      std::vector<int32_t>& values = s.values[f];
      values.insert(values.end(), ids.values + ids.offsets[row], ids.values + ids.offsets[row + 1]);
      s.offsets[f][r + 1] = static_cast<int64_t>(values.size());
    }
  }
  batch.ViewStorage();
  return batch;
}

}  // namespace aiok::data
