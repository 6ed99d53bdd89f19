#include "aiok/etl/categorical_operators.h"
#include "aiok/etl/dense_operators.h"
#include "aiok/etl/encoding_operators.h"
#include "aiok/etl/feature_operators.h"
#include "aiok/etl/time_operators.h"

namespace aiok::etl {

void RegisterBuiltinOperators(OperatorRegistry& registry) {
  RegisterOperator<FillMissing>(registry, "fill_missing");
  RegisterOperator<Clip>(registry, "clip");
  RegisterOperator<Log1p>(registry, "log1p");
  RegisterOperator<Normalize>(registry, "normalize");
  RegisterOperator<Categorify>(registry, "categorify");
  RegisterOperator<HashBucket>(registry, "hash_bucket");
  RegisterOperator<Bucketize>(registry, "bucketize");
  RegisterOperator<HashedCross>(registry, "hashed_cross");
  RegisterOperator<CountEncode>(registry, "count_encode");
  RegisterOperator<FrequencyEncode>(registry, "frequency_encode");
  RegisterOperator<TargetEncode>(registry, "target_encode");
  RegisterOperator<DatetimeParts>(registry, "datetime_parts");
}

}  // namespace aiok::etl
