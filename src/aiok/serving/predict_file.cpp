#include "aiok/serving/predict_file.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/serving/predictor.h"
#include "aiok/serving/serving_pipeline.h"

namespace aiok::serving {

PredictSummary PredictFile(const PredictOptions& options, const RunContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  AIOK_CHECK(options.batch_size >= 1, ErrorKind::kConfig, "batch size must be >= 1");
  // Predictions must not replace the rows they score, nor may the list of rejects.
  CheckOutputKeepsInput(options.input, "--input", options.out, "--out");
  CheckOutputKeepsInput(options.bundle_dir, "--model", options.out, "--out");
  if (options.on_error == data::OnError::kSkip) {
    CheckOutputKeepsInput(options.input, "--input", options.out + ".rejects.tsv",
                          "the rejects file");
  }
  const Bundle bundle = OpenBundle(options.bundle_dir);
  const ServingPipeline features(bundle);
  const Predictor predictor(bundle, options.precision);
  const bool parquet = data::IsParquetFile(options.input);
  // Parquet columns are read by name, so a label column there is simply not read; a text
  // file's first record says whether it still has its label (under kSkip, its first record
  // with either field count: a bad first line becomes "nan" like any other).
  const data::TableSchema read_schema =
      features.RowSchema(!parquet && features.FileHasLabel(options.input, options.on_error));

  AtomicFileWriter out(options.out);
  std::unique_ptr<AtomicFileWriter> rejects;
  if (options.on_error == data::OnError::kSkip) {
    rejects = std::make_unique<AtomicFileWriter>(options.out + ".rejects.tsv");
    rejects->Write("line\treason\n");
  }
  data::TextReadOptions reader;
  reader.on_error = options.on_error;

  Progress progress("predict", 0, "rows");
  PredictSummary summary;
  summary.precision = predictor.precision();
  // Batches are scored side by side on the reader threads and written in file order.
  OrderedTurns writes;
  const data::TextReadSummary read = data::ReadTable(
      options.input, read_schema, reader, ctx,
      [&](data::TableBatch& batch) {
        if (rejects) {
          for (const data::RejectedRecord& reject : batch.rejects)
            rejects->Write(fmt::format("{}\t{}\n", reject.line, reject.reason));
        }
      },
      [&](data::TableBatch& batch, int64_t index) {
        try {
          const std::vector<int64_t> row_records = batch.RowRecords();
          const int64_t first_record = batch.first_record - 1;
          const int64_t records = batch.records;
          const data::FeatureBatch rows = features.Transform(
              std::move(batch), read_schema);
          std::vector<float> predictions(static_cast<size_t>(rows.rows));
          for (int64_t begin = 0; begin < rows.rows; begin += options.batch_size) {
            const int64_t n = std::min(options.batch_size, rows.rows - begin);
            predictor.Predict(rows.Slice(begin, n, features.layout()),
                              predictions.data() + begin);
          }
          // One output line per input record: "nan" for the records no accepted row came from.
          std::string text;
          text.reserve(static_cast<size_t>(records) * 12);
          size_t row = 0;
          for (int64_t record = first_record; record < first_record + records; ++record) {
            if (row < row_records.size() && row_records[row] == record) {
              fmt::format_to(std::back_inserter(text), "{}\n", predictions[row++]);
            } else {
              text += "nan\n";
            }
          }
          writes.Commit(index, [&] { out.Write(text); });
          progress.Advance(records);
        } catch (...) {
          writes.Abort();
          throw;
        }
      });
  progress.Finish();
  out.Commit();
  if (rejects)
    rejects->Commit();
  summary.lines = read.records;
  summary.rows = read.rows;
  summary.rejected = read.rejected;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace aiok::serving
