/* libFuzzer target: image_decode (image_codec.c). The input is
 * [encoding, dst_len low, dst_len high, stream...] (scripts/fuzz/images.ts);
 * dst is allocated exactly dst_len bytes so that ASan reports any write or
 * read outside it. A stream that decodes must decode the same way twice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 3) return 0;
  const size_t len = (size_t)data[1] | ((size_t)data[2] << 8);
  if (len > 4096) return 0;
  int8_t *dst = malloc(len ? len : 1);
  int8_t *again = malloc(len ? len : 1);
  const int rc = image_decode(data[0], data + 3, n - 3, dst, len);
  if (rc != 0 && rc != -1) abort();
  if (rc == 0) {
    if (image_decode(data[0], data + 3, n - 3, again, len) != 0 || (len > 0 && memcmp(dst, again, len) != 0)) abort();
  }
  free(again);
  free(dst);
  return 0;
}
