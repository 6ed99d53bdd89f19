#include "aiok/etl/categorical_operators.h"
#include "aiok/etl/dense_operators.h"
#include "aiok/etl/feature_operators.h"

namespace aiok::etl {

void RegisterBuiltinOperators(OperatorRegistry& registry) {
  registry.Register("fill_missing", MakeOperator<FillMissing>);
  registry.Register("clip", MakeOperator<Clip>);
  registry.Register("log1p", MakeOperator<Log1p>);
  registry.Register("normalize", MakeOperator<Normalize>);
  registry.Register("categorify", MakeOperator<Categorify>);
  registry.Register("hash_bucket", MakeOperator<HashBucket>);
  registry.Register("bucketize", MakeOperator<Bucketize>);
  registry.Register("hashed_cross", MakeOperator<HashedCross>);
}

}  // namespace aiok::etl
