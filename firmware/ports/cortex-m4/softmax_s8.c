/* Table-driven eval of int8 SOFTMAX: replaces core/kernels/softmax_s8.c in the
 * Cortex-M build (same header, same results). The exponentials come from
 * params->exp_table (tml_softmax_s8_prepare_exp_table, required: the table
 * generated beside the model array, in flash), so eval is a max, a sum of
 * table entries, one GetReciprocal and one multiply per output. A difference
 * max - x at or past exp_table_count adds 0 and gives -128: past -diff_min as
 * the reference does, and below it only where the exponential is under 2^11,
 * whose contribution and output are the same 0 and -128 (softmax_s8.h). */
#include "kernels/fixed_point.h"
#include "kernels/softmax_s8.h"

#define ACCUMULATION_INTEGER_BITS 12

/* SaturatingRoundingDoublingHighMul for a, b >= 0 (INT32_MIN cannot occur):
 * gemmlowp's nudge then truncation equals floor((a*b + 2^30) / 2^31). */
static inline int32_t srdhm_nonneg(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}

void tml_softmax_s8(const tml_softmax_params_t *params, const int8_t *input, uint32_t depth, int8_t *output) {
  const int32_t *table = params->exp_table;
  const uint32_t count = params->exp_table_count;
  int32_t max_in_row = -128;
  for (uint32_t c = 0; c < depth; ++c) {
    if (input[c] > max_in_row) max_in_row = input[c];
  }

  /* Rescale<12>(e) of e >= 0 is RoundingDivideByPOT(e, 12) = (e + 2^11) >> 12,
   * in uint32 because e may be INT32_MAX. */
  uint32_t sum_of_exps = 0; /* Q12.19, wraps like the reference */
  for (uint32_t c = 0; c < depth; ++c) {
    const uint32_t k = (uint32_t)(max_in_row - input[c]);
    if (k < count) sum_of_exps += ((uint32_t)table[k] + 2048u) >> 12;
  }

  int num_bits_over_unit = 0;
  const int32_t shifted_scale =
      tml_get_reciprocal((int32_t)sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
  const int exponent = num_bits_over_unit + 31 - 8;

  for (uint32_t c = 0; c < depth; ++c) {
    const uint32_t k = (uint32_t)(max_in_row - input[c]);
    int32_t out = -128;
    if (k < count) {
      out = tml_rounding_divide_by_pot(srdhm_nonneg(shifted_scale, table[k]), exponent) - 128;
      if (out > 127) out = 127;
      if (out < -128) out = -128;
    }
    output[c] = (int8_t)out;
  }
}
