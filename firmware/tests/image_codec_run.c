/* Host harness for image_decode (test/image-codec.test.ts): one case a line on
 * stdin, "<encoding> <dst_len> <stream as hex>" (hex may be empty), answered on
 * stdout by "ok <decoded bytes as hex>" or "refused". dst sits in the middle of
 * a guarded buffer: a write outside dst_len is reported as "overrun". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_codec.h"

enum { MAX_STREAM = 8192, MAX_DST = 4096, GUARD = 64 };

static char line[2 * MAX_STREAM + 64];
static uint8_t stream[MAX_STREAM];
static int8_t buffer[GUARD + MAX_DST + GUARD];

static int hex_value(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

int main(void) {
  while (fgets(line, sizeof line, stdin) != NULL) {
    unsigned encoding = 0, dst_len = 0;
    int used = 0;
    if (sscanf(line, "%u %u %n", &encoding, &dst_len, &used) != 2 || dst_len > MAX_DST) {
      fprintf(stderr, "bad case line: %s", line);
      return 2;
    }
    size_t n = 0;
    for (const char *p = line + used; hex_value(p[0]) >= 0 && hex_value(p[1]) >= 0 && n < MAX_STREAM; p += 2) {
      stream[n++] = (uint8_t)(hex_value(p[0]) * 16 + hex_value(p[1]));
    }
    memset(buffer, 0x5a, sizeof buffer);
    const int rc = image_decode((uint8_t)encoding, stream, n, buffer + GUARD, dst_len);
    int overrun = 0;
    for (size_t k = 0; k < GUARD; k++) {
      if (buffer[k] != 0x5a || buffer[GUARD + dst_len + k] != 0x5a) overrun = 1;
    }
    if (overrun) {
      puts("overrun");
    } else if (rc != 0) {
      puts("refused");
    } else {
      fputs("ok ", stdout);
      for (size_t k = 0; k < dst_len; k++) printf("%02x", (unsigned)(uint8_t)buffer[GUARD + k]);
      putchar('\n');
    }
  }
  return 0;
}
