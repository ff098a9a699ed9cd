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

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TML_MAX_LAYERS
#define TML_MAX_LAYERS 8 /* operators (FULLY_CONNECTED + SOFTMAX) the native runtime plans for */
#endif

/* Largest softmax row: the Q12.19 sum of exps must not overflow. */
#define TML_MAX_SOFTMAX_DEPTH 4095u

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
 * (TML_ERR_MODEL_* , UNSUPPORTED_*, SHAPE, QUANTIZATION, TOO_MANY_LAYERS). */
tml_status_t tml_model_read(const uint8_t *model, uint32_t model_len, tml_model_t *out);

#ifdef __cplusplus
}
#endif

#endif
