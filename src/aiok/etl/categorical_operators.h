// Operators that turn categorical values into dense ids for embedding tables.
#pragma once

#include <string>
#include <vector>

#include "aiok/etl/operator_base.h"
#include "aiok/etl/value_dictionary.h"

namespace aiok::etl {

/// Ids that Categorify reserves.
constexpr int64_t kMissingId = 0;  ///< the field was empty
constexpr int64_t kRareId = 1;     ///< below the threshold, cut by max_size, or unseen in fit
constexpr int64_t kFirstVocabularyId = 2;

struct CategorifyOptions {
  int64_t freq_threshold = 1;
  int64_t max_size = 0;
  std::string vocabulary;
  template <typename V>
  void Visit(V& v) {
    v.Int("freq_threshold", &freq_threshold, 1, kNoIntLimit,
          "values seen fewer times in fit map to the rare id");
    v.Int("max_size", &max_size, 0, kNoIntLimit,
          "keep at most this many most frequent values (0: no limit)");
    v.Text("vocabulary", &vocabulary, {},
           "share the dictionary of this other categorify field, fitted over both (a "
           "behaviour history and its target item: the same id for the same item)");
  }
};

/// Maps values to ids by frequency: 0 = missing, 1 = rare or unseen, 2.. = the vocabulary in
/// descending training frequency, ties broken by ascending value.
class Categorify final : public OperatorWithOptions<CategorifyOptions> {
 public:
  const char* name() const override { return "categorify"; }
  ColumnKind kind() const override { return ColumnKind::kCategorical; }
  bool needs_fit() const override { return true; }
  void FitCategorical(const int64_t* values, size_t n) override;
  void FinishFit() override;
  void TransformCategorical(const int64_t* values, size_t n, int64_t* ids) const override;
  bool supports_codes() const override { return true; }
  void FitEncode(const int64_t* values, size_t n, size_t train_rows, int32_t* codes) override;
  void MapCodes(const int32_t* codes, size_t n, int32_t* ids) const override;
  void UncountCodes(const int32_t* codes, size_t n) override;
  const std::vector<int64_t>& CodeValues() const override { return seen_.values(); }
  int64_t cardinality() const override {
    return kFirstVocabularyId + static_cast<int64_t>(vocabulary_.size());
  }
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

  /// The vocabulary in id order (id = kFirstVocabularyId + index) and training counts.
  const std::vector<int64_t>& vocabulary() const { return vocabulary_; }

 private:
  void BuildLookup();

  // While fitting: every value met (train or not) by code, and its train count one place up
  // (seen_counts_[code + 1]): the first place counts the missing values (code -1), so that
  // the loops need no branch for them. Which rows are missing is random; a mispredicted
  // branch cost more than the count.
  ValueDictionary seen_;
  std::vector<int64_t> seen_counts_;
  // After fitting: id of each code of seen_ (for MapCodes), one place up like the counts, in
  // 16 bits too when every id fits:
  // the tables of the large columns then stay in L2 while MapCodes looks codes up at random.
  std::vector<int32_t> code_ids_;
  std::vector<uint16_t> narrow_code_ids_;
  std::vector<int64_t> vocabulary_;
  std::vector<int64_t> vocabulary_counts_;
  // Vocabulary value -> its index (id - kFirstVocabularyId).
  ValueDictionary lookup_;
  bool fitted_ = false;
};

struct HashBucketOptions {
  int64_t buckets = 1000000;
  template <typename V>
  void Visit(V& v) {
    v.Int("buckets", &buckets, 1, int64_t{1} << 40, "number of hash buckets");
  }
};

/// Maps values to 1 + hash(value) mod buckets, missing to 0. Needs no fit.
class HashBucket final : public OperatorWithOptions<HashBucketOptions> {
 public:
  const char* name() const override { return "hash_bucket"; }
  ColumnKind kind() const override { return ColumnKind::kCategorical; }
  bool needs_fit() const override { return false; }
  void TransformCategorical(const int64_t* values, size_t n, int64_t* ids) const override;
  int64_t cardinality() const override { return options_.buckets + 1; }
};

}  // namespace aiok::etl
