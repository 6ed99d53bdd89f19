#include "aiok/core/torch_threads.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <omp.h>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"

namespace aiok {
namespace {

TEST(ApplyThreadSettings, SetsLibtorchAndOpenMpThreads) {
  UseTorchThreads();
  ApplyThreadSettings(2);
  EXPECT_EQ(at::get_num_threads(), 2);
  EXPECT_EQ(omp_get_max_threads(), 2);
  ApplyThreadSettings(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_THROW(ApplyThreadSettings(0), Error);
}

}  // namespace
}  // namespace aiok
