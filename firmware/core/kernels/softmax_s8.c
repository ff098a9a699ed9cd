/* Eval of int8 SOFTMAX over one row (see the header). */
#include "softmax_s8.h"

#include "fixed_point.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

void tml_softmax_s8(const tml_softmax_params_t *params, const int8_t *input, uint32_t depth, int8_t *output) {
  int32_t max_in_row = -128;
  for (uint32_t c = 0; c < depth; ++c) {
    if (input[c] > max_in_row) max_in_row = input[c];
  }

  int32_t sum_of_exps = 0; /* Q12.19 */
  for (uint32_t c = 0; c < depth; ++c) {
    const int32_t diff = input[c] - max_in_row;
    if (diff >= params->diff_min) {
      const int32_t scaled = tml_multiply_by_quantized_multiplier_gt_one(diff, params->input_multiplier,
                                                                          params->input_left_shift);
      const int32_t e = tml_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
      sum_of_exps = tml_wrap_add(sum_of_exps, tml_rescale(e, 0, ACCUMULATION_INTEGER_BITS));
    }
  }

  int num_bits_over_unit = 0;
  const int32_t shifted_scale = tml_get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
  const int exponent = num_bits_over_unit + 31 - 8;

  for (uint32_t c = 0; c < depth; ++c) {
    const int32_t diff = input[c] - max_in_row;
    int32_t out = -128;
    if (diff >= params->diff_min) {
      const int32_t scaled = tml_multiply_by_quantized_multiplier_gt_one(diff, params->input_multiplier,
                                                                          params->input_left_shift);
      const int32_t e = tml_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
      out = tml_rounding_divide_by_pot(tml_srdhm(shifted_scale, e), exponent) - 128;
      if (out > 127) out = 127;
      if (out < -128) out = -128;
    }
    output[c] = (int8_t)out;
  }
}
