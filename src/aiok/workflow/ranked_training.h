// The train stage of `aiok run --ranks N`: data-parallel training as `mpirun -np N aiok train`
// on this machine (train/distributed.h does the rest), with the run's train settings as flags.
//
// The child's output is copied to the run's stderr as it comes; a stop request on the run
// (SIGINT/SIGTERM) is passed to mpirun as SIGTERM, which ends every rank, and the checkpoint
// they left resumes on the next run as an in-process training's would (checkpoints count
// global batches, so any rank count resumes them). mpirun gets SIGTERM too when the run
// process dies without asking (PR_SET_PDEATHSIG), so no training outlives its run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/workflow/run_config.h"

namespace aiok::workflow {

/// Throws Error(kIo) naming the package to install when mpirun is not on PATH.
void CheckMpirunFound();

/// The mpirun command line that runs `command` as `ranks` ranks on this machine: loopback and
/// shared memory only, more ranks than cores allowed, no binding to cores (each rank is given
/// its share of the run's threads), as root when the run is root.
std::vector<std::string> MpirunCommandLine(int64_t ranks, const std::vector<std::string>& command);

/// Trains `config` on `dataset` into `dir` with `config.ranks` ranks at the global batch
/// `batch_size` (a multiple of the ranks), resuming `dir`/checkpoint when there is one. Each
/// rank gets ctx.threads / ranks threads. Throws Error: kCancelled when the run was asked to
/// stop; otherwise, when a rank fails, the kind and message the failing rank printed.
void TrainOnRanks(const RunConfig& config, int64_t batch_size, const std::string& dataset,
                  const std::string& dir, const RunContext& ctx);

}  // namespace aiok::workflow
