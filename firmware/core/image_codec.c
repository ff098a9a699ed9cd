/* image_codec.h: the input encodings a device understands. */
#include "image_codec.h"

#include <string.h>

int image_decode(uint8_t encoding, const uint8_t *src, size_t n, int8_t *dst, size_t dst_len) {
  switch (encoding) {
    case IMAGE_ENCODING_RAW:
      if (n != dst_len) return -1;
      if (n != 0) memcpy(dst, src, n);
      return 0;
    default:
      return -1;
  }
}
