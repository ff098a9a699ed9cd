/* Prepare-time multipliers for tml_fully_connected_s8 (see the header). */
#include <math.h>
#include <string.h>

#include "exact_f64.h"
#include "fixed_point.h"
#include "fully_connected_s8.h"

static float read_f32_le(const void *base, uint32_t index) {
  const uint8_t *p = (const uint8_t *)base + 4u * index;
  const uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

bool tml_fully_connected_s8_multiplier(const tml_fc_quant_t *quant, uint32_t channel, int32_t *multiplier,
                                       int *shift) {
  const float weight_scale = read_f32_le(quant->weight_scales, channel);
  /* Scales are positive and finite (the reader checks), so the doubles below
   * are too; exact_f64.h rounds them as double arithmetic does. */
  tml_f64_t product;
  if (quant->weight_scale_count > 1) {
    product = tml_f64_mul_f32(quant->input_scale, weight_scale);
  } else {
    /* GetQuantizedConvolutionMultipler: the product is taken in float, which may overflow. */
    const float p = quant->input_scale * weight_scale;
    if (isinf(p)) return false;
    product = tml_f64_from_f32(p);
  }
  const tml_f64_t real = tml_f64_div(product, tml_f64_from_f32(quant->output_scale));
  return tml_quantize_multiplier(tml_f64_value(real), multiplier, shift) && *shift <= TML_FC_MAX_SHIFT;
}

bool tml_fully_connected_s8_prepare(const tml_fc_quant_t *quant, uint16_t input_size, uint16_t output_size,
                                    int32_t *multipliers, int32_t *shifts, tml_fc_params_t *params) {
  const bool per_channel = quant->weight_scale_count > 1;
  for (uint32_t c = 0; c < quant->weight_scale_count; ++c) {
    int shift = 0;
    if (!tml_fully_connected_s8_multiplier(quant, c, &multipliers[c], &shift)) return false;
    shifts[c] = shift;
  }
  params->input_size = input_size;
  params->output_size = output_size;
  params->input_offset = -quant->input_zero_point;
  params->output_offset = quant->output_zero_point;
  /* CalculateActivationRangeQuantized: Quantize(0.0f) is the zero point. */
  params->activation_min = quant->relu ? (quant->output_zero_point > -128 ? quant->output_zero_point : -128) : -128;
  params->activation_max = 127;
  params->multipliers = multipliers;
  params->shifts = shifts;
  params->per_channel = per_channel;
  return true;
}
