/* libFuzzer target: the device's frame decoder and request loop. Parses the input
 * as one received block (proto_frame_parse, COBS decoded in place), then streams
 * it into the request loop (app.c) over the host board's in-memory link, with a
 * small valid model loaded, so HELLO, INFER_CHUNK, INFER_RUN and every error
 * answer run. Every
 * answer the device writes must be a well-formed frame: 0x00-delimited COBS
 * whose CRC checks. The model comes from fuzz_model.h, written by the build. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "frame.h"
#include "hal.h"
#include "host_link.h"
#include "fuzz_model.h"

static void check_answers(void) {
  static uint8_t out[65536];
  const size_t n = host_link_take(out, sizeof out);
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (out[i] != 0) continue;
    proto_frame_t frame;
    if (proto_frame_parse(out + start, i - start, &frame) != TML_OK) abort();
    start = i + 1;
  }
  if (start != n) abort(); /* every answer ends with its delimiter */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  static int ready;
  if (!ready) {
    hal_init();
    app_init(g_fuzz_model, g_fuzz_model_len);
    ready = 1;
  }
  uint8_t *block = malloc(n + 1);
  memcpy(block, data, n);
  proto_frame_t frame;
  if (proto_frame_parse(block, n, &frame) == TML_OK && frame.body_len > PROTO_MAX_BODY) abort();
  free(block);

  /* In chunks, as a UART delivers them; a trailing delimiter flushes a partial frame. */
  for (size_t at = 0; at < n;) {
    const size_t chunk = n - at < 4096u ? n - at : 4096u;
    host_link_feed(data + at, chunk);
    app_poll();
    check_answers();
    at += chunk;
  }
  static const uint8_t delimiter = 0;
  host_link_feed(&delimiter, 1);
  app_poll();
  check_answers();
  return 0;
}
