// Learning-rate schedules: linear warmup from zero, then constant, linear or cosine decay to
// a fraction of the peak. A factor of the peak rate, per step.
#pragma once

#include <cstdint>
#include <string>

namespace aiok::train {

struct ScheduleOptions {
  int64_t warmup_steps = 0;
  std::string decay = "none";  ///< "none", "linear", "cosine"
  int64_t total_steps = 0;     ///< decay ends here
  double final_factor = 0.0;   ///< factor reached at total_steps
};

/// The factor of the peak learning rate at `step` (0-based).
double LearningRateFactor(const ScheduleOptions& options, int64_t step);

}  // namespace aiok::train
