// The Criteo Kaggle display-advertising layout (train.txt): one row per line, 40 TAB-separated
// fields — the label (0/1), 13 integer counts I1..I13 and 26 hashed categories C1..C26 written
// as 8 lowercase hex digits. A missing value is an empty field.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace aiok::data {

constexpr int kCriteoDense = 13;
constexpr int kCriteoCategorical = 26;
constexpr int kCriteoFields = 1 + kCriteoDense + kCriteoCategorical;

/// Distinct values per categorical column in the full Kaggle train.txt (45.8M rows).
constexpr std::array<int64_t, kCriteoCategorical> kCriteoCardinalities = {
    1460, 583,   10131227, 2202608, 305,  24,   12517, 633,     3,  93145, 5683,   8351593, 3194,
    27,   14992, 5461306,  10,      5652, 2173, 4,     7046547, 18, 15,    286181, 105,     142572};

/// Fraction of empty fields per integer column in the Kaggle data (rounded).
constexpr std::array<double, kCriteoDense> kCriteoDenseMissing = {
    0.454, 0.0, 0.215, 0.221, 0.026, 0.224, 0.043, 0.0005, 0.043, 0.454, 0.043, 0.766, 0.221};

/// Fraction of empty fields per categorical column in the Kaggle data (rounded).
constexpr std::array<double, kCriteoCategorical> kCriteoCategoricalMissing = {
    0.0, 0.0, 0.034, 0.034, 0.0, 0.121, 0.0,   0.0,   0.0,   0.0, 0.0,   0.034, 0.0,
    0.0, 0.0, 0.034, 0.0,   0.0, 0.440, 0.440, 0.034, 0.762, 0.0, 0.034, 0.440, 0.440};

/// "I1".."I13".
std::string CriteoDenseName(int index);
/// "C1".."C26".
std::string CriteoCategoricalName(int index);

}  // namespace aiok::data
