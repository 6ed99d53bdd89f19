// The dot product of two short float vectors, inlined where the interaction calls it hundreds
// of times per row.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace aiok::models {

/// <a, b> over d floats. The plain loop stays scalar (float sums may not be reordered without
/// -ffast-math); the common widths, 8 and 16, get AVX2 multiplies and a reduction.
inline float Dot(const float* a, const float* b, int64_t d) {
#if defined(__AVX2__) && defined(__FMA__)
  if (d == 16 || d == 8) {
    __m256 p = _mm256_mul_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b));
    if (d == 16)
      p = _mm256_fmadd_ps(_mm256_loadu_ps(a + 8), _mm256_loadu_ps(b + 8), p);
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(p), _mm256_extractf128_ps(p, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
  }
#endif
  float sum = 0.0f;
  for (int64_t k = 0; k < d; ++k)
    sum += a[k] * b[k];
  return sum;
}

}  // namespace aiok::models
