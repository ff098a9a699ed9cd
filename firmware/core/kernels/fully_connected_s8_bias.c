/* Portable reference eval of int8 FULLY_CONNECTED with the model's bias and
 * the input offset applied per product, as TFLM's reference FullyConnected
 * does (see the header). A port (ports/<core>/fully_connected_s8_bias.c)
 * replaces this file in the build and is tested against it. */
#include <stddef.h>

#include "fixed_point.h"
#include "fully_connected_s8.h"

void tml_fully_connected_s8_bias(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights,
                                 const int32_t *bias, int8_t *output) {
  const uint32_t n = params->input_size;
  const uint32_t step = params->per_channel ? 1u : 0u;
  const int32_t input_offset = params->input_offset;
  const int32_t *multiplier = params->multipliers;
  const int32_t *shift = params->shifts;
  for (uint32_t c = 0; c < params->output_size; ++c) {
    uint32_t acc = bias != NULL ? (uint32_t)bias[c] : 0u; /* uint32: wraps like TFLM's int32 accumulator */
    for (uint32_t i = 0; i < n; ++i) acc += (uint32_t)(*weights++ * (input[i] + input_offset));
    int32_t out = tml_multiply_by_quantized_multiplier((int32_t)acc, *multiplier, *shift) + params->output_offset;
    multiplier += step;
    shift += step;
    if (out < params->activation_min) out = params->activation_min;
    if (out > params->activation_max) out = params->activation_max;
    output[c] = (int8_t)out;
  }
}
