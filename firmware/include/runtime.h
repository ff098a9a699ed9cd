/* A runtime runs one int8 model. Two implementations behind this header:
 * core/runtime_native.c (our reader and kernels, bit-exact with TFLM's
 * reference kernels) and runtime/tflm/runtime_tflm.cc (TensorFlow Lite Micro).
 * The app loop and protocol do not know which one is linked. */
#ifndef TINYML_RUNTIME_H
#define TINYML_RUNTIME_H

#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RUNTIME_MAX_RANK 4

typedef enum { RUNTIME_NATIVE = 0, RUNTIME_TFLM = 1 } runtime_kind_t;

typedef struct {
  runtime_kind_t kind;
  uint32_t arena_used;                 /* bytes of the static arena the model needs */
  uint32_t arena_size;                 /* bytes of the static arena compiled in */
  uint8_t input_rank;
  uint16_t input_dims[RUNTIME_MAX_RANK]; /* unused trailing dims are 0 */
  uint32_t input_bytes;                /* int8 elements of one input */
  float input_scale;
  int32_t input_zero_point;
  uint16_t output_count;               /* int8 elements of the output */
  float output_scale;
  int32_t output_zero_point;
} runtime_info_t;

/* Reads and checks the model, plans the arena and fills *info. `model` must stay
 * valid and unchanged for the life of the program (it lives in flash). Returns
 * TML_OK or the first problem found; *info is then zeroed but for `kind` and
 * `arena_size`, and for TML_ERR_ARENA_TOO_SMALL `arena_used`: the bytes the
 * model needs (at least that many for TFLM, which reports the shortfall of the
 * allocation that failed), or 0 when the runtime cannot tell. */
tml_status_t runtime_init(const uint8_t *model, uint32_t model_len, runtime_info_t *info);

/* Runs one inference: copies `input` (info.input_bytes) into the model's input
 * tensor (again before every run: an arena planner may reuse its bytes), runs
 * the model, copies the output (info.output_count) to `output`, and stores in
 * *cycles the hal_cycles_now() difference around the model run alone. With
 * input == NULL the input tensor is used as it is: the caller has just written
 * it through runtime_input_tensor(). */
tml_status_t runtime_invoke(const int8_t *input, int8_t *output, uint32_t *cycles);

/* The model's input tensor (info.input_bytes), to decode an input straight into
 * it right before runtime_invoke(NULL, ...); NULL when no model is loaded. Its
 * bytes are only valid until the next invoke (the planner may reuse them). */
int8_t *runtime_input_tensor(void);

#ifdef __cplusplus
}
#endif

#endif
