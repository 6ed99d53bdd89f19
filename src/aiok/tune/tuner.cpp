#include "aiok/tune/tuner.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "aiok/core/error.h"
#include "aiok/tune/pruner.h"
#include "aiok/tune/sampler.h"
#include "aiok/tune/trial_process.h"

namespace aiok::tune {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Pruned trials rank behind every complete one: they are the sampler's bad examples.
constexpr double kPrunedViolation = 1e6;

// Beats for this process on its own connection, so a slow main loop never looks dead.
class HeartbeatThread {
 public:
  HeartbeatThread(const std::string& path, int64_t worker, double seconds)
      : thread_([this, path, worker, seconds] {
          StudyStore store(path);
          std::unique_lock<std::mutex> lock(mutex_);
          while (!stop_) {
            lock.unlock();
            try {
              store.Heartbeat(worker);
            } catch (const Error& e) {
              spdlog::warn("tune: heartbeat: {}", e.what());
            }
            lock.lock();
            wake_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stop_; });
          }
        }) {}
  ~HeartbeatThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// A trial this process runs.
struct Running {
  TrialRecord trial;
  TrialLaunch launch;
  std::string dir;
  std::unique_ptr<TrialProcess> process;
  size_t curve_bytes = 0;  ///< of the curve file already read
  // Why we stopped it, if we did.
  enum class Stop { kNone, kPruned, kPreempted } stop = Stop::kNone;
  std::string stop_reason;
  Clock::time_point stop_sent;
};

std::string TrialDirName(int64_t number) { return fmt::format("trial-{:04d}", number); }

// New complete lines of the curve file since the last read.
std::vector<Report> ReadNewReports(Running& r) {
  std::vector<Report> out;
  if (r.launch.curve_file.empty())
    return out;
  std::ifstream in(r.launch.curve_file, std::ios::binary);
  if (!in)
    return out;
  in.seekg(static_cast<std::streamoff>(r.curve_bytes));
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  for (size_t nl; (nl = chunk.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = chunk.substr(start, nl - start);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object())
      continue;  // a trial's garbage line does not stop the study
    Report report;
    report.metrics = r.launch.train_format ? TrainCurveMetrics(j) : j;
    report.step = j.value("step", static_cast<int64_t>(r.trial.reports.size() + out.size()));
    report.progress = j.contains("progress") && j["progress"].is_number()
                          ? j["progress"].get<double>()
                          : -1.0;
    out.push_back(std::move(report));
  }
  r.curve_bytes += start;
  return out;
}

}  // namespace

History BuildHistory(const SearchSpace& space, const std::vector<TrialRecord>& trials,
                     const std::vector<Objective>& objectives) {
  History h;
  h.objectives = objectives.size();
  for (const TrialRecord& t : trials) {
    if (t.state == TrialState::kRunning) {
      h.pending.push_back(space.Encode(t.params));
      continue;
    }
    const bool complete = t.state == TrialState::kComplete && t.values.size() == objectives.size();
    if (!complete && t.state != TrialState::kPruned)
      continue;
    ScoredPoint score;
    if (complete) {
      score.values = Minimized(objectives, t.values);
      score.violation = t.violation;
    } else {
      score.values.assign(objectives.size(), 0.0);
      score.violation = kPrunedViolation;
    }
    h.points.push_back(space.Encode(t.params));
    h.scores.push_back(std::move(score));
    h.numbers.push_back(t.number);
    h.pruned.push_back(complete ? 0 : 1);
  }
  return h;
}

Tuner::Tuner(std::string study_path, TunerOptions options, SearchSpace space,
             LaunchBuilder launch, RunContext ctx)
    : study_path_(std::move(study_path)),
      options_(std::move(options)),
      space_(std::move(space)),
      launch_(std::move(launch)),
      ctx_(ctx) {}

TuneSummary Tuner::Run() {
  StudyStore store(study_path_);
  const int64_t worker = store.RegisterWorker();
  HeartbeatThread heartbeat(study_path_, worker, options_.heartbeat_seconds);
  fs::create_directories(options_.out_dir);

  TuneSummary summary;
  std::tie(summary.sampler, summary.sampler_reason) =
      options_.sampler == "auto"
          ? DefaultSampler(options_.trials, options_.objectives.size(), space_.dims())
          : std::make_pair(options_.sampler, std::string("chosen with --sampler"));
  summary.pruner =
      options_.pruner == "auto" ? DefaultPruner(options_.objectives.size()) : options_.pruner;
  const std::unique_ptr<Sampler> sampler = BuiltinSamplers().Create(summary.sampler);
  const std::unique_ptr<Pruner> pruner = MakePruner(summary.pruner);

  const auto start = Clock::now();
  const bool has_budget = options_.budget_minutes > 0;
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options_.budget_minutes * 60));
  std::map<int64_t, Running> running;  // by trial id
  bool launching = true;
  std::string fatal;  // a study-level error found while finishing a trial
  auto last_reap = Clock::now() - std::chrono::hours(1);

  auto stop = [&](Running& r, Running::Stop why, const std::string& reason) {
    if (r.stop != Running::Stop::kNone)
      return;
    r.stop = why;
    r.stop_reason = reason;
    r.stop_sent = Clock::now();
    r.process->Signal(SIGTERM);
  };

  auto start_trial = [&](TrialRecord trial) {
    Running r;
    r.dir = (fs::path(options_.out_dir) / TrialDirName(trial.number)).string();
    // A preempted trial starts over: what its last attempt left is not its result.
    fs::remove_all(r.dir);
    fs::create_directories(r.dir);
    r.launch = launch_(trial, space_.ToOptions(trial.params), r.dir);
    r.process = std::make_unique<TrialProcess>(r.launch.argv, r.dir + "/log.txt");
    store.SetTrialProcess(trial.id, r.process->pid(), r.dir);
    spdlog::info("tune: trial {} started{}: {}", trial.number,
                 trial.attempts > 1 ? fmt::format(" (attempt {})", trial.attempts) : "",
                 trial.params.dump());
    ++summary.started;
    r.trial = std::move(trial);
    const int64_t id = r.trial.id;
    running.emplace(id, std::move(r));
  };

  // A new configuration, or false when the study is full or nothing unseen is left.
  auto launch_new = [&]() -> bool {
    const std::vector<TrialRecord> trials = store.Trials(false);
    if (static_cast<int64_t>(trials.size()) >= options_.trials) {
      summary.study_full = true;
      return false;
    }
    const History history = BuildHistory(space_, trials, options_.objectives);
    SuggestRequest request;
    request.space = &space_;
    request.history = &history;
    request.trial_number = static_cast<int64_t>(trials.size());
    request.seed = ctx_.seed;
    for (int attempt = 0; attempt < 200; ++attempt) {
      request.attempt = attempt;
      const nlohmann::json params = space_.Decode(sampler->Suggest(request));
      TrialRecord trial;
      switch (store.AddRunningTrial(params, SearchSpace::Key(params), options_.trials, worker,
                                    &trial)) {
        case StudyStore::AddResult::kAdded:
          start_trial(std::move(trial));
          return true;
        case StudyStore::AddResult::kFull:
          summary.study_full = true;
          return false;
        case StudyStore::AddResult::kDuplicate:
          continue;
      }
    }
    summary.space_exhausted = true;
    spdlog::warn("tune: 200 proposals were all configurations the study has seen; the space "
                 "looks exhausted");
    return false;
  };

  auto finish = [&](Running& r, const ExitStatus& status) {
    TrialState state = TrialState::kFailed;
    nlohmann::json metrics;
    std::vector<double> values;
    double violation = 0.0;
    std::string message;
    ExitStatus exit = status;
    // A shell that runs the trial command as its child reports the child's SIGKILL as exit
    // code 137; it is the same preemption.
    if (exit.signal == 0 && exit.code == 128 + SIGKILL)
      exit = {0, SIGKILL};
    const std::string where = exit.signal ? fmt::format("killed by signal {}", exit.signal)
                                          : fmt::format("exit code {}", exit.code);
    if (r.stop == Running::Stop::kPruned) {
      state = TrialState::kPruned;
      if (!r.trial.reports.empty())
        metrics = r.trial.reports.back().metrics;
      message = r.stop_reason;
    } else if (r.stop == Running::Stop::kPreempted) {
      state = TrialState::kPreempted;
      message = r.stop_reason;
    } else if (exit.signal != 0) {
      // Killed from outside (OOM killer, kill -9): the configuration is not at fault, so it
      // runs again, a few times at most.
      state = r.trial.attempts < options_.max_attempts ? TrialState::kPreempted
                                                       : TrialState::kFailed;
      message = where;
    } else if (exit.code != 0) {
      message = fmt::format("{}: {}", where, LastLine(r.dir + "/log.txt"));
    } else {
      nlohmann::json raw;
      try {
        std::ifstream in(r.launch.metrics_file);
        raw = nlohmann::json::parse(in);
      } catch (const std::exception& e) {
        raw = nlohmann::json();
      }
      if (!raw.is_object()) {
        message = fmt::format("exited 0 but '{}' is missing or not a JSON object",
                              r.launch.metrics_file);
      } else {
        metrics = r.launch.train_format ? TrainMetrics(raw) : raw;
        std::string missing;
        if (auto v = ObjectiveValues(options_.objectives, metrics, &missing)) {
          state = TrialState::kComplete;
          values = *v;
          violation = Violation(options_.thresholds, metrics);
        } else {
          std::vector<std::string> reported;
          for (const auto& [key, value] : metrics.items())
            if (value.is_number())
              reported.push_back(key);
          message = fmt::format("objective '{}' is not among the metrics the trial reports "
                                "({}); see --objectives", missing, fmt::join(reported, ", "));
          fatal = message;
        }
      }
    }
    if (!store.FinishTrial(r.trial.id, worker, state, metrics, values, violation, message)) {
      spdlog::warn("tune: trial {} was taken over by another process", r.trial.number);
      return;
    }
    switch (state) {
      case TrialState::kComplete:
        ++summary.complete;
        spdlog::info("tune: trial {} complete: {}{}", r.trial.number, nlohmann::json(values).dump(),
                     violation > 0 ? " (misses a threshold)" : "");
        break;
      case TrialState::kPruned:
        ++summary.pruned;
        spdlog::info("tune: trial {} pruned: {}", r.trial.number, message);
        break;
      case TrialState::kPreempted:
        ++summary.preempted;
        spdlog::info("tune: trial {} preempted ({}); it will run again", r.trial.number, message);
        break;
      default:
        ++summary.failed;
        spdlog::warn("tune: trial {} failed: {}", r.trial.number, message);
        // Five failures and no success: the command or the data is broken, not the trials.
        if (summary.failed >= 5 && summary.complete == 0 && fatal.empty())
          fatal = fmt::format("the first {} trials all failed; the last: {} (log: {}/log.txt)",
                              summary.failed, message, r.dir);
    }
  };

  for (;;) {
    // 1. Trials that ended.
    for (auto it = running.begin(); it != running.end();) {
      Running& r = it->second;
      if (const auto status = r.process->Poll()) {
        for (Report& rep : ReadNewReports(r)) {
          store.AddReport(r.trial.id, rep);
          r.trial.reports.push_back(std::move(rep));
        }
        finish(r, *status);
        it = running.erase(it);
        continue;
      }
      if (r.stop != Running::Stop::kNone &&
          Clock::now() - r.stop_sent >
              std::chrono::duration<double>(options_.stop_grace_seconds))
        r.process->Signal(SIGKILL);
      ++it;
    }
    if (!fatal.empty()) {
      for (auto& [id, r] : running)
        stop(r, Running::Stop::kPreempted, "the study stopped: " + fatal);
      if (running.empty())
        Throw(summary.complete == 0 && summary.failed >= 5 ? ErrorKind::kInvalidInput
                                                             : ErrorKind::kConfig,
              "{}", fatal);
    }
    // 2. Reports of running trials, and pruning.
    bool have_finished = false;
    std::vector<TrialRecord> finished;
    for (auto& [id, r] : running) {
      std::vector<Report> fresh = ReadNewReports(r);
      if (fresh.empty() || r.stop != Running::Stop::kNone)
        continue;
      for (Report& rep : fresh) {
        store.AddReport(r.trial.id, rep);
        r.trial.reports.push_back(std::move(rep));
      }
      if (!have_finished) {
        for (TrialRecord& t : store.Trials(true))
          if (t.state == TrialState::kComplete || t.state == TrialState::kPruned)
            finished.push_back(std::move(t));
        have_finished = true;
      }
      const PruneDecision d = pruner->Check(
          {&r.trial, &finished, &options_.objectives, &options_.thresholds});
      if (d.prune)
        stop(r, Running::Stop::kPruned, d.reason);
    }
    // 3. Budget and cancellation.
    const bool cancelled = ctx_.cancel != nullptr && ctx_.cancel->cancelled();
    if ((has_budget && Clock::now() >= deadline) || cancelled) {
      if (launching && has_budget && !cancelled) {
        summary.budget_reached = true;
        spdlog::info("tune: the budget of {} minutes is spent; stopping", options_.budget_minutes);
      }
      launching = false;
      for (auto& [id, r] : running)
        stop(r, Running::Stop::kPreempted, cancelled ? "interrupted" : "the budget ran out");
    }
    // 4. Trials of dead processes, then new work.
    if (Clock::now() - last_reap > std::chrono::seconds(1)) {
      if (const int n = store.ReapStale(options_.stale_seconds, worker))
        spdlog::info("tune: {} trial(s) of a stopped tune process marked preempted", n);
      last_reap = Clock::now();
    }
    while (launching && fatal.empty() && static_cast<int64_t>(running.size()) < options_.workers) {
      if (std::optional<TrialRecord> again = store.ClaimPreempted(worker)) {
        start_trial(std::move(*again));
        continue;
      }
      if (!launch_new()) {
        // Another process's trials may still be preempted later; only a full, final study
        // or an exhausted space ends the launching.
        launching = false;
      }
    }
    if (running.empty()) {
      if (cancelled)
        Throw(ErrorKind::kCancelled, "tune: interrupted; rerun the same command to resume");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return summary;
}

}  // namespace aiok::tune
