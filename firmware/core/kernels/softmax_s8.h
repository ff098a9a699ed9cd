/* int8 -> int8 SOFTMAX over one row, bit-exact with TFLM's reference kernel
 * (reference/softmax.h, Softmax<int8_t, int8_t>: gemmlowp fixed point, Q5.26
 * diffs, Q12.19 sum, GetReciprocal) and with src/reference/softmax.ts. CMSIS-NN
 * arm_softmax_s8 performs the same integer operations.
 * Output quantization is fixed: scale 1/256, zero point -128. */
#ifndef TINYML_KERNELS_SOFTMAX_S8_H
#define TINYML_KERNELS_SOFTMAX_S8_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t input_multiplier;  /* Q0.31, [2^30, 2^31 - 1] */
  int32_t input_left_shift;  /* [0, 31] */
  int32_t diff_min;          /* <= 0: inputs further than this below the row max give -128 */
  /* exp_table[k] = exp_on_negative_values(MultiplyByQuantizedMultiplierGreaterThanOne(-k)),
   * Q0.31, for k = 0 .. exp_table_count - 1 <= min(256, 1 - diff_min) - 1:
   * the in-range int8 differences from the row max, less trailing entries below
   * 2^11 (each adds 0 to the sum and gives -128, as an out-of-range difference
   * does). Set by tml_softmax_s8_prepare_exp_table: NULL for the reference
   * eval, which computes its exponentials; a port may require it. */
  const int32_t *exp_table;
  uint32_t exp_table_count;
} tml_softmax_params_t;

/* Prepare (once per model), as softmax_common.cc CalculateSoftmaxParams:
 * PreprocessSoftmaxScaling(beta, input_scale, 5) (in double, clamped to
 * 2^31 - 1) then QuantizeMultiplierGreaterThanOne, and diff_min =
 * -CalculateInputRadius(5, left_shift). Returns false when beta * input_scale *
 * 2^26 is not > 1 (TFLM's prepare would fail too). */
bool tml_softmax_s8_prepare(float input_scale, float beta, tml_softmax_params_t *params);

/* Prepare (once per model, after tml_softmax_s8_prepare): points params at
 * the exponential table the eval of this build reads, if it reads one. The
 * reference eval (core/kernels/softmax_s8.c) reads none: this sets NULL and
 * returns true. The Cortex-M4 port reads the tables generated beside the model
 * array (g_model_softmax_exp, model_data.cc: flash, not RAM;
 * src/export/softmax-exp-table.ts) and returns false when none was computed
 * for params' multiplier and shift, or it is longer than min(256, 1 - diff_min):
 * no table that belongs to the model. */
bool tml_softmax_s8_prepare_exp_table(tml_softmax_params_t *params);

/* Eval: input and output hold `depth` (>= 1) int8 values and must not overlap
 * (the input is read twice). */
void tml_softmax_s8(const tml_softmax_params_t *params, const int8_t *input, uint32_t depth, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif
