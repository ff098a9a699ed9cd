/* Decoding cost of image_decode on the emulated Cortex-M4 (mps2-an386 under
 * QEMU -icount shift=0, so hal_cycles_now() counts instructions). Built and run
 * by scripts/measure-image-codec.ts --emulator, which generates
 * image_codec_bench_data.h (the encoded test images and the sum of each
 * decoded image). Prints one line per image, "<index> <stream bytes>
 * <instructions> <sum ok 1|0>", then "done". */
#include <stdio.h>
#include <string.h>

#include "hal.h"
#include "image_codec.h"
#include "image_codec_bench_data.h"

static int8_t s_input[BENCH_INPUT_BYTES];

static void print(const char *text) { hal_serial_write((const uint8_t *)text, strlen(text)); }

int main(void) {
  hal_init();
  char line[64];
  for (unsigned k = 0; k < BENCH_IMAGES; k++) {
    const uint32_t start = hal_cycles_now();
    const int rc = image_decode(IMAGE_ENCODING_COMPACT, g_bench_streams + g_bench_offsets[k],
                                g_bench_offsets[k + 1] - g_bench_offsets[k], s_input, BENCH_INPUT_BYTES);
    const uint32_t spent = hal_cycles_now() - start;
    int32_t sum = 0;
    for (unsigned i = 0; i < BENCH_INPUT_BYTES; i++) sum += s_input[i];
    snprintf(line, sizeof line, "%u %u %lu %d\n", k, (unsigned)(g_bench_offsets[k + 1] - g_bench_offsets[k]),
             (unsigned long)spent, rc == 0 && sum == g_bench_sums[k]);
    print(line);
  }
  print("done\n");
  for (;;) {
  }
}
