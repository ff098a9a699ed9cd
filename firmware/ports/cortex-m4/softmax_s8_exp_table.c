/* Binds the Cortex-M4 softmax eval (softmax_s8.c here) to the exponential
 * table `tinyml export` writes beside the model array (see the header and
 * src/export/softmax-exp-table.ts): const data in flash, so no RAM and no
 * fixed-point exp code on the device. Replaces core/kernels/softmax_s8_exp_table.c.
 *
 * The table records the input multiplier and left shift it was computed for,
 * which determine every entry; they must equal what tml_softmax_s8_prepare
 * derived from the model being loaded, or the model is refused. */
#include "kernels/softmax_s8.h"

/* {input_multiplier, input_left_shift, count, exp[0] .. exp[count - 1]} (model_data.h). */
extern const int32_t g_model_softmax_exp[];

bool tml_softmax_s8_prepare_exp_table(tml_softmax_params_t *params) {
  const int32_t *table = g_model_softmax_exp;
  const int64_t span = 1 - (int64_t)params->diff_min; /* diff_min <= 0 */
  const uint32_t count = (uint32_t)table[2];
  if (table[0] != params->input_multiplier || table[1] != params->input_left_shift || count == 0 ||
      count > 256u || (int64_t)count > span) {
    return false;
  }
  params->exp_table = table + 3;
  params->exp_table_count = count;
  return true;
}
