/* Prepare-time exponential table for int8 SOFTMAX (see the header): the same
 * gemmlowp arithmetic as the reference eval (softmax_s8.c), run once per
 * in-range difference instead of twice per element per inference. */
#include "fixed_point.h"
#include "softmax_s8.h"

#define SCALED_DIFF_INTEGER_BITS 5

uint32_t tml_softmax_s8_exp_table_count(const tml_softmax_params_t *params) {
  const int64_t span = 1 - (int64_t)params->diff_min; /* diff_min <= 0 */
  return span < 256 ? (uint32_t)span : 256u;
}

void tml_softmax_s8_prepare_exp_table(tml_softmax_params_t *params, int32_t *table) {
  const uint32_t count = tml_softmax_s8_exp_table_count(params);
  for (uint32_t k = 0; k < count; ++k) {
    const int32_t scaled = tml_multiply_by_quantized_multiplier_gt_one(-(int32_t)k, params->input_multiplier,
                                                                        params->input_left_shift);
    table[k] = tml_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
  }
  params->exp_table = table;
  params->exp_table_count = count;
}
