#include "aiok/tune/pruner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/tune/pareto.h"

namespace aiok::tune {
namespace {

constexpr size_t kMinFinished = 5;  // trials to compare with before any pruning
constexpr double kWarmupProgress = 0.1;

// Compare by progress only when the trial and all compared trials report it.
bool ByProgress(const TrialRecord& t) {
  return !t.reports.empty() && t.reports.back().progress >= 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool Better(double a, double b, bool maximize) { return maximize ? a > b : a < b; }

// The first objective the trial reports, or nullptr.
const Objective* ReportedObjective(const PruneInput& in) {
  const nlohmann::json& last = in.trial->reports.back().metrics;
  for (const Objective& o : *in.objectives)
    if (last.contains(o.metric))
      return &o;
  return nullptr;
}

// Finished trials that reached `position`, with their best value there.
std::vector<double> PeersAt(const PruneInput& in, const Objective& o, double position,
                            bool by_progress) {
  std::vector<double> values;
  for (const TrialRecord& f : *in.finished) {
    if (f.reports.empty() || ByProgress(f) != by_progress ||
        Position(f.reports.back(), by_progress) < position)
      continue;
    const double v = BestUpTo(f, o.metric, o.maximize, position, by_progress);
    if (!std::isnan(v))
      values.push_back(v);
  }
  return values;
}

class NoPruner final : public Pruner {
 public:
  PruneDecision Check(const PruneInput&) override { return {}; }
};

class MedianPruner final : public Pruner {
 public:
  PruneDecision Check(const PruneInput& in) override {
    if (in.trial->reports.size() < 2)
      return {};
    const Objective* o = ReportedObjective(in);
    if (o == nullptr)
      return {};
    const bool by_progress = ByProgress(*in.trial);
    const double at = Position(in.trial->reports.back(), by_progress);
    if (by_progress && at < kWarmupProgress)
      return {};
    const std::vector<double> peers = PeersAt(in, *o, at, by_progress);
    if (peers.size() < kMinFinished)
      return {};
    const double mine = BestUpTo(*in.trial, o->metric, o->maximize, at, by_progress);
    const double median = Median(peers);
    if (!Better(median, mine, o->maximize))
      return {};
    return {true, fmt::format("{} {:.5g} at {} {:.3g} is worse than the median {:.5g} of {} "
                              "finished trials", o->metric, mine,
                              by_progress ? "progress" : "step", at, median, peers.size())};
  }
};

class AshaPruner final : public Pruner {
 public:
  PruneDecision Check(const PruneInput& in) override {
    const std::vector<Report>& r = in.trial->reports;
    const Objective* o = ReportedObjective(in);
    if (o == nullptr)
      return {};
    const bool by_progress = ByProgress(*in.trial);
    const double now = Position(r.back(), by_progress);
    const double before = r.size() >= 2 ? Position(r[r.size() - 2], by_progress) : -1.0;
    // Rungs: by progress 1/9 and 1/3; by step, the first report's step times 3^k.
    const double base = by_progress ? 1.0 / 9.0 : Position(r.front(), false);
    double rung = -1.0;
    for (double x = base; by_progress ? x < 0.99 : x <= now; x *= kEta)
      if (before < x && x <= now)
        rung = x;
    if (rung < 0)
      return {};
    std::vector<double> values = PeersAt(in, *o, rung, by_progress);
    const double mine = BestUpTo(*in.trial, o->metric, o->maximize, rung, by_progress);
    values.push_back(mine);
    if (values.size() < static_cast<size_t>(kEta) + 1)
      return {};
    std::sort(values.begin(), values.end(),
              [&](double a, double b) { return Better(a, b, o->maximize); });
    const size_t keep = std::max<size_t>(1, values.size() / kEta);
    const double cutoff = values[keep - 1];
    if (!Better(cutoff, mine, o->maximize))
      return {};
    return {true, fmt::format("{} {:.5g} at rung {:.3g} is outside the top {} of {} trials "
                              "(cutoff {:.5g})", o->metric, mine, rung, keep, values.size(),
                              cutoff)};
  }

 private:
  static constexpr int kEta = 3;
};

bool TimeLike(const std::string& metric) {
  return metric.find("seconds") != std::string::npos || metric == "steps" ||
         metric == "samples";
}

class ParetoPruner final : public Pruner {
 public:
  PruneDecision Check(const PruneInput& in) override {
    const TrialRecord& t = *in.trial;
    if (t.reports.size() < 2 || !ByProgress(t))
      return {};  // projecting to the end needs to know where the end is
    const Report& last = t.reports.back();
    const double at = last.progress;
    if (at < 0.2 || at >= 1.0)
      return {};
    // Complete trials that reached this point: the reference for gains and for dominance.
    std::vector<const TrialRecord*> reference;
    for (const TrialRecord& f : *in.finished)
      if (f.state == TrialState::kComplete && !f.values.empty() && ByProgress(f) &&
          !f.reports.empty() && f.reports.back().progress >= at)
        reference.push_back(&f);
    if (reference.size() < 3)
      return {};
    auto project = [&](const std::string& metric, bool maximize, double* out) {
      if (!last.metrics.contains(metric))
        return false;
      if (TimeLike(metric)) {
        *out = last.metrics[metric].get<double>() / at;
        return true;
      }
      std::vector<double> gains;
      for (const TrialRecord* f : reference) {
        const double then = BestUpTo(*f, metric, maximize, at, true);
        if (f->metrics.contains(metric) && !std::isnan(then))
          gains.push_back(f->metrics[metric].get<double>() - then);
      }
      if (gains.size() < 3)
        return false;
      *out = BestUpTo(t, metric, maximize, at, true) + Median(gains);
      return true;
    };
    // Thresholds first: a projection that misses one cannot count.
    for (const Threshold& th : *in.thresholds) {
      double v = 0;
      if (project(th.metric, th.at_least, &v) && (th.at_least ? v < th.value : v > th.value))
        return {true, fmt::format("projected {} {:.5g} misses the threshold {}", th.metric, v,
                                  th.ToString())};
    }
    ScoredPoint projected;
    std::vector<std::string> shown;
    for (size_t j = 0; j < in.objectives->size(); ++j) {
      const Objective& o = (*in.objectives)[j];
      double v = 0;
      if (!project(o.metric, o.maximize, &v)) {
        // Not projectable: assume the best any reference trial reached (optimistic), so only
        // the projectable objectives can condemn the trial.
        v = reference.front()->values[j];
        for (const TrialRecord* f : reference)
          v = o.maximize ? std::max(v, f->values[j]) : std::min(v, f->values[j]);
      } else {
        shown.push_back(fmt::format("{} {:.5g}", o.metric, v));
      }
      projected.values.push_back(o.maximize ? -v : v);
    }
    if (shown.empty())
      return {};
    for (const TrialRecord* f : reference) {
      if (f->violation > 0)
        continue;
      ScoredPoint final_point{Minimized(*in.objectives, f->values), 0.0};
      if (Dominates(final_point, projected))
        return {true, fmt::format("projected ({}) at progress {:.2f} is dominated by trial {}",
                                  fmt::join(shown, ", "), at, f->number)};
    }
    return {};
  }
};

}  // namespace

double Position(const Report& report, bool by_progress) {
  return by_progress ? report.progress : static_cast<double>(report.step);
}

double BestUpTo(const TrialRecord& trial, const std::string& metric, bool maximize,
                double position, bool by_progress) {
  double best = NAN;
  for (const Report& r : trial.reports) {
    if (Position(r, by_progress) > position + 1e-9)
      break;
    if (!r.metrics.contains(metric) || !r.metrics[metric].is_number())
      continue;
    const double v = r.metrics[metric].get<double>();
    if (std::isnan(best) || Better(v, best, maximize))
      best = v;
  }
  return best;
}

std::vector<std::string> PrunerNames() { return {"none", "median", "asha", "pareto"}; }

std::string DefaultPruner(size_t objectives) { return objectives >= 2 ? "pareto" : "median"; }

std::unique_ptr<Pruner> MakePruner(const std::string& name) {
  if (name == "none")
    return std::make_unique<NoPruner>();
  if (name == "median")
    return std::make_unique<MedianPruner>();
  if (name == "asha")
    return std::make_unique<AshaPruner>();
  if (name == "pareto")
    return std::make_unique<ParetoPruner>();
  Throw(ErrorKind::kUsage, "--pruner: unknown pruner '{}' (valid: auto, {})", name,
        fmt::join(PrunerNames(), ", "));
}

}  // namespace aiok::tune
