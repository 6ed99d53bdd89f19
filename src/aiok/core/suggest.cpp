#include "aiok/core/suggest.h"

#include <algorithm>
#include <cctype>

namespace aiok {

int NameDistance(const std::string& a, const std::string& b) {
  std::vector<int> previous(b.size() + 1);
  std::vector<int> current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    previous[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::vector<std::string> ClosestNames(const std::string& name, const std::vector<std::string>& known,
                                      size_t limit) {
  std::vector<std::pair<int, std::string>> scored;
  for (const std::string& candidate : known) {
    const int allowed = std::max<int>(2, static_cast<int>(std::max(name.size(), candidate.size())) / 3);
    const int distance = NameDistance(name, candidate);
    if (distance <= allowed)
      scored.emplace_back(distance, candidate);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> names;
  for (size_t i = 0; i < scored.size() && i < limit; ++i)
    names.push_back(scored[i].second);
  return names;
}

std::string DidYouMean(const std::string& name, const std::vector<std::string>& known) {
  const std::vector<std::string> closest = ClosestNames(name, known);
  if (closest.empty())
    return "";
  std::string text = "; did you mean ";
  for (size_t i = 0; i < closest.size(); ++i) {
    if (i > 0)
      text += i + 1 == closest.size() ? " or " : ", ";
    text += "'" + closest[i] + "'";
  }
  return text + "?";
}

}  // namespace aiok
