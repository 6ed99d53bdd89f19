#include "aiok/tune/study_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <map>

#include "aiok/core/error.h"

namespace aiok::tune {
namespace {

// One prepared statement; throws Error(kIo) with SQLite's message on failure.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      Throw(ErrorKind::kIo, "study store: {} (in: {})", sqlite3_errmsg(db), sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& Bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  /// True while there is a row.
  bool Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
      return true;
    if (rc == SQLITE_DONE)
      return false;
    last_error_ = rc;
    Throw(ErrorKind::kIo, "study store: {}", sqlite3_errmsg(db_));
  }
  /// Steps, reporting a constraint violation as false instead of an error.
  bool StepUnlessConstraint() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
      return true;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
      return false;
    Throw(ErrorKind::kIo, "study store: {}", sqlite3_errmsg(db_));
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int last_error_ = 0;
};

// BEGIN IMMEDIATE takes the write lock up front, so a read-then-insert (numbering a trial,
// checking the trial budget) cannot interleave with another process's.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) { Run("BEGIN IMMEDIATE"); }
  ~WriteTransaction() {
    if (!done_)
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void Commit() {
    Run("COMMIT");
    done_ = true;
  }

 private:
  void Run(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : "unknown";
      sqlite3_free(error);
      Throw(ErrorKind::kIo, "study store: {}: {}", sql, message);
    }
  }
  sqlite3* db_;
  bool done_ = false;
};

nlohmann::json ParseJsonColumn(const std::string& text) {
  if (text.empty())
    return nlohmann::json();
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

constexpr const char* kTrialColumns =
    "id, number, state, params, metrics, objective_values, violation, attempts, host, pid, "
    "worker_id, output_dir, created, started, finished, message";

TrialRecord ReadTrial(const Statement& s) {
  TrialRecord t;
  t.id = s.Int(0);
  t.number = s.Int(1);
  t.state = ParseTrialState(s.Text(2));
  t.params = ParseJsonColumn(s.Text(3));
  t.metrics = ParseJsonColumn(s.Text(4));
  const nlohmann::json values = ParseJsonColumn(s.Text(5));
  if (values.is_array())
    for (const nlohmann::json& v : values)
      t.values.push_back(v.is_number() ? v.get<double>() : NAN);
  t.violation = s.Real(6);
  t.attempts = s.Int(7);
  t.host = s.Text(8);
  t.pid = s.Int(9);
  t.worker_id = s.Int(10);
  t.output_dir = s.Text(11);
  t.created = s.Real(12);
  t.started = s.Real(13);
  t.finished = s.Real(14);
  t.message = s.Text(15);
  return t;
}

}  // namespace

const char* TrialStateName(TrialState state) {
  switch (state) {
    case TrialState::kWaiting:
      return "waiting";
    case TrialState::kRunning:
      return "running";
    case TrialState::kComplete:
      return "complete";
    case TrialState::kPruned:
      return "pruned";
    case TrialState::kFailed:
      return "failed";
    case TrialState::kPreempted:
      return "preempted";
  }
  return "?";
}

TrialState ParseTrialState(const std::string& name) {
  for (TrialState s : {TrialState::kWaiting, TrialState::kRunning, TrialState::kComplete,
                       TrialState::kPruned, TrialState::kFailed, TrialState::kPreempted})
    if (name == TrialStateName(s))
      return s;
  Throw(ErrorKind::kInvalidInput, "study store: unknown trial state '{}'", name);
}

bool IsFinal(TrialState state) {
  return state == TrialState::kComplete || state == TrialState::kPruned ||
         state == TrialState::kFailed;
}

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

StudyStore::StudyStore(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    Throw(ErrorKind::kIo, "cannot open study '{}': {}", path, message);
  }
  // Another process may hold the write lock for a moment; wait rather than fail.
  sqlite3_busy_timeout(db_, 30000);
  try {
    Execute("PRAGMA journal_mode=WAL");
    // NORMAL in WAL mode loses at most the last transactions on power loss, never integrity.
    Execute("PRAGMA synchronous=NORMAL");
    Execute(
        "CREATE TABLE IF NOT EXISTS studies(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
        "definition TEXT NOT NULL, created REAL NOT NULL)");
    Execute(
        "CREATE TABLE IF NOT EXISTS workers(id INTEGER PRIMARY KEY, host TEXT NOT NULL, "
        "pid INTEGER NOT NULL, started REAL NOT NULL, heartbeat REAL NOT NULL)");
    Execute(
        "CREATE TABLE IF NOT EXISTS trials(id INTEGER PRIMARY KEY, number INTEGER UNIQUE NOT "
        "NULL, state TEXT NOT NULL, params TEXT NOT NULL, param_key TEXT UNIQUE NOT NULL, "
        "metrics TEXT, objective_values TEXT, violation REAL DEFAULT 0, attempts INTEGER "
        "DEFAULT 0, host TEXT, pid INTEGER DEFAULT 0, worker_id INTEGER DEFAULT 0, output_dir "
        "TEXT, created REAL, started REAL DEFAULT 0, finished REAL DEFAULT 0, message TEXT)");
    Execute(
        "CREATE TABLE IF NOT EXISTS reports(trial_id INTEGER NOT NULL, step INTEGER NOT NULL, "
        "progress REAL, metrics TEXT NOT NULL, PRIMARY KEY(trial_id, step))");
  } catch (Error& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw e.AddContext("opening study '" + path + "'");
  }
}

StudyStore::~StudyStore() { sqlite3_close(db_); }

void StudyStore::Execute(const std::string& sql) const {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown";
    sqlite3_free(error);
    Throw(ErrorKind::kIo, "study '{}': {} (file is not a study database?)", path_, message);
  }
}

StudyDefinition StudyStore::OpenStudy(const StudyDefinition& definition) {
  WriteTransaction tx(db_);
  Statement find(db_, "SELECT definition FROM studies ORDER BY id LIMIT 1");
  const nlohmann::json wanted = {{"name", definition.name},
                                 {"target", definition.target},
                                 {"objectives", definition.objectives},
                                 {"thresholds", definition.thresholds},
                                 {"space", definition.space},
                                 {"extra", definition.extra}};
  if (find.Step()) {
    const nlohmann::json stored = ParseJsonColumn(find.Text(0));
    AIOK_CHECK(stored.is_object(), ErrorKind::kInvalidInput,
               "study '{}': the stored definition does not parse", path_);
    AIOK_CHECK(stored["target"] == wanted["target"], ErrorKind::kConfig,
               "study '{}' is a study of {}, not of {}; use another --study file", path_,
               stored["target"].get<std::string>(), definition.target);
    AIOK_CHECK(stored["objectives"] == wanted["objectives"], ErrorKind::kConfig,
               "study '{}' optimizes {}, not {}; use another --study file", path_,
               stored["objectives"].dump(), wanted["objectives"].dump());
    if (stored != wanted) {
      Statement update(db_, "UPDATE studies SET definition = ?1");
      update.Bind(1, wanted.dump()).Step();
    }
  } else {
    Statement insert(db_, "INSERT INTO studies(name, definition, created) VALUES(?1, ?2, ?3)");
    insert.Bind(1, definition.name).Bind(2, wanted.dump()).Bind(3, UnixSeconds()).Step();
  }
  tx.Commit();
  return definition;
}

StudyDefinition StudyStore::LoadStudy() {
  Statement find(db_, "SELECT definition FROM studies ORDER BY id LIMIT 1");
  AIOK_CHECK(find.Step(), ErrorKind::kInvalidInput, "'{}' holds no study", path_);
  const nlohmann::json j = ParseJsonColumn(find.Text(0));
  StudyDefinition d;
  d.name = j.value("name", "default");
  d.target = j.value("target", "");
  d.objectives = j.value("objectives", nlohmann::json::array());
  d.thresholds = j.value("thresholds", nlohmann::json::array());
  d.space = j.value("space", nlohmann::json::object());
  d.extra = j.value("extra", nlohmann::json::object());
  return d;
}

int64_t StudyStore::RegisterWorker() {
  const double now = UnixSeconds();
  Statement s(db_, "INSERT INTO workers(host, pid, started, heartbeat) VALUES(?1, ?2, ?3, ?3)");
  s.Bind(1, HostName()).Bind(2, static_cast<int64_t>(::getpid())).Bind(3, now).Step();
  return sqlite3_last_insert_rowid(db_);
}

void StudyStore::Heartbeat(int64_t worker_id) {
  Statement s(db_, "UPDATE workers SET heartbeat = ?1 WHERE id = ?2");
  s.Bind(1, UnixSeconds()).Bind(2, worker_id).Step();
}

int StudyStore::ReapStale(double grace_seconds, int64_t self) {
  const double now = UnixSeconds();
  const std::string host = HostName();
  WriteTransaction tx(db_);
  Statement running(db_,
                    "SELECT t.id, w.host, w.pid, COALESCE(w.heartbeat, 0) FROM trials t LEFT JOIN "
                    "workers w ON t.worker_id = w.id WHERE t.state = 'running' AND "
                    "t.worker_id != ?1");
  running.Bind(1, self);
  std::vector<int64_t> stale;
  while (running.Step()) {
    const bool silent = now - running.Real(3) > grace_seconds;
    // On this host a vanished worker is certain at once; elsewhere only silence tells.
    const pid_t pid = static_cast<pid_t>(running.Int(2));
    const bool gone = running.Text(1) == host && pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
    if (silent || gone)
      stale.push_back(running.Int(0));
  }
  for (int64_t id : stale) {
    Statement mark(db_,
                   "UPDATE trials SET state = 'preempted', finished = ?2, message = "
                   "'its tune process stopped beating' WHERE id = ?1 AND state = 'running'");
    mark.Bind(1, id).Bind(2, now).Step();
    Statement clear(db_, "DELETE FROM reports WHERE trial_id = ?1");
    clear.Bind(1, id).Step();
  }
  tx.Commit();
  return static_cast<int>(stale.size());
}

StudyStore::AddResult StudyStore::AddRunningTrial(const nlohmann::json& params,
                                                  const std::string& key, int64_t max_trials,
                                                  int64_t worker_id, TrialRecord* out) {
  WriteTransaction tx(db_);
  Statement count(db_, "SELECT COUNT(*), COALESCE(MAX(number), -1) FROM trials");
  count.Step();
  if (count.Int(0) >= max_trials)
    return AddResult::kFull;
  const int64_t number = count.Int(1) + 1;
  const double now = UnixSeconds();
  Statement insert(db_,
                   "INSERT INTO trials(number, state, params, param_key, attempts, host, "
                   "worker_id, created, started) VALUES(?1, 'running', ?2, ?3, 1, ?4, ?5, ?6, ?6)");
  insert.Bind(1, number).Bind(2, params.dump()).Bind(3, key).Bind(4, HostName());
  insert.Bind(5, worker_id).Bind(6, now);
  if (!insert.StepUnlessConstraint())
    return AddResult::kDuplicate;
  const int64_t id = sqlite3_last_insert_rowid(db_);
  tx.Commit();
  out->id = id;
  out->number = number;
  out->state = TrialState::kRunning;
  out->params = params;
  out->attempts = 1;
  out->host = HostName();
  out->worker_id = worker_id;
  out->created = out->started = now;
  return AddResult::kAdded;
}

std::optional<TrialRecord> StudyStore::ClaimPreempted(int64_t worker_id) {
  WriteTransaction tx(db_);
  Statement find(db_, std::string("SELECT ") + kTrialColumns +
                          " FROM trials WHERE state = 'preempted' ORDER BY number LIMIT 1");
  if (!find.Step())
    return std::nullopt;
  TrialRecord t = ReadTrial(find);
  const double now = UnixSeconds();
  Statement claim(db_,
                  "UPDATE trials SET state = 'running', attempts = attempts + 1, worker_id = ?2, "
                  "host = ?3, started = ?4, finished = 0, pid = 0 WHERE id = ?1");
  claim.Bind(1, t.id).Bind(2, worker_id).Bind(3, HostName()).Bind(4, now).Step();
  tx.Commit();
  t.state = TrialState::kRunning;
  t.attempts += 1;
  t.worker_id = worker_id;
  t.host = HostName();
  t.started = now;
  return t;
}

void StudyStore::SetTrialProcess(int64_t trial_id, int64_t pid, const std::string& output_dir) {
  Statement s(db_, "UPDATE trials SET pid = ?2, output_dir = ?3 WHERE id = ?1");
  s.Bind(1, trial_id).Bind(2, pid).Bind(3, output_dir).Step();
}

void StudyStore::AddReport(int64_t trial_id, const Report& report) {
  Statement s(db_,
              "INSERT OR REPLACE INTO reports(trial_id, step, progress, metrics) "
              "VALUES(?1, ?2, ?3, ?4)");
  s.Bind(1, trial_id).Bind(2, report.step).Bind(3, report.progress);
  s.Bind(4, report.metrics.dump()).Step();
}

bool StudyStore::FinishTrial(int64_t trial_id, int64_t worker_id, TrialState state,
                             const nlohmann::json& metrics, const std::vector<double>& values,
                             double violation, const std::string& message) {
  WriteTransaction tx(db_);
  Statement s(db_,
              "UPDATE trials SET state = ?2, metrics = ?3, objective_values = ?4, violation = ?5, "
              "finished = ?6, message = ?7 WHERE id = ?1 AND worker_id = ?8 AND "
              "state = 'running'");
  s.Bind(1, trial_id).Bind(2, std::string(TrialStateName(state)));
  s.Bind(3, metrics.is_null() ? std::string() : metrics.dump());
  s.Bind(4, nlohmann::json(values).dump()).Bind(5, violation).Bind(6, UnixSeconds());
  s.Bind(7, message).Bind(8, worker_id).Step();
  if (sqlite3_changes(db_) == 0)
    return false;
  if (state == TrialState::kPreempted) {
    // The rerun reports from its start again.
    Statement clear(db_, "DELETE FROM reports WHERE trial_id = ?1");
    clear.Bind(1, trial_id).Step();
  }
  tx.Commit();
  return true;
}

std::vector<TrialRecord> StudyStore::Trials(bool with_reports) const {
  std::vector<TrialRecord> trials;
  std::map<int64_t, size_t> by_id;
  {
    Statement s(db_, std::string("SELECT ") + kTrialColumns + " FROM trials ORDER BY number");
    while (s.Step()) {
      by_id[s.Int(0)] = trials.size();
      trials.push_back(ReadTrial(s));
    }
  }
  if (with_reports) {
    Statement s(db_, "SELECT trial_id, step, progress, metrics FROM reports ORDER BY trial_id, step");
    while (s.Step()) {
      auto it = by_id.find(s.Int(0));
      if (it == by_id.end())
        continue;
      trials[it->second].reports.push_back({s.Int(1), s.Real(2), ParseJsonColumn(s.Text(3))});
    }
  }
  return trials;
}

int64_t StudyStore::CountTrials() const {
  Statement s(db_, "SELECT COUNT(*) FROM trials");
  s.Step();
  return s.Int(0);
}

}  // namespace aiok::tune
