// The study store: one SQLite file in WAL mode that holds a study's definition, every trial
// (parameters, state, intermediate values by step, final metrics, timings, host and pid, the
// path of its output) and the heartbeats of the tune processes working on it. Several tune
// processes may share one file: a trial is numbered and claimed inside one write transaction,
// and a configuration is unique per study (the database refuses a second copy).
//
// A tune process beats every second. A running trial whose process stopped beating (or, on
// this host, whose process is gone) is marked preempted by whoever looks next, and is run
// again by the next tune process that asks for work: a rerun of the same command resumes.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace aiok::tune {

/// Trial states as stored. Waiting trials are queued configurations; preempted trials lost
/// their process and will run again; the rest are final.
enum class TrialState { kWaiting, kRunning, kComplete, kPruned, kFailed, kPreempted };
const char* TrialStateName(TrialState state);
TrialState ParseTrialState(const std::string& name);
/// Complete, pruned or failed: the trial will not run again.
bool IsFinal(TrialState state);

/// One intermediate report of a running trial.
struct Report {
  int64_t step = 0;
  double progress = -1.0;  ///< fraction of the trial's planned work done, or -1 if unknown
  nlohmann::json metrics;  ///< flat metric map
};

struct TrialRecord {
  int64_t id = 0;
  int64_t number = 0;  ///< 0, 1, ... in the order trials were created
  TrialState state = TrialState::kWaiting;
  nlohmann::json params;   ///< the active parameters
  nlohmann::json metrics;  ///< the final flat metric map (complete and pruned trials)
  std::vector<double> values;  ///< objective values, in objective order (complete trials)
  double violation = 0.0;      ///< of the thresholds (0: feasible)
  int64_t attempts = 0;        ///< times the trial was started
  std::string host;
  int64_t pid = 0;        ///< the trial's own process
  int64_t worker_id = 0;  ///< the tune process that runs it
  std::string output_dir;
  double created = 0, started = 0, finished = 0;  ///< Unix seconds (0: not yet)
  std::string message;  ///< why it failed or was pruned
  std::vector<Report> reports;  ///< by step
};

/// What a study is: stored once, checked on every later open.
struct StudyDefinition {
  std::string name = "default";
  std::string target;  ///< "model:dlrm" or "command:<template>"
  nlohmann::json objectives;  ///< ["auc:max", ...]
  nlohmann::json thresholds;  ///< ["auc>=0.78", ...]
  nlohmann::json space;       ///< the space spec
  nlohmann::json extra;       ///< data, fixed flags, ...: shown in reports
};

class StudyStore {
 public:
  /// Opens (creating when absent) the store at `path`. Errors are kIo naming the path.
  explicit StudyStore(const std::string& path);
  ~StudyStore();
  StudyStore(const StudyStore&) = delete;
  StudyStore& operator=(const StudyStore&) = delete;

  const std::string& path() const { return path_; }

  /// Creates the study, or loads it when the file already holds one: its target and objectives
  /// must match (Error kConfig naming what differs: a study file from another model). A changed
  /// space or threshold is stored (narrowing a space mid-study is allowed). Returns the stored
  /// definition.
  StudyDefinition OpenStudy(const StudyDefinition& definition);
  /// The study in the file; Error kInvalidInput if it has none.
  StudyDefinition LoadStudy();

  /// Registers this process as a worker (host, pid) and returns its id.
  int64_t RegisterWorker();
  /// Records that `worker_id` is alive.
  void Heartbeat(int64_t worker_id);
  /// Marks running trials whose worker has not beaten for `grace_seconds` (or whose worker
  /// process on this host is gone) as preempted, except those of `self` (a live caller never
  /// takes its own trials away). Returns how many.
  int ReapStale(double grace_seconds, int64_t self = 0);

  /// Why a new trial could not be created.
  enum class AddResult { kAdded, kDuplicate, kFull };
  /// Creates trial `params` (its configuration key `key`) as running under `worker_id`, if the
  /// study has fewer than `max_trials` trials and no trial with that key. *out gets it.
  AddResult AddRunningTrial(const nlohmann::json& params, const std::string& key,
                            int64_t max_trials, int64_t worker_id, TrialRecord* out);
  /// Claims the oldest preempted trial for `worker_id` (now running, attempts + 1), if any.
  std::optional<TrialRecord> ClaimPreempted(int64_t worker_id);

  void SetTrialProcess(int64_t trial_id, int64_t pid, const std::string& output_dir);
  void AddReport(int64_t trial_id, const Report& report);
  /// Ends a trial that `worker_id` runs: complete, pruned, failed or preempted (the last runs
  /// again later). False (and nothing changed) when the trial is no longer that worker's
  /// (another process found it stale and took it over).
  bool FinishTrial(int64_t trial_id, int64_t worker_id, TrialState state,
                   const nlohmann::json& metrics, const std::vector<double>& values,
                   double violation, const std::string& message);

  /// Every trial, by number; with their reports when `with_reports`.
  std::vector<TrialRecord> Trials(bool with_reports) const;
  /// Trials counted against --trials: all but preempted ones that will run again are counted
  /// too (they are the same trial).
  int64_t CountTrials() const;

 private:
  void Execute(const std::string& sql) const;
  std::string path_;
  sqlite3* db_ = nullptr;
};

/// Unix time in seconds.
double UnixSeconds();
/// This machine's host name.
std::string HostName();

}  // namespace aiok::tune
