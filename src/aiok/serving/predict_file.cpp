#include "aiok/serving/predict_file.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/criteo_source.h"
#include "aiok/serving/predictor.h"

namespace aiok::serving {

PredictSummary PredictFile(const PredictOptions& options, const RunContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  AIOK_CHECK(options.batch_size >= 1, ErrorKind::kConfig, "batch size must be >= 1");
  const Predictor predictor(OpenBundle(options.bundle_dir), options.precision);
  const data::CriteoSource source(options.input, ctx.threads);

  AtomicFileWriter out(options.out);
  std::unique_ptr<AtomicFileWriter> rejects;
  if (options.on_error == data::OnError::kSkip) {
    rejects = std::make_unique<AtomicFileWriter>(options.out + ".rejects.tsv");
    rejects->Write("line\treason\n");
  }
  data::CriteoReaderOptions reader;
  reader.label = data::LabelField::kDetect;
  reader.on_error = options.on_error;
  reader.range_bytes = int64_t{4} << 20;

  Progress progress("predict", source.EstimatedRecords(), "rows");
  PredictSummary summary;
  summary.precision = predictor.precision();
  // Batches are scored side by side on the reader threads and written in file order.
  OrderedTurns writes;
  const data::CriteoReadSummary read = source.Read(
      reader, ctx,
      [&](data::CriteoBatch& batch) {
        if (rejects) {
          for (const data::RejectedLine& reject : batch.rejects)
            rejects->Write(fmt::format("{}\t{}\n", reject.line, reject.reason));
        }
      },
      [&](data::CriteoBatch& batch, int64_t index) {
        try {
          std::vector<float> probabilities(static_cast<size_t>(batch.rows));
          predictor.Predict(batch, probabilities.data(), options.batch_size);
          // One output line per input line: "nan" for the lines no accepted row came from.
          const std::vector<int64_t> row_lines = data::RowLines(batch);
          std::string text;
          text.reserve(static_cast<size_t>(batch.lines) * 12);
          size_t row = 0;
          for (int64_t line = batch.first_line - 1; line < batch.first_line - 1 + batch.lines;
               ++line) {
            if (row < row_lines.size() && row_lines[row] == line) {
              fmt::format_to(std::back_inserter(text), "{}\n", probabilities[row++]);
            } else {
              text += "nan\n";
            }
          }
          writes.Commit(index, [&] { out.Write(text); });
          progress.Advance(batch.lines);
        } catch (...) {
          writes.Abort();
          throw;
        }
      });
  progress.Finish();
  out.Commit();
  if (rejects)
    rejects->Commit();
  summary.lines = read.lines;
  summary.rows = read.rows;
  summary.rejected = read.rejected;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace aiok::serving
