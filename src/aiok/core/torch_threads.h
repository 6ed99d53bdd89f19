// libtorch's side of --threads. Linked only by parts that use libtorch (library
// aiok_core_torch), so that aiok_core itself does not load libtorch.
#pragma once

namespace aiok {

/// Makes ApplyThreadSettings set libtorch's intra-op threads too (libtorch starts at 1 thread
/// here). Idempotent.
void UseTorchThreads();

}  // namespace aiok
