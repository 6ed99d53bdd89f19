// Dataset directories: what the ETL writes and every later stage reads.
//
//   DIR/schema.json                 the feature layout (fields, roles, cardinalities; see
//                                   feature_batch.h), the label type, splits and their line
//                                   ranges in the source, shards, source file, rejects
//   DIR/<split>/part-NNNNN.label.u8       uint8 [rows] (binary task) or
//   DIR/<split>/part-NNNNN.label.f32      float32 [rows] (regression)
//   DIR/<split>/part-NNNNN.weight.f32     float32 [rows] (only with a weight field)
//   DIR/<split>/part-NNNNN.dense.f32      float32 [rows x dense fields], row-major
//   DIR/<split>/part-NNNNN.cat.i32        int32 [rows x categorical fields], row-major
//   DIR/<split>/part-NNNNN.<field>.offsets.i64   int64 [rows + 1] per list/sequence field,
//   DIR/<split>/part-NNNNN.<field>.values.i32    int32 ids; row r: values[off[r], off[r+1])
//   DIR/truth/<split>.f32           true probabilities of the split's rows (datagen input only)
//   DIR/etl_state/pipeline.json     the fitted pipeline
//   DIR/rejects.tsv                 rejected lines: line number, reason (--on-error skip)
//
// Shards are little-endian blocks, so a batch of consecutive rows is one pointer per block
// into an mmap'd file: the loader hands it to libtorch without a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/data/feature_batch.h"
#include "aiok/data/mapped_file.h"
#include "aiok/data/splits.h"

namespace aiok::data {

/// 2: the feature layout (any fields, list fields, regression labels). Format 1 (Criteo's
/// fixed columns) is still read.
constexpr int kDatasetFormatVersion = 2;
/// The splits every dataset has, in this order.
const std::vector<std::string>& SplitNames();

/// How labels are stored: uint8 0/1 for a binary task, float32 otherwise.
enum class LabelType { kUInt8, kFloat32 };

/// A list or sequence field's files in one shard.
struct JaggedFiles {
  std::string offsets_file;
  std::string values_file;
};

struct ShardInfo {
  int64_t rows = 0;
  std::string label_file;  ///< relative to the dataset directory
  std::string dense_file;
  std::string categorical_file;
  std::string weight_file;          ///< empty without a weight field
  std::vector<JaggedFiles> jagged;  ///< per layout.jagged field
};

struct SplitInfo {
  std::string name;
  RowRange lines;  ///< 0-based line range of the source file the split was cut from
  int64_t rows = 0;
  std::vector<ShardInfo> shards;
  std::string truth_file;  ///< empty when the source had no truth
};

struct DatasetSchema {
  FeatureLayout features;
  std::vector<SplitInfo> splits;  ///< train, valid, test
  nlohmann::json source;          ///< path, format, bytes, mtime, lines
  int64_t rejected = 0;
  nlohmann::json pipeline;            ///< the pipeline spec that made it
  std::string split_rule = "kaggle";  ///< see SplitRule
  /// The input schema: the raw fields the pipeline reads (what predict and serve accept).
  nlohmann::json input_schema;
  /// How the source's label values became labels ({"positive": "yes"}, ...); null if as is.
  nlohmann::json label_mapping;

  LabelType label_type() const {
    return features.task == Task::kBinary ? LabelType::kUInt8 : LabelType::kFloat32;
  }
  const SplitInfo& split(const std::string& name) const;
  nlohmann::json ToJson() const;
  static DatasetSchema FromJson(const nlohmann::json& json, const std::string& source);
};

/// Reads DIR/schema.json; errors name the directory.
DatasetSchema ReadDatasetSchema(const std::string& dir);

/// Appends rows of one split to shard files, starting a new shard every `shard_rows` rows.
class SplitWriter {
 public:
  SplitWriter(std::string dir, SplitInfo* split, const FeatureLayout& layout, int64_t shard_rows);
  /// Appends rows [begin, begin + rows) of `batch`, which holds the layout's fields and labels.
  void Append(const FeatureBatch& batch, int64_t begin, int64_t rows);
  void AppendTruth(const float* truth, int64_t rows);
  /// Finishes the last shard.
  void Close();

 private:
  void OpenShard();
  void CloseShard();

  std::string dir_;
  SplitInfo* split_;
  FeatureLayout layout_;
  int64_t shard_rows_;
  std::unique_ptr<AtomicFileWriter> label_, weight_, dense_, categorical_, truth_;
  std::vector<std::unique_ptr<AtomicFileWriter>> offsets_, values_;
  std::vector<int64_t> values_in_shard_;  // per jagged field: where the next row's ids start
  int64_t rows_in_shard_ = 0;
  std::vector<uint8_t> label_bytes_;
};

/// Where a row lives: shard index and row within the shard.
struct RowRef {
  int64_t shard = 0;
  int64_t row = 0;
};

/// A split's shards mapped into memory, handed out as FeatureBatches.
class SplitReader {
 public:
  SplitReader(const std::string& dir, const DatasetSchema& schema, const std::string& split);

  const FeatureLayout& layout() const { return layout_; }
  int64_t rows() const { return rows_; }
  std::vector<int64_t> shard_rows() const;
  /// Rows [begin, begin + count) of shard `shard`: views into the mapping (labels are
  /// converted to float32 into the batch's storage when the shard stores them as bytes).
  FeatureBatch View(int64_t shard, int64_t begin, int64_t count) const;
  /// The rows `refs` names, copied into the batch's storage, in that order.
  FeatureBatch Gather(const std::vector<RowRef>& refs) const;

 private:
  struct Shard {
    int64_t rows = 0;
    const uint8_t* labels_u8 = nullptr;
    const float* labels_f32 = nullptr;
    const float* weights = nullptr;
    const float* dense = nullptr;
    const int32_t* categorical = nullptr;
    std::vector<JaggedIds> jagged;
  };
  const char* Map(const std::string& path, size_t expected_bytes);

  FeatureLayout layout_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<Shard> shards_;
  int64_t rows_ = 0;
};

}  // namespace aiok::data
