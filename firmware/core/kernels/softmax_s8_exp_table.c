/* Exponential table for the reference eval of int8 SOFTMAX (see the
 * header): none, since core/kernels/softmax_s8.c computes each exponential
 * with gemmlowp's arithmetic. The Cortex-M4 port replaces this file and binds
 * the table generated beside the model array. */
#include "softmax_s8.h"

#include <stddef.h>

bool tml_softmax_s8_prepare_exp_table(tml_softmax_params_t *params) {
  params->exp_table = NULL;
  params->exp_table_count = 0;
  return true;
}
