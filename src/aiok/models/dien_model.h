// DIEN behind the Model interface (models/model.h), and its registry entry. Torch-free: the
// registry includes this to register the family; the model itself is in dien.h.
#pragma once

#include "aiok/models/model.h"

namespace aiok::models {

/// Registers "dien": options DienOptions, architecture DienArchitecture.
void RegisterDienModel(ModelRegistry& registry);

}  // namespace aiok::models
