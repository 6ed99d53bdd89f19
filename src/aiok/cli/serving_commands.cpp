// aiok predict, aiok serve and aiok bundle.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "aiok/cli/cli_common.h"
#include "aiok/cli/plugin_commands.h"
#include "aiok/core/progress.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/http_server.h"
#include "aiok/serving/predict_file.h"

namespace aiok::cli {

void AddPredictCommand(CLI::App& app) {
  struct State {
    CommonFlags common;
    serving::PredictOptions options;
    std::string on_error = "fail";
  };
  auto state = std::make_shared<State>();
  auto* command = app.add_subcommand(
      "predict", "Score raw rows (Criteo TSV with or without the label, or Parquet) with a bundle");
  command->add_option("--model", state->options.bundle_dir, "model bundle directory")->required();
  command->add_option("--input", state->options.input, "rows to score")->required();
  command->add_option("--out", state->options.out, "output: one probability per input line")
      ->required();
  command->add_option("--batch-size", state->options.batch_size, "rows per model call")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  command->add_option("--precision", state->options.precision, "fp32, bf16 or auto")
      ->check(CLI::IsMember({"fp32", "bf16", "auto"}))
      ->capture_default_str();
  command
      ->add_option("--on-error", state->on_error,
                   "bad lines: fail (stop, naming the line) or skip (nan, listed in "
                   "OUT.rejects.tsv)")
      ->check(CLI::IsMember({"fail", "skip"}))
      ->capture_default_str();
  AddCommonFlags(command, &state->common);
  command->callback([state] {
    const RunContext ctx = StartRun(state->common);
    state->options.on_error = data::ParseOnError(state->on_error);
    const serving::PredictSummary s = serving::PredictFile(state->options, ctx);
    fmt::print("predict: {} rows in {} ({} rows/s, {}){} -> {}\n", s.rows, HumanSeconds(s.seconds),
               HumanCount(static_cast<double>(s.rows) / std::max(s.seconds, 1e-9)), s.precision,
               s.rejected > 0 ? fmt::format("; {} rejected, see {}.rejects.tsv", s.rejected,
                                            state->options.out)
                              : "",
               state->options.out);
  });
}

void AddServeCommand(CLI::App& app) {
  struct State {
    CommonFlags common;
    serving::ServeOptions options;
  };
  auto state = std::make_shared<State>();
  auto* command = app.add_subcommand("serve", "Serve a model bundle over HTTP");
  command->add_option("--model", state->options.bundle_dir, "model bundle directory")->required();
  AddOptionFlags(command, state->options);
  AddCommonFlags(command, &state->common);
  command->callback([state] {
    const RunContext ctx = StartRun(state->common);
    serving::Serve(state->options, ctx, [&](int port) {
      // Scripts and tests read the port from this line.
      fmt::print("serve: listening on http://{}:{} (POST /v1/predict, GET /healthz, GET "
                 "/v1/metadata)\n",
                 state->options.host, port);
      std::fflush(stdout);
    });
    fmt::print("serve: stopped\n");
  });
}

void AddBundleCommand(CLI::App& app) {
  struct State {
    CommonFlags common;
    std::string dataset;
    std::string model;
    std::string out;
  };
  auto state = std::make_shared<State>();
  auto* command =
      app.add_subcommand("bundle", "Package a trained model with its ETL state as a bundle");
  command->add_option("--data", state->dataset, "dataset directory the model was trained on")
      ->required();
  command->add_option("--model", state->model, "model directory (aiok train --out)")->required();
  command->add_option("--out", state->out, "bundle directory to write")->required();
  AddCommonFlags(command, &state->common);
  command->callback([state] {
    StartRun(state->common);
    serving::WriteBundle(state->dataset, state->model, state->out);
    fmt::print("bundle: {} (predict: aiok predict --model {} --input ROWS --out FILE)\n",
               state->out, state->out);
  });
}

}  // namespace aiok::cli
