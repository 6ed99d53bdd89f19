// Wide&Deep behind the Model interface (models/model.h), and its registry entry. Torch-free:
// the registry includes this to register the family; the model itself is in wide_deep.h.
#pragma once

#include "aiok/models/model.h"

namespace aiok::models {

/// Registers "wnd": options WideDeepOptions, architecture WideDeepArchitecture.
void RegisterWideDeepModel(ModelRegistry& registry);

}  // namespace aiok::models
