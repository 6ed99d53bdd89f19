#include "aiok/data/criteo_layout.h"

namespace aiok::data {

std::string CriteoDenseName(int index) { return "I" + std::to_string(index + 1); }
std::string CriteoCategoricalName(int index) { return "C" + std::to_string(index + 1); }

}  // namespace aiok::data
