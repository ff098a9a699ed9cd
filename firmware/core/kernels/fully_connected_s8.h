/* int8 FULLY_CONNECTED for one input row, bit-exact with TFLM's reference
 * kernels (reference/integer_ops/fully_connected.h: FullyConnected and
 * FullyConnectedPerChannel) and with src/reference/fully-connected.ts.
 *
 * Split as CMSIS-NN does: prepare-time functions turn the model's float scales
 * into fixed-point multipliers and fold the input offset into the bias (the
 * "kernel sums"), so the eval loop is a plain int8 x int8 dot product with an
 * int32 accumulator:
 *
 *   acc[c]  = folded_bias[c] + sum_i w[c][i] * x[i]            (int32, wrapping)
 *   out[c]  = clamp(MultiplyByQuantizedMultiplier(acc[c], m[c], s[c]) + output_offset,
 *                   activation_min, activation_max)
 *   folded_bias[c] = bias[c] + input_offset * sum_i w[c][i]
 *
 * which equals TFLM's bias[c] + sum_i w[c][i] * (x[i] + input_offset) modulo
 * 2^32, i.e. exactly, since TFLM's int32 accumulator wraps the same way. */
#ifndef TINYML_KERNELS_FULLY_CONNECTED_S8_H
#define TINYML_KERNELS_FULLY_CONNECTED_S8_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Quantization of one layer as the model stores it (all float32). */
typedef struct {
  float input_scale;            /* > 0 */
  int32_t input_zero_point;     /* [-128, 127] */
  const void *weight_scales;    /* little-endian float32[weight_scale_count], any alignment, each > 0 */
  uint16_t weight_scale_count;  /* 1 (per-tensor) or output_size (per-channel) */
  float output_scale;           /* > 0 */
  int32_t output_zero_point;    /* [-128, 127] */
  bool relu;                    /* fused RELU: clamp at max(-128, output_zero_point) */
} tml_fc_quant_t;

/* What the eval loop needs; filled by tml_fully_connected_s8_prepare(). */
typedef struct {
  uint16_t input_size;          /* 1..65535 */
  uint16_t output_size;         /* 1..65535 */
  int32_t input_offset;         /* -input zero point, [-127, 128] */
  int32_t output_offset;        /* output zero point, [-128, 127] */
  int32_t activation_min;       /* [-128, 127], <= activation_max */
  int32_t activation_max;       /* [-128, 127] */
  const int32_t *multipliers;   /* Q0.31 in [2^30, 2^31 - 1] or 0; output_size entries if per_channel, else 1 */
  const int32_t *shifts;        /* [-31, 30]; positive = left shift; same count as multipliers */
  bool per_channel;
} tml_fc_params_t;

/* Largest requantization shift: TFLM's MultiplyByQuantizedMultiplier requires
 * shift in [-31, 30] (x * (1 << 31) overflows), so a real multiplier of 2^30 or
 * more is refused at prepare time (see TML_MAX_FC_SHIFT in model.h). */
#define TML_FC_MAX_SHIFT 30

/* QuantizeMultiplier of the real multiplier of output channel `channel` (see
 * prepare below). Returns false when it is not finite or its shift exceeds
 * TML_FC_MAX_SHIFT; the model reader calls it to refuse such models at load. */
bool tml_fully_connected_s8_multiplier(const tml_fc_quant_t *quant, uint32_t channel, int32_t *multiplier,
                                       int *shift);

/* Prepare (once per model): QuantizeMultiplier of the real multiplier of each
 * channel, computed exactly as TFLM's CalculateOpDataFullyConnected does:
 * per-tensor double(float(input_scale * weight_scale)) / output_scale,
 * per-channel double(input_scale) * weight_scale[c] / output_scale.
 * `multipliers` and `shifts` need weight_scale_count entries and must outlive
 * `params`, which points at them. Returns false when a multiplier is not finite
 * or its shift exceeds TML_FC_MAX_SHIFT. */
bool tml_fully_connected_s8_prepare(const tml_fc_quant_t *quant, uint16_t input_size, uint16_t output_size,
                                    int32_t *multipliers, int32_t *shifts, tml_fc_params_t *params);

/* Prepare (once per model): folded_bias[c] = bias[c] + input_offset * sum_i w[c][i],
 * with input_offset = -input_zero_point. `bias` may be NULL (no bias tensor).
 * weights: [output_size][input_size] row-major. folded_bias: output_size entries. */
void tml_fully_connected_s8_fold_bias(const int8_t *weights, const int32_t *bias, int32_t input_zero_point,
                                      uint16_t input_size, uint16_t output_size, int32_t *folded_bias);

/* Eval: one input row. input: input_size int8; weights: [output_size][input_size]
 * int8 row-major (may live in flash, any alignment); folded_bias from
 * tml_fully_connected_s8_fold_bias; output: output_size int8, must not overlap input. */
void tml_fully_connected_s8(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights,
                            const int32_t *folded_bias, int8_t *output);

/* Eval without folded biases, as TFLM's reference computes it:
 *   acc[c] = bias[c] + sum_i w[c][i] * (x[i] + input_offset)   (int32, wrapping)
 * then the same requantization. Same results as tml_fully_connected_s8 with
 * tml_fully_connected_s8_fold_bias's output, without its 4 bytes of RAM per
 * output: `bias` is the model's (may be NULL: no bias tensor, may live in
 * flash). Other arguments as tml_fully_connected_s8. */
void tml_fully_connected_s8_bias(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights,
                                 const int32_t *bias, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif
