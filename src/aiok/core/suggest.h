// "Did you mean": the known names closest to a name that was not found, for error messages
// about unknown columns, fields, options and registry entries.
#pragma once

#include <string>
#include <vector>

namespace aiok {

/// Edit (Levenshtein) distance between two names, ignoring case.
int NameDistance(const std::string& a, const std::string& b);

/// The names of `known` closest to `name` (at most `limit`, nearest first), among those within
/// a distance of a third of the longer name (at least 2); empty when none is that close.
std::vector<std::string> ClosestNames(const std::string& name, const std::vector<std::string>& known,
                                      size_t limit = 3);

/// "; did you mean 'x' or 'y'?" for the closest names, or "" when there are none.
std::string DidYouMean(const std::string& name, const std::vector<std::string>& known);

}  // namespace aiok
