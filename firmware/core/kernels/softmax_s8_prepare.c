/* Prepare-time parameters for tml_softmax_s8 (see the header). */
#include <math.h>

#include "exact_f64.h"
#include "fixed_point.h"
#include "softmax_s8.h"

#define SCALED_DIFF_INTEGER_BITS 5

bool tml_softmax_s8_prepare(float input_scale, float beta, tml_softmax_params_t *params) {
  /* min(double(beta) * double(input_scale) * 2^26, 2^31 - 1): the product of two
   * floats is exact in double, and * 2^26 adds 26 to its exponent. */
  const tml_f64_t max_real = 0x41DFFFFFFFC00000ull; /* (1LL << 31) - 1.0 */
  /* Where the double product would be NaN, zero or negative, it is not > 1. */
  if (isnan(beta) || isnan(input_scale) || beta == 0.0f || input_scale == 0.0f || (beta < 0.0f) != (input_scale < 0.0f)) {
    return false;
  }
  tml_f64_t real = max_real; /* an infinite factor: clamped */
  if (!isinf(beta) && !isinf(input_scale)) {
    real = tml_f64_mul_f32(fabsf(beta), fabsf(input_scale)) + ((uint64_t)(31 - SCALED_DIFF_INTEGER_BITS) << 52);
  }
  if (real > max_real) real = max_real;
  int32_t multiplier = 0;
  int left_shift = 0;
  if (!tml_quantize_multiplier_gt_one(tml_f64_value(real), &multiplier, &left_shift)) return false;
  /* CalculateInputRadius(5, left_shift, 31): floor((2^5 - 1) * 2^26 / 2^left_shift),
   * exact in double, so an integer shift (left_shift in [0, 31]) gives the same. */
  const int32_t radius = (int32_t)((((int64_t)1 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS) >> left_shift);
  params->input_multiplier = multiplier;
  params->input_left_shift = left_shift;
  params->diff_min = -radius;
  params->exp_table = 0;
  params->exp_table_count = 0;
  return true;
}
