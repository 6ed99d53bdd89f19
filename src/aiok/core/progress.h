// A progress display for long work: count, rate and ETA on stderr. On a terminal it redraws
// one line; otherwise (logs, CI) it prints a plain line every few seconds. Silent when quiet.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace aiok {

class Progress {
 public:
  /// `label` names the work ("datagen"), `total` is the expected count (0 when unknown) and
  /// `unit` what is counted ("rows").
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();

  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Adds `n` to the count; may redraw. Safe to call from several threads.
  void Advance(int64_t n);

  /// Extra text shown after the rate ("loss 0.4512, valid AUC 0.7801"). Thread-safe.
  void SetDetail(std::string detail);

  /// Prints the final line (count, elapsed time, rate). Called by the destructor if not before.
  void Finish();

  int64_t count() const { return count_.load(); }
  double ElapsedSeconds() const;

 private:
  void Render(bool final_line);

  std::string label_;
  int64_t total_;
  std::string unit_;
  bool enabled_;
  bool terminal_;
  bool finished_ = false;
  std::atomic<int64_t> count_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_render_;
  std::mutex render_mutex_;
  std::mutex detail_mutex_;
  std::string detail_;
};

/// "1.23M", "456k", "789": a count with an SI suffix.
std::string HumanCount(double value);

/// "1m05s", "12.3s": a duration for people.
std::string HumanSeconds(double seconds);

}  // namespace aiok
