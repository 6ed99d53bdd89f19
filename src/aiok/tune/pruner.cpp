#include "aiok/tune/pruner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
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

// Asynchronous successive halving with reduction factor kEta. A trial is judged when its
// reports cross a rung: it continues only within the top 1/kEta of the trials (finished ones
// and itself) at that rung. `first_rung` is the first rung's progress (later ones at kEta
// times the one before, below the end); by step, the first report's step times
// kEta^first_rung_power. `peer` says which finished trials count (Hyperband: its bracket).
class SuccessiveHalving {
 public:
  static constexpr int kEta = 3;

  static PruneDecision Check(const PruneInput& in, double first_rung, int first_rung_power,
                             const std::function<bool(const TrialRecord&)>& peer,
                             const std::string& label) {
    const std::vector<Report>& r = in.trial->reports;
    const Objective* o = ReportedObjective(in);
    if (o == nullptr)
      return {};
    const bool by_progress = ByProgress(*in.trial);
    const double now = Position(r.back(), by_progress);
    const double before = r.size() >= 2 ? Position(r[r.size() - 2], by_progress) : -1.0;
    const double base = by_progress ? first_rung
                                    : Position(r.front(), false) * std::pow(kEta, first_rung_power);
    double rung = -1.0;
    for (double x = base; by_progress ? x < 0.99 : x <= now; x *= kEta)
      if (before < x && x <= now)
        rung = x;
    if (rung < 0)
      return {};
    std::vector<double> values;
    for (const TrialRecord& f : *in.finished) {
      if (f.reports.empty() || ByProgress(f) != by_progress ||
          Position(f.reports.back(), by_progress) < rung || !peer(f))
        continue;
      const double v = BestUpTo(f, o->metric, o->maximize, rung, by_progress);
      if (!std::isnan(v))
        values.push_back(v);
    }
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
    return {true, fmt::format("{} {:.5g} at rung {:.3g}{} is outside the top {} of {} trials "
                              "(cutoff {:.5g})", o->metric, mine, rung, label, keep,
                              values.size(), cutoff)};
  }
};

class AshaPruner final : public Pruner {
 public:
  PruneDecision Check(const PruneInput& in) override {
    return SuccessiveHalving::Check(in, 1.0 / 9.0, 0, [](const TrialRecord&) { return true; },
                                    "");
  }
};

class HyperbandPruner final : public Pruner {
 public:
  PruneDecision Check(const PruneInput& in) override {
    const int rungs = HyperbandRungs(in.trial->number);
    if (rungs == 0)
      return {};  // the bracket that runs every trial to the end
    const int skipped = kHyperbandMaxRungs - rungs;
    return SuccessiveHalving::Check(
        in, std::pow(1.0 / SuccessiveHalving::kEta, rungs), skipped,
        [rungs](const TrialRecord& f) { return HyperbandRungs(f.number) == rungs; },
        fmt::format(" (Hyperband bracket of {} rung{})", rungs, rungs == 1 ? "" : "s"));
  }
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

int HyperbandRungs(int64_t trial_number) {
  // Li et al.'s allocation: the bracket with s halvings starts ceil((s_max + 1) / (s + 1) *
  // eta^s) configurations per round (s_max = 3, eta = 3: 4, 6, 12, 27 of every 49).
  static const std::vector<int64_t> kCumulative = [] {
    std::vector<int64_t> c;
    int64_t total = 0;
    for (int s = 0; s <= kHyperbandMaxRungs; ++s) {
      total += static_cast<int64_t>(std::ceil((kHyperbandMaxRungs + 1.0) / (s + 1.0) *
                                              std::pow(SuccessiveHalving::kEta, s)));
      c.push_back(total);
    }
    return c;
  }();
  // Spread by a hash, so that consecutive trials land in different brackets.
  const int64_t slot = static_cast<int64_t>(
      Mix64(static_cast<uint64_t>(trial_number) + 0x9e3779b97f4a7c15ULL) %
      static_cast<uint64_t>(kCumulative.back()));
  for (int s = 0; s <= kHyperbandMaxRungs; ++s)
    if (slot < kCumulative[static_cast<size_t>(s)])
      return s;
  return kHyperbandMaxRungs;
}

std::vector<std::string> PrunerNames() {
  return {"none", "median", "asha", "hyperband", "pareto"};
}

std::string DefaultPruner(size_t objectives) { return objectives >= 2 ? "pareto" : "median"; }

std::unique_ptr<Pruner> MakePruner(const std::string& name) {
  if (name == "none")
    return std::make_unique<NoPruner>();
  if (name == "median")
    return std::make_unique<MedianPruner>();
  if (name == "asha")
    return std::make_unique<AshaPruner>();
  if (name == "hyperband")
    return std::make_unique<HyperbandPruner>();
  if (name == "pareto")
    return std::make_unique<ParetoPruner>();
  Throw(ErrorKind::kUsage, "--pruner: unknown pruner '{}' (valid: auto, {})", name,
        fmt::join(PrunerNames(), ", "));
}

}  // namespace aiok::tune
