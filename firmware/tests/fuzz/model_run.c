/* The C side of the differential fuzzer (src/fuzz/differential.ts): loads each
 * model of a batch file with the native runtime and runs it on the inputs given,
 * so the TypeScript reader and reference can be compared with it.
 *
 * Usage: model_run <batch file>. The file holds records, little-endian:
 *   u32 model_len, model bytes, u32 cases, cases x TML_MAX_INPUT_BYTES input bytes
 * (a model takes the first input_bytes of each). For each record it prints one
 * line: the tml_status_t of runtime_init, then, when that is 0, one hex string of
 * output bytes per case. Each model is copied to a block of its exact size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "runtime.h"

static uint32_t read_u32(FILE *f, int *ok) {
  uint8_t b[4];
  if (fread(b, 1, 4, f) != 4) {
    *ok = 0;
    return 0;
  }
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: model_run <batch file>\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 2;
  }
  static int8_t inputs[TML_MAX_INPUT_BYTES];
  static int8_t output[65536];
  for (;;) {
    int ok = 1;
    const uint32_t len = read_u32(f, &ok);
    if (!ok) break;
    uint8_t *model = malloc(len ? len : 1u);
    if (model == NULL || fread(model, 1, len, f) != len) {
      fprintf(stderr, "model_run: truncated batch\n");
      return 2;
    }
    const uint32_t cases = read_u32(f, &ok);
    runtime_info_t info;
    const tml_status_t st = runtime_init(model, len, &info);
    printf("%d", (int)st);
    for (uint32_t c = 0; c < cases && ok; ++c) {
      if (fread(inputs, 1, sizeof inputs, f) != sizeof inputs) {
        fprintf(stderr, "model_run: truncated batch\n");
        return 2;
      }
      if (st != TML_OK) continue;
      uint32_t cycles;
      if (runtime_invoke(inputs, output, &cycles) != TML_OK) {
        fprintf(stderr, "model_run: invoke failed after a successful init\n");
        return 1;
      }
      putchar(' ');
      for (uint32_t i = 0; i < info.output_count; ++i) printf("%02x", (uint8_t)output[i]);
    }
    putchar('\n');
    free(model);
  }
  fclose(f);
  return 0;
}
