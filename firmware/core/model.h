/* Reader for the int8 .tflite models the native runtime runs: one subgraph,
 * a chain of FULLY_CONNECTED ops (int8 input/weights/output, int32 bias,
 * fused NONE or RELU) optionally ended by one int8 SOFTMAX.
 *
 * The flatbuffer stays where it is (flash); the reader checks every uoffset,
 * vtable and vector against model_len before reading through it, and returns
 * pointers into the model for weights and biases. Field ids follow
 * src/tflite/schema.ts (TFLite schema version 3, with 3a's builtin_code and
 * 3c's buffer offset/size). */
#ifndef TINYML_MODEL_H
#define TINYML_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/fully_connected_s8.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TML_MAX_LAYERS
#define TML_MAX_LAYERS 8 /* operators (FULLY_CONNECTED + SOFTMAX) the native runtime plans for */
#endif

/* Bounds a model must meet to load (TML_ERR_MODEL_LIMIT otherwise). The same
 * bounds are checked by the TypeScript reader (src/reference/limits.ts), so
 * host and device accept and refuse the same models.
 *
 * Largest softmax row. Each maximum of the row adds exp(0) = 2^19 to the Q12.19
 * sum of exps; with 512 tied maxima the sum reaches 2^28, GetReciprocal reports
 * 9 bits over unit and the final rounding shift becomes 9 + 31 - 8 = 32, past
 * int32 (undefined in C and C++, TFLM included). 511 keeps it at most 31. */
#define TML_MAX_SOFTMAX_DEPTH 511u

/* FULLY_CONNECTED requantization: QuantizeMultiplier(input_scale * weight_scale
 * / output_scale) must give a shift of at most 30 (TFLM's own DCHECK in
 * MultiplyByQuantizedMultiplier), i.e. a real multiplier below 2^30; larger
 * shifts overflow x * (1 << shift). A multiplier that is not finite is refused
 * too. Shifts below -31 are flushed to a zero multiplier, as TFLM does. */
#define TML_MAX_FC_SHIFT 30 /* = TML_FC_MAX_SHIFT in kernels/fully_connected_s8.h */

/* One input row and one output row must each fit in one frame body
 * (PROTO_MAX_BODY = 1024 bytes; a RESULT body has 8 bytes before the outputs). */
#define TML_MAX_INPUT_BYTES 1024u
#define TML_MAX_OUTPUT_COUNT 1016u

typedef struct {
  uint16_t input_size;         /* elements of the input row */
  uint16_t output_size;        /* elements of the output row */
  const int8_t *weights;       /* [output_size][input_size] row-major, in the model */
  const int32_t *bias;         /* output_size entries (4-byte aligned, in the model) or NULL */
  float input_scale;
  int32_t input_zero_point;    /* [-128, 127] */
  const uint8_t *weight_scales; /* little-endian float32[weight_scale_count], in the model */
  uint16_t weight_scale_count; /* 1 or output_size */
  float output_scale;
  int32_t output_zero_point;   /* [-128, 127] */
  bool relu;
} tml_model_fc_t;

/* The quantization a FULLY_CONNECTED kernel prepares from (its multipliers and shifts). */
static inline tml_fc_quant_t tml_model_fc_quant(const tml_model_fc_t *fc) {
  const tml_fc_quant_t quant = {
      .input_scale = fc->input_scale,
      .input_zero_point = fc->input_zero_point,
      .weight_scales = fc->weight_scales,
      .weight_scale_count = fc->weight_scale_count,
      .output_scale = fc->output_scale,
      .output_zero_point = fc->output_zero_point,
      .relu = fc->relu,
  };
  return quant;
}

typedef struct {
  uint8_t fc_count;                    /* 1..TML_MAX_LAYERS */
  tml_model_fc_t fc[TML_MAX_LAYERS];
  bool has_softmax;                    /* a SOFTMAX follows the last FULLY_CONNECTED */
  float softmax_beta;
  uint16_t softmax_depth;              /* last dim of the softmax input, <= TML_MAX_SOFTMAX_DEPTH */
  uint8_t input_rank;                  /* 1..4 */
  uint16_t input_dims[4];              /* unused trailing dims 0 */
  float input_scale;
  int32_t input_zero_point;
  uint16_t output_count;
  float output_scale;
  int32_t output_zero_point;
} tml_model_t;

/* Parses and checks the model. On success *out describes it (pointers into
 * `model`, which must outlive *out); otherwise returns the first problem found
 * (TML_ERR_MODEL_* , UNSUPPORTED_*, SHAPE, QUANTIZATION, TOO_MANY_LAYERS,
 * MODEL_LIMIT).
 *
 * Quantization rules, as TFLM applies them when it prepares the model:
 * - activations: one scale (positive, finite) and one zero point in [-128, 127];
 * - weights: int8 in [-127, 127] (symmetric), scales positive and finite, one or
 *   one per output channel (quantized_dimension 0), and as many zero points as
 *   scales, all 0;
 * - bias: int32, zero points 0, and TFLM's GetQuantizedConvolutionMultipler
 *   rule |input_scale * weight_scale[0] - bias_scale[0]| / output_scale <= 0.02
 *   (in double; a bias without scale and zero point counts as scale 0);
 * - softmax: output scale 1/256 and zero point -128, beta * input_scale * 2^26 > 1. */
tml_status_t tml_model_read(const uint8_t *model, uint32_t model_len, tml_model_t *out);

#ifdef __cplusplus
}
#endif

#endif
