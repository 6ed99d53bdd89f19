#include "aiok/data/sequence_generator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/sequence_click_model.h"
#include "aiok/data/splits.h"
#include "aiok/data/text_format.h"

namespace aiok::data {
namespace {

constexpr int kFormatVersion = 1;
constexpr const char* kEventsName = "events.csv";
constexpr const char* kItemsName = "items.csv";
constexpr const char* kSchemaName = "schema.yaml";
constexpr const char* kTruthName = "truth.f32";
constexpr const char* kNoHistoryName = "nohistory.f32";
constexpr char kListSeparator = '|';

// Limit on users x events-per-user: every impression is held in memory until sorted by time.
constexpr int64_t kMaxExpectedRows = int64_t{1} << 31;

constexpr const char* kNoHistoryDefinition =
    "AUC of the best probability without the user's behaviour: the truth averaged over the "
    "hidden focus given only the user's long-term taste and bias, the item's appeal and "
    "category and the time (the focus chain is stationary, so time tells nothing): "
    "q*sigmoid(L+focus_effect) + (1-q)*sigmoid(L) with q = P(focus = the item's category | "
    "user, item shown). Assumes those static parameters known exactly; a model that learns "
    "them gets less. A model must use the history to beat it.";
constexpr const char* kHistoryDefinition =
    "AUC of a forward filter over the hidden focus that knows the user's static parameters and, "
    "of the user's earlier impressions, only the categories of the clicked ones (hist_cats) and "
    "how many impressions came between them; it ignores shown-but-not-clicked items. A "
    "predictor that uses the history this way reaches this figure.";

// Events per user and where each user's impressions start in the user-major arrays.
std::vector<int64_t> UserOffsets(const SequenceClickModel& model, int64_t users, int threads) {
  std::vector<int64_t> offsets(static_cast<size_t>(users) + 1, 0);
  const int64_t chunks =
      (users + SequenceGenerator::kChunkUsers - 1) / SequenceGenerator::kChunkUsers;
  ParallelFor(chunks, threads, [&](int64_t chunk) {
    const int64_t end = std::min(users, (chunk + 1) * SequenceGenerator::kChunkUsers);
    for (int64_t u = chunk * SequenceGenerator::kChunkUsers; u < end; ++u)
      offsets[static_cast<size_t>(u) + 1] = model.Events(u);
  });
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  return offsets;
}

// Runs `body(user)` for every user, in chunks of users on `threads` threads.
void ForEachUser(int64_t users, const RunContext& ctx, const std::function<void(int64_t)>& body) {
  const int64_t chunks =
      (users + SequenceGenerator::kChunkUsers - 1) / SequenceGenerator::kChunkUsers;
  ParallelFor(chunks, ctx.threads, [&](int64_t chunk) {
    ctx.cancel->ThrowIfCancelled();
    const int64_t end = std::min(users, (chunk + 1) * SequenceGenerator::kChunkUsers);
    for (int64_t u = chunk * SequenceGenerator::kChunkUsers; u < end; ++u)
      body(u);
  });
}

// AUC and logloss of `scores` for the whole file and each Kaggle split.
nlohmann::json ScoresBySplit(const std::vector<float>& scores, const std::vector<uint8_t>& labels,
                             const char* definition) {
  const auto rows = static_cast<int64_t>(scores.size());
  const SplitRanges splits = KaggleSplits(rows);
  nlohmann::json out = {{"definition", definition}};
  for (const auto& [name, range] : {std::pair{"all", RowRange{0, rows}},
                                    {"train", splits.train},
                                    {"valid", splits.valid},
                                    {"test", splits.test}}) {
    const auto n = static_cast<size_t>(range.size());
    out[name] = {
        {"auc", BinaryAuc(scores.data() + range.begin, labels.data() + range.begin, n)},
        {"logloss", BinaryLogLoss(scores.data() + range.begin, labels.data() + range.begin, n)}};
  }
  return out;
}

}  // namespace

TableSchema SequenceEventsSchema() {
  TableSchema schema;
  schema.format.separator = ',';
  schema.format.header = true;
  schema.format.quote = '"';
  schema.format.list_separator = kListSeparator;
  schema.format.null_tokens = {""};  // only an empty history is empty
  schema.format.trim = false;
  const FieldType id{ValueType::kInt64, false, false};
  const FieldType ids{ValueType::kInt64, true, false};
  schema.fields = {
      {"user_id", FieldRole::kCategorical, id}, {"item_id", FieldRole::kCategorical, id},
      {"cat_id", FieldRole::kCategorical, id},  {"timestamp", FieldRole::kTimestamp, id},
      {"label", FieldRole::kLabel, id},         {"hist_items", FieldRole::kSequence, ids},
      {"hist_cats", FieldRole::kSequence, ids}};
  return schema;
}

void SequenceGenerator::Validate() {
  ValidateOptions(options_, "datagen sequences");
  AIOK_CHECK(options_.categories <= options_.items, ErrorKind::kConfig,
             "datagen sequences: --categories {} is more than --items {}; every category needs "
             "an item",
             options_.categories, options_.items);
  AIOK_CHECK(options_.users <= kMaxExpectedRows / options_.events_per_user, ErrorKind::kConfig,
             "datagen sequences: --users {} x --events-per-user {} is more than {} impressions "
             "(all are held in memory to sort them by time)",
             options_.users, options_.events_per_user, kMaxExpectedRows);
}

GeneratorSummary SequenceGenerator::Generate(const RunContext& ctx, const std::string& out_dir) {
  Validate();
  const auto start = std::chrono::steady_clock::now();
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot create directory '{}': {}", out_dir, ec.message());
  // The manifest marks a complete directory: drop an old one before touching its data files.
  const std::string manifest_path = out_dir + "/datagen.json";
  fs::remove(manifest_path, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot remove old '{}': {}", manifest_path, ec.message());

  const int64_t users = options_.users;
  const SequenceClickModel model(ctx.seed, users, options_.items, options_.categories,
                                 options_.events_per_user);

  // Each user's stream, user-major; then the intercept; then probabilities and labels.
  const std::vector<int64_t> offsets = UserOffsets(model, users, ctx.threads);
  const int64_t rows = offsets.back();
  std::vector<SequenceImpression> events(static_cast<size_t>(rows));
  std::vector<int32_t> user_of(static_cast<size_t>(rows));
  ForEachUser(users, ctx, [&](int64_t u) {
    model.Simulate(u, &events[offsets[u]]);
    std::fill(user_of.begin() + offsets[u], user_of.begin() + offsets[u + 1],
              static_cast<int32_t>(u));
  });
  const double intercept = SolveIntercept(rows, options_.pos_rate, [&](int64_t i) {
    const SequenceImpression& e = events[static_cast<size_t>(i)];
    return static_cast<double>(e.base_logit) +
           (e.in_focus ? SequenceClickModel::kFocusEffect : 0.0);
  });
  std::vector<SequenceOutcome> outcomes(static_cast<size_t>(rows));
  ForEachUser(users, ctx, [&](int64_t u) {
    model.Score(u, &events[offsets[u]], offsets[u + 1] - offsets[u], intercept,
                &outcomes[offsets[u]]);
  });

  // Rows in time order; ties by user, then by impression (the user-major index).
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const int64_t ta = events[a].timestamp;
    const int64_t tb = events[b].timestamp;
    return ta != tb ? ta < tb : a < b;
  });
  ctx.cancel->ThrowIfCancelled();

  std::vector<float> truth(static_cast<size_t>(rows));
  std::vector<float> no_history(static_cast<size_t>(rows));
  std::vector<float> history(static_cast<size_t>(rows));
  std::vector<uint8_t> labels(static_cast<size_t>(rows));
  int64_t longest_history = 0;

  const std::string events_path = out_dir + "/" + kEventsName;
  AtomicFileWriter events_file(events_path);
  AtomicFileWriter truth_file(out_dir + "/" + kTruthName);
  AtomicFileWriter no_history_file(out_dir + "/" + kNoHistoryName);
  events_file.Write("user_id,item_id,cat_id,timestamp,label,hist_items,hist_cats\n");
  OrderedTurns turns;
  Progress progress("datagen sequences", rows, "rows");
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  const auto max_history = static_cast<size_t>(options_.max_history);
  ParallelFor(chunks, ctx.threads, [&](int64_t chunk) {
    try {
      ctx.cancel->ThrowIfCancelled();
      const int64_t begin = chunk * kChunkRows;
      const int64_t end = std::min(rows, begin + kChunkRows);
      std::string text;
      text.reserve(static_cast<size_t>(end - begin) * 96);
      std::vector<int64_t> clicked;  // the history, newest first
      int64_t longest = 0;
      for (int64_t r = begin; r < end; ++r) {
        const int64_t e = order[r];
        const int32_t u = user_of[e];
        const SequenceImpression& event = events[e];
        const SequenceOutcome& outcome = outcomes[e];
        truth[r] = outcome.probability;
        no_history[r] = outcome.no_history;
        history[r] = outcome.history;
        labels[r] = outcome.label;
        // The user's clicks before this impression, newest first, up to the cap.
        clicked.clear();
        for (int64_t k = e - 1; k >= offsets[u] && clicked.size() < max_history; --k) {
          if (outcomes[k].label)
            clicked.push_back(k);
        }
        longest = std::max(longest, static_cast<int64_t>(clicked.size()));
        AppendInt(text, u + 1);
        text.push_back(',');
        AppendInt(text, model.ItemId(event.item));
        text.push_back(',');
        AppendInt(text, event.category + 1);
        text.push_back(',');
        AppendInt(text, event.timestamp);
        text.push_back(',');
        text.push_back(outcome.label ? '1' : '0');
        text.push_back(',');
        for (size_t h = clicked.size(); h-- > 0;) {
          AppendInt(text, model.ItemId(events[clicked[h]].item));
          if (h > 0)
            text.push_back(kListSeparator);
        }
        text.push_back(',');
        for (size_t h = clicked.size(); h-- > 0;) {
          AppendInt(text, events[clicked[h]].category + 1);
          if (h > 0)
            text.push_back(kListSeparator);
        }
        text.push_back('\n');
      }
      turns.Commit(chunk, [&] {
        events_file.Write(text);
        // x86-64 is little-endian, the documented byte order of the .f32 files.
        const size_t bytes = sizeof(float) * static_cast<size_t>(end - begin);
        truth_file.Write(truth.data() + begin, bytes);
        no_history_file.Write(no_history.data() + begin, bytes);
        longest_history = std::max(longest_history, longest);
      });
      progress.Advance(end - begin);
    } catch (...) {
      turns.Abort();
      throw;
    }
  });
  progress.Finish();
  const auto bytes = static_cast<int64_t>(events_file.size());
  events_file.Commit();
  truth_file.Commit();
  no_history_file.Commit();

  {
    std::string items = "item_id,cat_id\n";
    std::vector<int32_t> category_of_id(static_cast<size_t>(options_.items));
    for (int64_t i = 0; i < options_.items; ++i)
      category_of_id[model.ItemId(static_cast<int32_t>(i)) - 1] =
          model.Category(static_cast<int32_t>(i));
    for (int64_t id = 1; id <= options_.items; ++id) {
      AppendInt(items, id);
      items.push_back(',');
      AppendInt(items, category_of_id[id - 1] + 1);
      items.push_back('\n');
    }
    WriteFileAtomic(out_dir + "/" + kItemsName, items);
  }
  const TableSchema schema = SequenceEventsSchema();
  WriteFileAtomic(out_dir + "/" + kSchemaName,
                  "# The schema of events.csv, written by aiok datagen sequences. Ingest with\n"
                  "#   aiok etl --input DIR/events.csv --schema DIR/schema.yaml --preset sequences "
                  "--out DATASET\n" +
                      schema.ToYaml());

  nlohmann::json manifest;
  manifest["format_version"] = kFormatVersion;
  manifest["generator"] = "sequences";
  manifest["layout"] = "behaviour-log-csv";
  manifest["rows"] = rows;
  manifest["users"] = users;
  manifest["seed"] = ctx.seed;
  manifest["options"] = OptionsToJson(options_);
  manifest["files"] = {{"data", kEventsName},          {"items", kItemsName},
                       {"schema", kSchemaName},        {"truth", kTruthName},
                       {"no_history", kNoHistoryName}, {"data_bytes", bytes}};
  manifest["csv"] = {{"header", true},
                     {"delimiter", ","},
                     {"line_end", "\n"},
                     {"list_separator", std::string(1, kListSeparator)},
                     {"timestamp", "Unix seconds, UTC"}};
  manifest["label"] = "label";
  manifest["columns"] = schema.ToJson()["fields"];
  manifest["sequences"] = {
      {{"field", "hist_items"}, {"of", "item_id"}, {"longest", longest_history}},
      {{"field", "hist_cats"}, {"of", "cat_id"}, {"longest", longest_history}}};
  manifest["history"] =
      "hist_items/hist_cats: the user's clicked items and their categories before the row's "
      "impression, oldest first, at most max-history";
  manifest["ingest"] =
      "aiok etl --input DIR/events.csv --schema DIR/schema.yaml --preset sequences --out DATASET";
  manifest["truth_format"] = "float32 little-endian, one per row, row order";
  manifest["hidden_model"] = {
      {"description", "see src/aiok/data/sequence_click_model.h"},
      {"category_zipf", SequenceClickModel::kCategoryZipf},
      {"item_zipf", SequenceClickModel::kItemZipf},
      {"appeal_std", SequenceClickModel::kAppealStd},
      {"user_bias_std", SequenceClickModel::kUserBiasStd},
      {"favourites", {SequenceClickModel::kMinFavourites, SequenceClickModel::kMaxFavourites}},
      {"taste_spread", SequenceClickModel::kTasteSpread},
      {"focus_stay", SequenceClickModel::kFocusStay},
      {"show_focus", SequenceClickModel::kShowFocus},
      {"show_taste", SequenceClickModel::kShowTaste},
      {"focus_effect", SequenceClickModel::kFocusEffect},
      {"intercept", intercept}};
  manifest["positive_rate"] = PositiveRate(labels.data(), labels.size());
  manifest["bayes"] = BayesScores(truth, labels);
  manifest["no_history"] = ScoresBySplit(no_history, labels, kNoHistoryDefinition);
  manifest["history_filter"] = ScoresBySplit(history, labels, kHistoryDefinition);
  manifest["splits"] = SplitRule::Parse("kaggle").Describe() +
                       "; rows are in time order, so valid and test are every user's latest "
                       "impressions";
  WriteFileAtomic(manifest_path, manifest.dump(2) + "\n");

  GeneratorSummary summary;
  summary.rows = rows;
  summary.bytes = bytes;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.positive_rate = manifest["positive_rate"].get<double>();
  summary.bayes_auc = manifest["bayes"]["all"]["bayes_auc"].get<double>();
  summary.no_history_auc = manifest["no_history"]["all"]["auc"].get<double>();
  summary.data_file = events_path;
  return summary;
}

}  // namespace aiok::data
