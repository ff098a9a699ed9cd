/* libFuzzer target: COBS (protocol.c). Decodes arbitrary bytes into a buffer
 * exactly as long as the input (decoding never grows data), and checks that
 * encoding then decoding the input gives it back and that the encoding has no
 * 0x00 and stays within the documented n + n/254 + 1 bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  uint8_t *out = malloc(n + 1);
  const long decoded = proto_cobs_decode(data, n, out);
  if (decoded > (long)n) abort();

  const size_t cap = n + n / 254u + 1u;
  uint8_t *enc = malloc(cap);
  const size_t m = proto_cobs_encode(data, n, enc);
  if (m > cap || memchr(enc, 0, m) != NULL) abort();
  uint8_t *back = malloc(m);
  const long k = proto_cobs_decode(enc, m, back);
  if (k != (long)n || (n > 0 && memcmp(back, data, n) != 0)) abort();
  free(back);
  free(enc);
  free(out);
  return 0;
}
