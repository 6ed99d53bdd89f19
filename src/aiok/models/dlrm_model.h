// DLRM behind the Model interface (models/model.h), and its registry entry. Torch-free: the
// registry includes this to register the family; the model itself is in dlrm.h.
#pragma once

#include "aiok/models/model.h"

namespace aiok::models {

/// Registers "dlrm": options DlrmOptions, architecture DlrmArchitecture (models/dlrm.h).
void RegisterDlrmModel(ModelRegistry& registry);

}  // namespace aiok::models
