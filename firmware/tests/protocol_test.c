/* Checks CRC-32, COBS and frames against golden vectors
 * (scripts/golden-vectors.ts), then the request loop (app.c) end to end over
 * the host board's in-memory link: HELLO -> INFO, INFER -> RESULT with the
 * reference's output, every ERROR code of docs/protocol.md, the device log's
 * LOG frames, and the serial write that drops rather than blocks.
 * Usage: protocol_test <protocol.txt> */
#include <stdbool.h>

#include "app.h"
#include "frame.h"
#include "hal.h"
#include "host_link.h"
#include "log.h"
#include "protocol.h"
#include "status.h"
#include "vectors.h"

static int crc_cases, cobs_cases, frame_cases, app_checks;

static void test_crc(FILE *f) {
  const size_t n = (size_t)vec_int(f);
  uint8_t *b = vec_u8s(f, n);
  const uint32_t want = (uint32_t)vec_int(f);
  CHECK(proto_crc32(0, b, n) == want, "crc of %zu bytes: %08x, want %08x", n, proto_crc32(0, b, n), want);
  if (n > 3) { /* chunked */
    CHECK(proto_crc32(proto_crc32(0, b, 3), b + 3, n - 3) == want, "chunked crc of %zu bytes", n);
  }
  crc_cases++;
  free(b);
}

/* CRC-16/CCITT-FALSE's check value, and that it is not CRC-32's low half. */
static void test_crc16(void) {
  CHECK(proto_crc16((const uint8_t *)"123456789", 9) == 0x29B1u, "crc16 check value: %04x", proto_crc16((const uint8_t *)"123456789", 9));
  CHECK(proto_crc16(NULL, 0) == 0xFFFFu, "crc16 of nothing");
}

static void test_cobs(FILE *f) {
  const size_t n = (size_t)vec_int(f);
  uint8_t *raw = vec_u8s(f, n);
  const size_t m = (size_t)vec_int(f);
  uint8_t *enc = vec_u8s(f, m);
  uint8_t *got = (uint8_t *)vec_alloc(n + n / 254 + 2);
  const size_t gm = proto_cobs_encode(raw, n, got);
  CHECK(gm == m && memcmp(got, enc, m) == 0, "cobs encode of %zu bytes: %zu bytes, want %zu", n, gm, m);
  CHECK(gm <= n + n / 254 + 1, "cobs encode of %zu bytes overran the documented room", n);
  uint8_t *dec = (uint8_t *)vec_alloc(m);
  const long dn = proto_cobs_decode(enc, m, dec);
  CHECK(dn == (long)n && memcmp(dec, raw, n) == 0, "cobs decode to %ld bytes, want %zu", dn, n);
  memcpy(dec, enc, m); /* in place */
  CHECK(proto_cobs_decode(dec, m, dec) == (long)n && memcmp(dec, raw, n) == 0, "in-place cobs decode");
  cobs_cases++;
  free(raw), free(enc), free(got), free(dec);
}

static void test_frame(FILE *f) {
  const uint8_t type = (uint8_t)vec_int(f);
  const uint16_t seq = (uint16_t)vec_int(f);
  const size_t n = (size_t)vec_int(f);
  uint8_t *body = vec_u8s(f, n);
  const size_t m = (size_t)vec_int(f);
  uint8_t *wire = vec_u8s(f, m);
  static uint8_t payload[PROTO_MAX_PAYLOAD], out[PROTO_MAX_ENCODED];
  memcpy(payload + PROTO_HEADER_BYTES, body, n);
  const size_t gm = proto_frame_seal(payload, type, seq, n, out);
  CHECK(gm == m && memcmp(out, wire, m) == 0, "frame type %02x seq %u: %zu wire bytes, want %zu", type, seq, gm, m);
  proto_frame_t fr;
  CHECK(wire[m - 1] == 0, "frame ends with the delimiter");
  const tml_status_t st = proto_frame_parse(wire, m - 1, &fr);
  CHECK(st == TML_OK && fr.type == type && fr.seq == seq && fr.body_len == n && memcmp(fr.body, body, n) == 0,
        "parse frame type %02x seq %u: status %d", type, seq, st);
  frame_cases++;
  free(body), free(wire);
}

/* ------------------------------------------------------------ the app loop */

static uint8_t rx_wire[1 << 16];
static size_t rx_have;

/* LOG frames seen by answer(): the latest line and its number, and how many. */
static char last_log[PROTO_LOG_MAX_TEXT + 1];
static uint16_t last_log_seq;
static int logs_seen;

static void send_frame(uint8_t type, uint16_t seq, const uint8_t *body, size_t n) {
  static uint8_t payload[PROTO_MAX_PAYLOAD + 64], out[PROTO_MAX_ENCODED + 64];
  memcpy(payload + PROTO_HEADER_BYTES, body, n);
  const size_t m = proto_frame_seal(payload, type, seq, n, out);
  host_link_feed(out, m);
}

/* Runs the app and parses the next frame it sent; returns false when there is none. */
static bool next_frame(proto_frame_t *fr) {
  app_poll();
  rx_have += host_link_take(rx_wire + rx_have, sizeof rx_wire - rx_have);
  for (size_t i = 0; i < rx_have; ++i) {
    if (rx_wire[i] == 0) {
      static uint8_t block[PROTO_MAX_ENCODED];
      memcpy(block, rx_wire, i);
      const tml_status_t st = proto_frame_parse(block, i, fr);
      memmove(rx_wire, rx_wire + i + 1, rx_have - i - 1);
      rx_have -= i + 1;
      CHECK(st == TML_OK, "device sent a bad frame (status %d)", st);
      return st == TML_OK;
    }
  }
  return false;
}

/* The next answer: LOG frames before it are recorded (last_log) and skipped. */
static bool answer(proto_frame_t *fr) {
  while (next_frame(fr)) {
    if (fr->type != PROTO_MSG_LOG) return true;
    CHECK(fr->body_len >= 1 && fr->body_len <= PROTO_LOG_MAX_TEXT, "LOG of %zu bytes", fr->body_len);
    memcpy(last_log, fr->body, fr->body_len);
    last_log[fr->body_len] = '\0';
    for (size_t i = 0; i < fr->body_len; ++i) CHECK(fr->body[i] >= 0x20 && fr->body[i] <= 0x7E, "LOG byte %zu not printable", i);
    last_log_seq = fr->seq;
    logs_seen++;
  }
  return false;
}

static void expect_error(uint16_t seq, tml_status_t code, const char *what) {
  proto_frame_t fr;
  const bool got = answer(&fr);
  CHECK(got && fr.type == PROTO_MSG_ERROR && fr.seq == seq && fr.body_len == 2 && fr.body[0] == code,
        "%s: want ERROR %d seq %u, got %s type %02x seq %u code %d", what, code, seq, got ? "frame" : "nothing",
        got ? fr.type : 0, got ? fr.seq : 0, got && fr.body_len > 0 ? fr.body[0] : -1);
  app_checks++;
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* A model the app cannot load: INFO says why with the sizes, and so does the device log. */
static void test_app_load_failure(const uint8_t *model, uint32_t nbytes, long status) {
  hal_init();
  app_init(model, nbytes);
  proto_frame_t fr;
  CHECK(!next_frame(&fr), "the device speaks unprompted");
  send_frame(PROTO_MSG_HELLO, 50, NULL, 0);
  CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 50, "HELLO -> INFO (load failure)");
  CHECK(get_u16(fr.body + 46) == status, "INFO status %u, want %ld", get_u16(fr.body + 46), status);
  if (status == TML_ERR_ARENA_TOO_SMALL) {
    const uint32_t used = get_u32(fr.body + 12), size = get_u32(fr.body + 16);
    CHECK(used > size && size > 0, "INFO arena: needs %u, has %u", used, size);
    char want[PROTO_LOG_MAX_TEXT + 1];
    snprintf(want, sizeof want, "model not loaded: tensor arena too small: the model needs %u bytes, the firmware has %u (TML_ARENA_BYTES)",
             (unsigned)used, (unsigned)size);
    CHECK(strcmp(last_log, want) == 0, "LOG: %s", last_log);
  }
  send_frame(PROTO_MSG_INFER, 51, NULL, 0);
  expect_error(51, TML_ERR_MODEL_NOT_READY, "INFER on a model that did not load");
  app_checks++;
}

static void test_app(FILE *f) {
  char label[128];
  vec_token(f, label, sizeof label);
  const uint32_t nbytes = (uint32_t)vec_int(f);
  const long status = (long)vec_int(f);
  const uint32_t input_bytes = (uint32_t)vec_int(f), output_count = (uint32_t)vec_int(f);
  const long cases = (long)vec_int(f);
  uint8_t *model = vec_u8s(f, nbytes);
  if (status != TML_OK) {
    test_app_load_failure(model, nbytes, status);
    free(model);
    return;
  }

  hal_init();
  host_link_set_cycle_step(1234);
  const int logs_before = logs_seen;
  app_init(model, nbytes);
  proto_frame_t fr;

  CHECK(!next_frame(&fr), "the device speaks unprompted");
  send_frame(PROTO_MSG_HELLO, 41, NULL, 0);
  /* The boot line first (the lines of earlier app_init()s of this program come before it), then INFO. */
  CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 41, "HELLO -> INFO");
  CHECK(logs_seen > logs_before && strncmp(last_log, "model loaded: native runtime, ", 30) == 0, "boot log line: %s", last_log);
  const uint8_t *b = fr.body;
  CHECK(fr.body_len == 60 + 1 + 4 + 1 + 6 && b[60] == 4 && memcmp(b + 61, "host", 4) == 0, "INFO board name");
  CHECK(b[65] == 6 && memcmp(b + 66, "native", 6) == 0, "INFO runtime version (no TML_RUNTIME_VERSION: the runtime's name)");
  CHECK(get_u32(b + 56) == 0, "INFO dropped bytes");
  CHECK(b[0] == PROTO_VERSION && b[1] == 0 && b[2] == HAL_CYCLES_CPU && b[3] == 2, "INFO version/runtime/unit/rank");
  CHECK(get_u32(b + 4) == proto_crc32(0, model, nbytes) && get_u32(b + 8) == nbytes, "INFO model CRC and size");
  CHECK(get_u32(b + 12) > 0 && get_u32(b + 12) <= get_u32(b + 16), "INFO arena");
  CHECK(get_u16(b + 24) == 1 && get_u16(b + 26) == input_bytes && get_u16(b + 28) == 0, "INFO input dims");
  CHECK(get_u32(b + 32) == input_bytes && get_u16(b + 44) == output_count && get_u16(b + 46) == 0, "INFO sizes/status");
  CHECK(get_u32(b + 52) == (uint32_t)-128, "INFO output zero point");
  app_checks++;

  for (long c = 0; c < cases; ++c) {
    uint8_t *x = vec_u8s(f, input_bytes);
    int8_t *want = vec_i8s(f, output_count);
    send_frame(PROTO_MSG_INFER, (uint16_t)(100 + c), x, input_bytes);
    const bool got = answer(&fr);
    CHECK(got && fr.type == PROTO_MSG_RESULT && fr.seq == 100 + c && fr.body_len == 8 + output_count,
          "INFER %ld -> RESULT", c);
    if (got && fr.body_len == 8 + output_count) {
      uint32_t top = 0;
      for (uint32_t i = 1; i < output_count; ++i) top = want[i] > want[top] ? i : top;
      CHECK(fr.body[0] == top && fr.body[1] == 0 && get_u16(fr.body + 2) == output_count, "RESULT header");
      CHECK(get_u32(fr.body + 4) == 1234, "RESULT cycles %u", get_u32(fr.body + 4));
      CHECK(memcmp(fr.body + 8, want, output_count) == 0, "RESULT %ld outputs differ from the reference", c);
    }
    app_checks++;
    free(x), free(want);
  }

  /* Errors. */
  static uint8_t big[PROTO_MAX_ENCODED + 64];
  send_frame(PROTO_MSG_INFER, 7, big, 3);
  expect_error(7, TML_ERR_BAD_LENGTH, "INFER of 3 bytes");
  send_frame(PROTO_MSG_HELLO + 0x40, 8, NULL, 0);
  expect_error(8, TML_ERR_BAD_TYPE, "unknown type");
  send_frame(PROTO_MSG_HELLO, 9, big, 1);
  expect_error(9, TML_ERR_BAD_LENGTH, "HELLO with a body");
  {
    static uint8_t payload[16], out[32];
    const size_t m = proto_frame_seal(payload, PROTO_MSG_HELLO, 10, 0, out);
    out[3] ^= 0x80; /* breaks the header's CRC-16 (seq 10: 0x0a becomes 0x8a, no new 0x00) */
    host_link_feed(out, m);
    expect_error(PROTO_SEQ_UNKNOWN, TML_ERR_BAD_FRAME, "bad header CRC: the sequence number cannot be trusted");
  }
  {
    /* A damaged body, a lost byte and a lost delimiter leave the header whole:
     * the NAK names the request, so the host resends that one alone. */
    static uint8_t payload[PROTO_MAX_PAYLOAD], out[2 * PROTO_MAX_ENCODED];
    for (size_t i = 0; i < input_bytes; ++i) payload[PROTO_HEADER_BYTES + i] = (uint8_t)(1 + i % 200);
    size_t m = proto_frame_seal(payload, PROTO_MSG_INFER, 60, input_bytes, out);
    out[m / 2] = out[m / 2] == 0x77 ? 0x78 : 0x77;
    host_link_feed(out, m);
    expect_error(60, TML_ERR_BAD_FRAME, "INFER with a damaged body");
    m = proto_frame_seal(payload, PROTO_MSG_INFER, 61, input_bytes, out);
    memmove(out + 300, out + 301, m - 301);
    host_link_feed(out, m - 1);
    expect_error(61, TML_ERR_BAD_FRAME, "INFER with a byte lost");
    m = proto_frame_seal(payload, PROTO_MSG_INFER, 62, input_bytes, out);
    const size_t m2 = proto_frame_seal(payload, PROTO_MSG_INFER, 63, input_bytes, out + m - 1);
    host_link_feed(out, m - 1 + m2);
    expect_error(62, TML_ERR_BAD_FRAME, "two INFERs whose delimiter was lost (an overlong block)");
    m = proto_frame_seal(payload, PROTO_MSG_INFER, 64, input_bytes, out);
    host_link_feed(out, m);
    CHECK(answer(&fr) && fr.type == PROTO_MSG_RESULT && fr.seq == 64, "the next INFER is answered");
    app_checks++;
  }
  {
    /* The frame checks but speaks another version: BAD_VERSION, with its sequence number. */
    static uint8_t payload[16], out[32];
    const uint8_t raw[6] = {PROTO_VERSION + 1, PROTO_MSG_HELLO, 11, 0, 0, 0};
    memcpy(payload, raw, 6);
    proto_put_u16(payload + 6, proto_crc16(payload, 6));
    proto_put_u32(payload + 8, proto_crc32(0, payload, 8));
    const size_t m = proto_cobs_encode(payload, 12, out);
    out[m] = 0;
    host_link_feed(out, m + 1);
    expect_error(11, TML_ERR_BAD_VERSION, "the next protocol version");
  }
  {
    const uint8_t garbage[5] = {0x13, 0x37, 0xff, 0x01, 0x02};
    host_link_feed(garbage, sizeof garbage);
    send_frame(PROTO_MSG_HELLO, 12, NULL, 0); /* garbage glued to a frame: that block is bad... */
    expect_error(PROTO_SEQ_UNKNOWN, TML_ERR_BAD_FRAME, "garbage before a frame");
    const uint8_t zero = 0;
    host_link_feed(&zero, 1); /* an empty block is ignored */
    send_frame(PROTO_MSG_HELLO, 13, NULL, 0); /* ...and the next frame is read normally */
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 13, "resync after garbage");
    app_checks++;
  }
  {
    memset(big, 0x55, sizeof big);
    host_link_feed(big, PROTO_MAX_ENCODED + 10);
    const uint8_t zero = 0;
    host_link_feed(&zero, 1);
    expect_error(PROTO_SEQ_UNKNOWN, TML_ERR_BAD_FRAME, "overlong frame");
    send_frame(PROTO_MSG_HELLO, 14, NULL, 0);
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 14, "resync after an overlong frame");
    app_checks++;
  }
  {
    /* Several requests in flight, answered in order. */
    send_frame(PROTO_MSG_HELLO, 20, NULL, 0);
    send_frame(PROTO_MSG_INFER, 21, big, 1);
    send_frame(PROTO_MSG_HELLO, 22, NULL, 0);
    CHECK(answer(&fr) && fr.seq == 20 && fr.type == PROTO_MSG_INFO, "pipelined 1");
    CHECK(answer(&fr) && fr.seq == 21 && fr.type == PROTO_MSG_ERROR, "pipelined 2");
    CHECK(answer(&fr) && fr.seq == 22 && fr.type == PROTO_MSG_INFO, "pipelined 3");
    app_checks++;
  }
  {
    /* The device log: a line written between answers goes out, as LOG, right before the next one;
     * bytes outside printable ASCII become '?'; a long line is split; HELLO replays the kept lines. */
    const int before = logs_seen;
    tml_log_write("diag: odd byte \x01 here\r\n");
    send_frame(PROTO_MSG_HELLO, 15, NULL, 0);
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 15, "INFO after a log line");
    CHECK(strcmp(last_log, "diag: odd byte ? here") == 0, "LOG text: %s", last_log);
    const uint16_t seq = last_log_seq;
    CHECK(logs_seen - before >= 2, "HELLO replays the boot line too (%d LOGs)", logs_seen - before);
    char longline[PROTO_LOG_MAX_TEXT + 41];
    memset(longline, 'L', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    tml_log(longline);
    send_frame(PROTO_MSG_INFER, 16, big, 1);
    proto_frame_t lf;
    CHECK(next_frame(&lf) && lf.type == PROTO_MSG_LOG && lf.seq == (uint16_t)(seq + 1) && lf.body_len == PROTO_LOG_MAX_TEXT,
          "long line, first part");
    CHECK(next_frame(&lf) && lf.type == PROTO_MSG_LOG && lf.seq == (uint16_t)(seq + 2) && lf.body_len == 40, "long line, rest");
    expect_error(16, TML_ERR_BAD_LENGTH, "the answer after the log lines");
    app_checks++;
  }
  {
    /* A host that stops reading: the write drops and counts instead of blocking, INFO says how much. */
    host_link_set_tx_room(10);
    send_frame(PROTO_MSG_HELLO, 17, NULL, 0);
    app_poll();
    host_link_set_tx_room(1u << 16);
    rx_have = host_link_take(rx_wire, sizeof rx_wire);
    CHECK(rx_have == 10, "the link took %zu bytes, room for 10", rx_have);
    rx_have = 0; /* the start of a frame: a host drops it at the next 0x00 */
    const uint8_t zero = 0;
    host_link_feed(&zero, 1);
    send_frame(PROTO_MSG_HELLO, 18, NULL, 0);
    app_poll();
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 18, "INFO after the drop");
    CHECK(get_u32(fr.body + 56) > 0 && get_u32(fr.body + 56) == hal_serial_dropped(), "INFO dropped bytes %u",
          get_u32(fr.body + 56));
    app_checks++;
  }
  {
    /* A model that fails to load still answers HELLO, with the reason. */
    model[5] ^= 0xff;
    app_init(model, nbytes);
    send_frame(PROTO_MSG_HELLO, 30, NULL, 0);
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && get_u16(fr.body + 46) == TML_ERR_MODEL_IDENTIFIER,
          "INFO status of a bad model");
    CHECK(get_u32(fr.body + 4) == proto_crc32(0, model, nbytes), "INFO CRC of a bad model");
    send_frame(PROTO_MSG_INFER, 31, big, input_bytes);
    expect_error(31, TML_ERR_MODEL_NOT_READY, "INFER on a bad model");
    app_checks++;
  }
  free(model);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: protocol_test <protocol.txt>\n");
    return 2;
  }
  static const vec_record_t records[] = {{"crc", test_crc}, {"cobs", test_cobs}, {"frame", test_frame}, {"model", test_app}};
  test_crc16();
  const int status = vec_read_all(argv[1], records, sizeof records / sizeof records[0]);
  if (status != 0) return status;
  CHECK(crc_cases > 0 && cobs_cases > 0 && frame_cases > 0 && app_checks > 0, "vectors: a section is missing");
  printf("protocol_test: %d crc, %d cobs, %d frame cases, %d app checks; %d failures\n", crc_cases, cobs_cases,
         frame_cases, app_checks, vec_failures);
  return vec_failures == 0 ? 0 : 1;
}
