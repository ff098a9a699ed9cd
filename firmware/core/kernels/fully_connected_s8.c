/* Portable reference eval of int8 FULLY_CONNECTED (see the header). A port
 * for a specific core (ports/<core>/fully_connected_s8.c) replaces this file
 * in the build and is tested against it. */
#include "fully_connected_s8.h"

#include "fixed_point.h"

void tml_fully_connected_s8(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights,
                            const int32_t *folded_bias, int8_t *output) {
  const uint32_t n = params->input_size;
  const uint32_t step = params->per_channel ? 1u : 0u;
  const int32_t *multiplier = params->multipliers;
  const int32_t *shift = params->shifts;
  for (uint32_t c = 0; c < params->output_size; ++c) {
    const int8_t *x = input;
    int32_t acc = 0; /* |w * x| <= 127 * 128, times 65535 < 2^31: no overflow */
    uint32_t i = n;
    for (; i >= 4; i -= 4) {
      acc += weights[0] * x[0] + weights[1] * x[1] + weights[2] * x[2] + weights[3] * x[3];
      weights += 4;
      x += 4;
    }
    for (; i > 0; --i) acc += *weights++ * *x++;
    acc = tml_wrap_add(acc, folded_bias[c]);
    int32_t out = tml_multiply_by_quantized_multiplier(acc, *multiplier, *shift) + params->output_offset;
    multiplier += step;
    shift += step;
    if (out < params->activation_min) out = params->activation_min;
    if (out > params->activation_max) out = params->activation_max;
    output[c] = (int8_t)out;
  }
}
