/* Binds the Cortex-M4 softmax eval (softmax_s8.c here) to the exponential
 * table `tinyml export` writes beside the model array (see the header and
 * src/export/softmax-exp-table.ts): const data in flash, so no RAM and no
 * fixed-point exp code on the device. Replaces core/kernels/softmax_s8_exp_table.c.
 *
 * Each table records the input multiplier and left shift it was computed for,
 * which determine every entry; the one bound is the one whose multiplier and
 * shift equal what tml_softmax_s8_prepare derived from the model being
 * loaded, and without one the model is refused. The firmware's array holds
 * its model's table; a program that loads models at run time (the golden
 * runner) is built with the tables of all it will load. */
#include "kernels/softmax_s8.h"

/* Tables {input_multiplier, input_left_shift, count, exp[0] .. exp[count - 1]},
 * one after the other, ended by {0, 0, 0} (model_data.h). */
extern const int32_t g_model_softmax_exp[];

bool tml_softmax_s8_prepare_exp_table(tml_softmax_params_t *params) {
  const int64_t span = 1 - (int64_t)params->diff_min; /* diff_min <= 0 */
  uint32_t count;
  for (const int32_t *t = g_model_softmax_exp; (count = (uint32_t)t[2]) != 0u; t += 3u + count) {
    if (t[0] == params->input_multiplier && t[1] == params->input_left_shift) {
      if (count > 256u || (int64_t)count > span) return false;
      params->exp_table = t + 3;
      params->exp_table_count = count;
      return true;
    }
  }
  return false;
}
