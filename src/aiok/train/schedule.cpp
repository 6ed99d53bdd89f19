#include "aiok/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"

namespace aiok::train {

double LearningRateFactor(const ScheduleOptions& o, int64_t step) {
  AIOK_CHECK(o.decay == "none" || o.decay == "linear" || o.decay == "cosine", ErrorKind::kConfig,
             "unknown decay '{}' (valid: none, linear, cosine)", o.decay);
  if (step < o.warmup_steps) {
    return static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  }
  if (o.decay == "none" || o.total_steps <= o.warmup_steps)
    return 1.0;
  const double progress = std::clamp(static_cast<double>(step - o.warmup_steps) /
                                         static_cast<double>(o.total_steps - o.warmup_steps),
                                     0.0, 1.0);
  const double shape =
      o.decay == "linear" ? 1.0 - progress : 0.5 * (1.0 + std::cos(M_PI * progress));
  return o.final_factor + (1.0 - o.final_factor) * shape;
}

}  // namespace aiok::train
