/* libFuzzer target: the .tflite reader and the native runtime. Loads the input
 * as a model (tml_model_read through runtime_init: every offset, table, vector,
 * shape and quantization bound) and, when it loads, runs it on two inputs taken
 * from a fixed pattern, so a model that passes the reader also exercises the
 * prepared kernels under the sanitizers. The input is copied to a heap block of
 * its exact size, so any read past the model is caught by ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n > (1u << 20)) return 0;
  /* malloc's blocks are 16-byte aligned like the firmware's g_model. */
  uint8_t *model = malloc(n ? n : 1u);
  if (model == NULL) return 0;
  memcpy(model, data, n);
  runtime_info_t info;
  if (runtime_init(model, (uint32_t)n, &info) == TML_OK) {
    if (info.input_bytes > TML_MAX_INPUT_BYTES || info.output_count > TML_MAX_OUTPUT_COUNT) abort();
    int8_t input[TML_MAX_INPUT_BYTES], output[TML_MAX_OUTPUT_COUNT];
    for (int run = 0; run < 2; ++run) {
      for (uint32_t i = 0; i < info.input_bytes; ++i) input[i] = (int8_t)(run ? (int)(i * 37u) : 127 - (int)(i & 1u) * 255);
      uint32_t cycles;
      if (runtime_invoke(input, output, &cycles) != TML_OK) abort();
    }
  }
  free(model);
  return 0;
}
