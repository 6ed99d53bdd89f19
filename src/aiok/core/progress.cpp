#include "aiok/core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "aiok/core/log.h"

namespace aiok {
namespace {
using Clock = std::chrono::steady_clock;
// A terminal redraws often; a log file gets a line now and then so it stays readable.
constexpr auto kTerminalInterval = std::chrono::milliseconds(200);
constexpr auto kPlainInterval = std::chrono::seconds(10);
}  // namespace

std::string HumanCount(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e9)
    return fmt::format("{:.2f}G", value / 1e9);
  if (magnitude >= 1e6)
    return fmt::format("{:.2f}M", value / 1e6);
  if (magnitude >= 1e4)
    return fmt::format("{:.1f}k", value / 1e3);
  return fmt::format("{:.0f}", value);
}

std::string HumanSeconds(double seconds) {
  if (!std::isfinite(seconds))
    return "?";
  if (seconds < 60)
    return fmt::format("{:.1f}s", seconds);
  const auto whole = static_cast<int64_t>(seconds + 0.5);
  if (whole < 3600)
    return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      enabled_(CurrentVerbosity() != Verbosity::kQuiet),
      terminal_(isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_render_(start_) {}

Progress::~Progress() { Finish(); }

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void Progress::Advance(int64_t n) {
  count_.fetch_add(n, std::memory_order_relaxed);
  if (!enabled_)
    return;
  const auto now = Clock::now();
  if (now - last_render_ < (terminal_ ? kTerminalInterval : kPlainInterval))
    return;
  std::unique_lock<std::mutex> lock(render_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_)
    return;
  last_render_ = now;
  Render(false);
}

void Progress::SetDetail(std::string detail) {
  std::lock_guard<std::mutex> lock(detail_mutex_);
  detail_ = std::move(detail);
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(render_mutex_);
  if (finished_)
    return;
  finished_ = true;
  if (enabled_)
    Render(true);
}

void Progress::Render(bool final_line) {
  const double elapsed = ElapsedSeconds();
  const double done = static_cast<double>(count_.load());
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  std::string line = label_ + ": ";
  // A total can be an estimate (lines of a file not counted yet): once passed, only the count.
  if (total_ > 0 && !final_line && done < static_cast<double>(total_)) {
    const double eta = rate > 0 ? (static_cast<double>(total_) - done) / rate : NAN;
    line += fmt::format("{:5.1f}% {}/{} {}, {} {}/s, ETA {}", 100.0 * done / total_,
                        HumanCount(done), HumanCount(static_cast<double>(total_)), unit_,
                        HumanCount(rate), unit_, HumanSeconds(eta));
  } else {
    line += fmt::format("{} {}, {} {}/s, {}", HumanCount(done), unit_, HumanCount(rate), unit_,
                        HumanSeconds(elapsed));
  }
  {
    std::lock_guard<std::mutex> lock(detail_mutex_);
    if (!detail_.empty())
      line += ", " + detail_;
  }
  if (terminal_) {
    // \r and erase-to-end-of-line redraw in place; the final line ends it.
    std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace aiok
