/* Prepare-time parameters for tml_softmax_s8 (see the header). */
#include "fixed_point.h"
#include "softmax_s8.h"

#define SCALED_DIFF_INTEGER_BITS 5

bool tml_softmax_s8_prepare(float input_scale, float beta, tml_softmax_params_t *params) {
  const double max_real = 2147483647.0; /* (1LL << 31) - 1.0 */
  double real = (double)beta * (double)input_scale * (double)(1LL << (31 - SCALED_DIFF_INTEGER_BITS));
  if (real > max_real) real = max_real;
  int32_t multiplier = 0;
  int left_shift = 0;
  if (!tml_quantize_multiplier_gt_one(real, &multiplier, &left_shift)) return false;
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
