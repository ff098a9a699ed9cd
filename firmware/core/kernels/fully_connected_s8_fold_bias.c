/* Prepare-time kernel sums for tml_fully_connected_s8 (see the header). */
#include <stddef.h>

#include "fully_connected_s8.h"

void tml_fully_connected_s8_fold_bias(const int8_t *weights, const int32_t *bias, int32_t input_zero_point,
                                      uint16_t input_size, uint16_t output_size, int32_t *folded_bias) {
  const uint32_t input_offset = (uint32_t)-input_zero_point;
  for (uint32_t c = 0; c < output_size; ++c) {
    int32_t row_sum = 0; /* |sum| <= 127 * 65535: no overflow */
    for (uint32_t i = 0; i < input_size; ++i) row_sum += *weights++;
    const uint32_t b = bias != NULL ? (uint32_t)bias[c] : 0u;
    folded_bias[c] = (int32_t)(b + input_offset * (uint32_t)row_sum); /* wraps like TFLM's int32 acc */
  }
}
