// Dataset directories: what the ETL writes and every later stage reads.
//
//   DIR/schema.json                 columns (roles, dtypes, cardinalities), splits and their
//                                   line ranges in the source, shards, source file, rejects
//   DIR/<split>/part-NNNNN.label.u8       uint8 [rows]
//   DIR/<split>/part-NNNNN.dense.f32      float32 [rows x dense columns], row-major
//   DIR/<split>/part-NNNNN.cat.i32        int32 [rows x categorical columns], row-major
//   DIR/truth/<split>.f32           true probabilities of the split's rows (datagen input only)
//   DIR/etl_state/pipeline.json     the fitted pipeline
//   DIR/rejects.tsv                 rejected lines: line number, reason (--on-error skip)
//
// Shards are little-endian, row-major blocks, so a batch of consecutive rows is one pointer
// into an mmap'd file: the loader hands it to libtorch without a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/data/mapped_file.h"
#include "aiok/data/splits.h"

namespace aiok::data {

constexpr int kDatasetFormatVersion = 1;
/// The splits every dataset has, in this order.
const std::vector<std::string>& SplitNames();

struct ShardInfo {
  int64_t rows = 0;
  std::string label_file;  ///< relative to the dataset directory
  std::string dense_file;
  std::string categorical_file;
};

struct SplitInfo {
  std::string name;
  RowRange lines;  ///< 0-based line range of the source file the split was cut from
  int64_t rows = 0;
  std::vector<ShardInfo> shards;
  std::string truth_file;  ///< empty when the source had no truth
};

struct DatasetSchema {
  std::vector<std::string> dense_columns;
  std::vector<std::string> categorical_columns;
  std::vector<int64_t> cardinalities;  ///< per categorical column: ids are in [0, cardinality)
  std::vector<SplitInfo> splits;       ///< train, valid, test
  nlohmann::json source;               ///< path, format, bytes, mtime, lines
  int64_t rejected = 0;
  nlohmann::json pipeline;            ///< the pipeline spec that made it
  std::string split_rule = "kaggle";  ///< see SplitRule

  const SplitInfo& split(const std::string& name) const;
  nlohmann::json ToJson() const;
  static DatasetSchema FromJson(const nlohmann::json& json, const std::string& source);
};

/// Reads DIR/schema.json; errors name the directory.
DatasetSchema ReadDatasetSchema(const std::string& dir);

/// Appends rows of one split to shard files, starting a new shard every `shard_rows` rows.
class SplitWriter {
 public:
  SplitWriter(std::string dir, SplitInfo* split, int dense_columns, int categorical_columns,
              int64_t shard_rows);
  /// Appends `rows` rows: labels [rows], dense [rows x dense], categorical [rows x cat].
  void Append(const uint8_t* labels, const float* dense, const int32_t* categorical, int64_t rows);
  void AppendTruth(const float* truth, int64_t rows);
  /// Finishes the last shard.
  void Close();

 private:
  void OpenShard();
  void CloseShard();

  std::string dir_;
  SplitInfo* split_;
  int dense_columns_;
  int categorical_columns_;
  int64_t shard_rows_;
  std::unique_ptr<AtomicFileWriter> label_, dense_, categorical_, truth_;
  int64_t rows_in_shard_ = 0;
};

/// A split's shards mapped into memory, for reading rows in order.
class SplitReader {
 public:
  SplitReader(const std::string& dir, const DatasetSchema& schema, const std::string& split);

  struct Shard {
    int64_t rows;
    const uint8_t* labels;
    const float* dense;
    const int32_t* categorical;
  };
  const std::vector<Shard>& shards() const { return shards_; }
  int64_t rows() const { return rows_; }

 private:
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<Shard> shards_;
  int64_t rows_ = 0;
};

}  // namespace aiok::data
