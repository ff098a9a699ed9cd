/* Checks CRC-32, COBS and frames against golden vectors
 * (scripts/golden-vectors.ts), then the request loop (app.c) end to end over
 * the host board's in-memory link: HELLO -> INFO, INFER_CHUNKs and INFER_RUN
 * -> RESULT with the reference's output, chunks missing, duplicated, stale or
 * damaged, every ERROR code of docs/protocol.md, the device log's LOG frames
 * and boot id, and the serial write that drops rather than blocks.
 * Usage: protocol_test <protocol.txt>
 *        protocol_test --replay <model.tflite> <requests.bin>: feeds the bytes to
 *        a freshly booted app and writes what it answers to stdout (the mock
 *        device is checked against this, test/firmware-protocol-c.test.ts). */
#include <stdbool.h>

#include "app.h"
#include "frame.h"
#include "hal.h"
#include "host_link.h"
#include "image_codec.h"
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

static uint8_t sent[PROTO_MAX_ENCODED];
static size_t sent_len;
static void collect(const uint8_t *data, size_t n) {
  CHECK(n <= 64 && sent_len + n <= sizeof sent, "write of %zu bytes", n);
  if (sent_len + n <= sizeof sent) memcpy(sent + sent_len, data, n);
  sent_len += n;
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
  /* The same bytes when COBS-encoded on the way out, in pieces. */
  memcpy(payload + PROTO_HEADER_BYTES, body, n);
  sent_len = 0;
  const size_t sm = proto_frame_send(payload, type, seq, n, collect);
  CHECK(sm == m && sent_len == m && memcmp(sent, wire, m) == 0, "frame_send type %02x seq %u: %zu wire bytes, want %zu", type, seq, sm, m);
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
static uint32_t last_log_boot;
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
    CHECK(fr->body_len > PROTO_LOG_HEADER && fr->body_len <= PROTO_LOG_HEADER + PROTO_LOG_MAX_TEXT, "LOG of %zu bytes", fr->body_len);
    const size_t n = fr->body_len - PROTO_LOG_HEADER;
    memcpy(last_log, fr->body + PROTO_LOG_HEADER, n);
    last_log[n] = '\0';
    for (size_t i = 0; i < n; ++i) CHECK(last_log[i] >= 0x20 && last_log[i] <= 0x7E, "LOG byte %zu not printable", i);
    last_log_boot = proto_get_u32(fr->body);
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

static uint32_t get_u32(const uint8_t *p) { return proto_get_u32(p); }
static uint16_t get_u16(const uint8_t *p) { return proto_get_u16(p); }

static const uint8_t k_nonce[4] = {0x11, 0x22, 0x33, 0x44};
static void send_hello(uint16_t seq) { send_frame(PROTO_MSG_HELLO, seq, k_nonce, sizeof k_nonce); }

/* INFER_CHUNK of n bytes (the encoded input's bytes offset..) into slot. */
static void send_chunk(uint16_t seq, uint8_t slot, uint16_t offset, const uint8_t *data, size_t n) {
  static uint8_t body[PROTO_CHUNK_HEADER + 2 * TML_CHUNK_BYTES];
  body[0] = slot;
  proto_put_u16(body + 1, offset);
  memcpy(body + PROTO_CHUNK_HEADER, data, n);
  send_frame(PROTO_MSG_INFER_CHUNK, seq, body, PROTO_CHUNK_HEADER + n);
}

static void send_run(uint16_t seq, uint8_t slot, uint8_t encoding, uint16_t len, uint32_t crc) {
  uint8_t body[PROTO_RUN_BODY];
  body[0] = slot;
  body[1] = encoding;
  proto_put_u16(body + 2, len);
  proto_put_u32(body + 4, crc);
  send_frame(PROTO_MSG_INFER_RUN, seq, body, sizeof body);
}

static void expect_ack(uint16_t seq, const char *what) {
  proto_frame_t fr;
  const bool got = answer(&fr);
  CHECK(got && fr.type == PROTO_MSG_CHUNK_ACK && fr.seq == seq && fr.body_len == 0, "%s: want CHUNK_ACK seq %u, got type %02x seq %u",
        what, seq, got ? fr.type : 0, got ? fr.seq : 0);
}

/* The raw input x (n bytes) as chunks seq0, seq0+1, ... into slot, each acknowledged; skip = a chunk not sent (-1: none). */
static uint16_t send_input(uint16_t seq0, uint8_t slot, const uint8_t *x, size_t n, int skip) {
  uint16_t seq = seq0;
  for (size_t off = 0, k = 0; off < n; off += TML_CHUNK_BYTES, ++k, ++seq) {
    if ((int)k == skip) continue;
    const size_t len = n - off < TML_CHUNK_BYTES ? n - off : TML_CHUNK_BYTES;
    send_chunk(seq, slot, (uint16_t)off, x + off, len);
    expect_ack(seq, "chunk");
  }
  return seq;
}

/* The answer is a RESULT for seq with the outputs `want`. */
static void expect_result(uint16_t seq, const int8_t *want, uint32_t output_count, const char *what) {
  proto_frame_t fr;
  const bool got = answer(&fr);
  CHECK(got && fr.type == PROTO_MSG_RESULT && fr.seq == seq && fr.body_len == 8 + output_count, "%s -> RESULT (got type %02x seq %u)", what,
        got ? fr.type : 0, got ? fr.seq : 0);
  if (got && fr.type == PROTO_MSG_RESULT && fr.body_len == 8 + output_count) {
    uint32_t top = 0;
    for (uint32_t i = 1; i < output_count; ++i) top = want[i] > want[top] ? i : top;
    CHECK(fr.body[0] == top && fr.body[1] == 0 && get_u16(fr.body + 2) == output_count, "%s: RESULT header", what);
    CHECK(get_u32(fr.body + 4) == 1234, "%s: RESULT cycles %u", what, get_u32(fr.body + 4));
    CHECK(memcmp(fr.body + 8, want, output_count) == 0, "%s: RESULT outputs differ from the reference", what);
  }
  app_checks++;
}

static void expect_error_detail(uint16_t seq, tml_status_t code, uint8_t detail, const char *what) {
  proto_frame_t fr;
  const bool got = answer(&fr);
  CHECK(got && fr.type == PROTO_MSG_ERROR && fr.seq == seq && fr.body_len == 2 && fr.body[0] == code && fr.body[1] == detail,
        "%s: want ERROR %d/%u seq %u, got type %02x seq %u code %d detail %d", what, code, detail, seq, got ? fr.type : 0,
        got ? fr.seq : 0, got && fr.body_len > 0 ? fr.body[0] : -1, got && fr.body_len > 1 ? fr.body[1] : -1);
  app_checks++;
}

/* A model the app cannot load: INFO says why with the sizes, and so does the device log. */
static void test_app_load_failure(const uint8_t *model, uint32_t nbytes, long status) {
  hal_init();
  app_init(model, nbytes);
  proto_frame_t fr;
  CHECK(!next_frame(&fr), "the device speaks unprompted");
  send_hello(50);
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
  send_run(51, 0, IMAGE_ENCODING_RAW, 1, 0);
  expect_error(51, TML_ERR_MODEL_NOT_READY, "INFER_RUN on a model that did not load");
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
  send_hello(41);
  /* The boot line first (the lines of earlier app_init()s of this program come before it), then INFO. */
  CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 41, "HELLO -> INFO");
  CHECK(logs_seen > logs_before && strncmp(last_log, "model loaded: native runtime, ", 30) == 0, "boot log line: %s", last_log);
  const uint8_t *b = fr.body;
  CHECK(fr.body_len == 60 + 1 + 4 + 1 + 6 + 13 && b[60] == 4 && memcmp(b + 61, "host", 4) == 0, "INFO board name");
  CHECK(b[65] == 6 && memcmp(b + 66, "native", 6) == 0, "INFO runtime version (no TML_RUNTIME_VERSION: the runtime's name)");
  CHECK(get_u16(b + 72) == TML_CHUNK_BYTES && b[74] == TML_INPUT_SLOTS && get_u16(b + 75) == TML_STAGING_BYTES, "INFO chunk size, slots, staging");
  CHECK(get_u32(b + 77) == IMAGE_ENCODINGS_SUPPORTED, "INFO encodings");
  const uint32_t boot_id = get_u32(b + 81);
  CHECK(boot_id != 0 && last_log_boot == boot_id, "INFO boot id %08x, the LOG's %08x", boot_id, last_log_boot);
  CHECK(get_u32(b + 56) == 0, "INFO dropped bytes");
  CHECK(b[0] == PROTO_VERSION && b[1] == 0 && b[2] == HAL_CYCLES_CPU && b[3] == 2, "INFO version/runtime/unit/rank");
  CHECK(get_u32(b + 4) == proto_crc32(0, model, nbytes) && get_u32(b + 8) == nbytes, "INFO model CRC and size");
  CHECK(get_u32(b + 12) > 0 && get_u32(b + 12) <= get_u32(b + 16), "INFO arena");
  CHECK(get_u16(b + 24) == 1 && get_u16(b + 26) == input_bytes && get_u16(b + 28) == 0, "INFO input dims");
  CHECK(get_u32(b + 32) == input_bytes && get_u16(b + 44) == output_count && get_u16(b + 46) == 0, "INFO sizes/status");
  CHECK(get_u32(b + 52) == (uint32_t)-128, "INFO output zero point");
  app_checks++;

  uint8_t *xs[8] = {0};
  int8_t *wants[8] = {0};
  CHECK(cases >= 3 && cases <= 8, "%ld cases", cases);
  uint16_t seq = 100;
  for (long c = 0; c < cases; ++c) {
    xs[c] = vec_u8s(f, input_bytes);
    wants[c] = vec_i8s(f, output_count);
    /* Alternate slots, as the host does: chunks of the next input while this one runs. */
    seq = send_input(seq, (uint8_t)(c % TML_INPUT_SLOTS), xs[c], input_bytes, -1);
    send_run(seq, (uint8_t)(c % TML_INPUT_SLOTS), IMAGE_ENCODING_RAW, (uint16_t)input_bytes, proto_crc32(0, xs[c], input_bytes));
    expect_result(seq++, wants[c], output_count, "chunks and INFER_RUN");
  }
  const uint8_t *x0 = xs[0], *x1 = xs[1];
  const uint32_t crc0 = proto_crc32(0, x0, input_bytes), crc1 = proto_crc32(0, x1, input_bytes);
  const uint16_t len = (uint16_t)input_bytes;
  {
    /* Two inputs assembled at once, chunks interleaved, run in the other order. */
    for (size_t off = 0; off < input_bytes; off += TML_CHUNK_BYTES) {
      const size_t n = input_bytes - off < TML_CHUNK_BYTES ? input_bytes - off : TML_CHUNK_BYTES;
      send_chunk(200, 0, (uint16_t)off, x0 + off, n);
      expect_ack(200, "slot 0 chunk");
      send_chunk(201, 1, (uint16_t)off, x1 + off, n);
      expect_ack(201, "slot 1 chunk");
    }
    send_run(202, 1, IMAGE_ENCODING_RAW, len, crc1);
    expect_result(202, wants[1], output_count, "slot 1 first");
    send_run(203, 0, IMAGE_ENCODING_RAW, len, crc0);
    expect_result(203, wants[0], output_count, "then slot 0");
  }
  {
    /* A missing chunk: INFER_RUN names it and keeps the others; that chunk alone completes the input. */
    send_input(210, 0, x0, input_bytes, 2);
    send_run(215, 0, IMAGE_ENCODING_RAW, len, crc0);
    expect_error_detail(215, TML_ERR_INPUT_INCOMPLETE, 2, "INFER_RUN with chunk 2 missing");
    send_chunk(212, 0, 2 * TML_CHUNK_BYTES, x0 + 2 * TML_CHUNK_BYTES, TML_CHUNK_BYTES);
    expect_ack(212, "the missing chunk");
    send_run(215, 0, IMAGE_ENCODING_RAW, len, crc0);
    expect_result(215, wants[0], output_count, "the same INFER_RUN again");
    /* The slot was emptied by the run: running it again needs its chunks again. */
    send_run(215, 0, IMAGE_ENCODING_RAW, len, crc0);
    expect_error_detail(215, TML_ERR_INPUT_INCOMPLETE, 0, "INFER_RUN twice");
  }
  {
    /* A duplicated chunk is stored and acknowledged again: harmless. */
    send_chunk(220, 1, 0, x1, TML_CHUNK_BYTES);
    expect_ack(220, "chunk 0");
    send_input(220, 1, x1, input_bytes, -1);
    send_run(230, 1, IMAGE_ENCODING_RAW, len, crc1);
    expect_result(230, wants[1], output_count, "after a duplicated chunk");
  }
  {
    /* The decoded input is not the one INFER_RUN names: no RESULT, the slot is emptied. */
    send_input(240, 0, x0, input_bytes, -1);
    send_run(245, 0, IMAGE_ENCODING_RAW, len, crc0 ^ 1u);
    expect_error_detail(245, TML_ERR_INPUT_MISMATCH, 2, "INFER_RUN with another CRC");
    send_run(245, 0, IMAGE_ENCODING_RAW, len, crc0);
    expect_error_detail(245, TML_ERR_INPUT_INCOMPLETE, 0, "the slot was emptied");
    /* A stale chunk of the last input (a late resend) lands in the slot of the next one, whose own chunk 1 is lost:
     * every chunk is there, the bytes are wrong, and the CRC says so. Never the other input's RESULT. */
    send_input(250, 0, x0, input_bytes, -1);
    send_run(255, 0, IMAGE_ENCODING_RAW, len, crc0);
    expect_result(255, wants[0], output_count, "input 0");
    send_chunk(251, 0, TML_CHUNK_BYTES, x0 + TML_CHUNK_BYTES, TML_CHUNK_BYTES);
    expect_ack(251, "a stale chunk of input 0");
    send_input(260, 0, x1, input_bytes, 1);
    send_run(265, 0, IMAGE_ENCODING_RAW, len, crc1);
    expect_error_detail(265, TML_ERR_INPUT_MISMATCH, 2, "input 1 with input 0's chunk 1");
  }
  {
    /* Requests the host never makes. */
    send_chunk(270, TML_INPUT_SLOTS, 0, x0, 10);
    expect_error_detail(270, TML_ERR_BAD_LENGTH, 1, "chunk for a slot that does not exist");
    send_chunk(271, 0, 3, x0, 10);
    expect_error_detail(271, TML_ERR_BAD_LENGTH, 1, "chunk offset not a multiple of the chunk size");
    send_chunk(272, 0, (uint16_t)(TML_STAGING_BYTES - 4), x0, 10);
    expect_error_detail(272, TML_ERR_BAD_LENGTH, 1, "chunk past the staging buffer");
    send_frame(PROTO_MSG_INFER_CHUNK, 273, x0, PROTO_CHUNK_HEADER);
    expect_error_detail(273, TML_ERR_BAD_LENGTH, 0, "chunk without data");
    send_run(274, 0, IMAGE_ENCODING_RAW, 0, 0);
    expect_error_detail(274, TML_ERR_BAD_LENGTH, 1, "INFER_RUN of 0 bytes");
    send_run(275, 0, IMAGE_ENCODING_RAW, TML_STAGING_BYTES + 1, 0);
    expect_error_detail(275, TML_ERR_BAD_LENGTH, 1, "INFER_RUN longer than a slot");
    send_run(276, 0, 31, len, crc0);
    expect_error_detail(276, TML_ERR_BAD_ENCODING, 31, "an encoding the device does not offer");
    send_frame(PROTO_MSG_INFER_RUN, 277, x0, 7);
    expect_error_detail(277, TML_ERR_BAD_LENGTH, 0, "INFER_RUN of 7 bytes");
    send_frame(0x02, 278, x0, input_bytes);
    expect_error_detail(278, TML_ERR_BAD_FRAME, 0, "version 3's one-frame INFER is longer than any frame the device reads");
    send_frame(0x02, 279, x0, 8);
    expect_error_detail(279, TML_ERR_BAD_TYPE, 0x02, "version 3's INFER type is retired");
  }

  /* Errors. */
  static uint8_t big[PROTO_MAX_ENCODED + 64];
  send_frame(PROTO_MSG_HELLO + 0x40, 8, NULL, 0);
  expect_error(8, TML_ERR_BAD_TYPE, "unknown type");
  send_frame(PROTO_MSG_HELLO, 9, big, 1);
  expect_error(9, TML_ERR_BAD_LENGTH, "HELLO without its nonce");
  {
    static uint8_t payload[16], out[32];
    const size_t m = proto_frame_seal(payload, PROTO_MSG_HELLO, 10, 0, out);
    out[3] ^= 0x80; /* breaks the header's CRC-16 (seq 10: 0x0a becomes 0x8a, no new 0x00) */
    host_link_feed(out, m);
    expect_error(PROTO_SEQ_UNKNOWN, TML_ERR_BAD_FRAME, "bad header CRC: the sequence number cannot be trusted");
  }
  {
    /* A damaged body, a lost byte and a lost delimiter leave the header whole:
     * the NAK names the chunk, so the host resends that one alone. */
    static uint8_t payload[PROTO_MAX_PAYLOAD], out[2 * PROTO_MAX_ENCODED];
    uint8_t *body = payload + PROTO_HEADER_BYTES;
    body[0] = 0;
    proto_put_u16(body + 1, 0);
    for (size_t i = 0; i < TML_CHUNK_BYTES; ++i) body[PROTO_CHUNK_HEADER + i] = (uint8_t)(1 + i % 200);
    const size_t body_len = PROTO_CHUNK_HEADER + TML_CHUNK_BYTES;
    size_t m = proto_frame_seal(payload, PROTO_MSG_INFER_CHUNK, 60, body_len, out);
    out[m / 2] = out[m / 2] == 0x77 ? 0x78 : 0x77;
    host_link_feed(out, m);
    expect_error(60, TML_ERR_BAD_FRAME, "chunk with a damaged body");
    m = proto_frame_seal(payload, PROTO_MSG_INFER_CHUNK, 61, body_len, out);
    memmove(out + 100, out + 101, m - 101);
    host_link_feed(out, m - 1);
    expect_error(61, TML_ERR_BAD_FRAME, "chunk with a byte lost");
    m = proto_frame_seal(payload, PROTO_MSG_INFER_CHUNK, 62, body_len, out);
    const size_t m2 = proto_frame_seal(payload, PROTO_MSG_INFER_CHUNK, 63, body_len, out + m - 1);
    host_link_feed(out, m - 1 + m2);
    expect_error(62, TML_ERR_BAD_FRAME, "two chunks whose delimiter was lost (an overlong block)");
    m = proto_frame_seal(payload, PROTO_MSG_INFER_CHUNK, 64, body_len, out);
    host_link_feed(out, m);
    expect_ack(64, "the next chunk is stored");
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
    send_hello(12); /* garbage glued to a frame: that block is bad... */
    expect_error(PROTO_SEQ_UNKNOWN, TML_ERR_BAD_FRAME, "garbage before a frame");
    const uint8_t zero = 0;
    host_link_feed(&zero, 1); /* an empty block is ignored */
    send_hello(13); /* ...and the next frame is read normally */
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 13, "resync after garbage");
    app_checks++;
  }
  {
    memset(big, 0x55, sizeof big);
    host_link_feed(big, PROTO_MAX_ENCODED + 10);
    const uint8_t zero = 0;
    host_link_feed(&zero, 1);
    expect_error(PROTO_SEQ_UNKNOWN, TML_ERR_BAD_FRAME, "overlong frame");
    send_hello(14);
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 14, "resync after an overlong frame");
    app_checks++;
  }
  {
    /* Several requests in flight, answered in order. */
    send_hello(20);
    send_run(21, 0, IMAGE_ENCODING_RAW, 0, 0);
    send_hello(22);
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
    send_hello(15);
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 15, "INFO after a log line");
    CHECK(strcmp(last_log, "diag: odd byte ? here") == 0, "LOG text: %s", last_log);
    const uint16_t seq = last_log_seq;
    CHECK(logs_seen - before >= 2, "HELLO replays the boot line too (%d LOGs)", logs_seen - before);
    char longline[PROTO_LOG_MAX_TEXT + 41];
    memset(longline, 'L', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    tml_log(longline);
    send_run(16, 0, IMAGE_ENCODING_RAW, 0, 0);
    proto_frame_t lf;
    CHECK(next_frame(&lf) && lf.type == PROTO_MSG_LOG && lf.seq == (uint16_t)(seq + 1) && lf.body_len == PROTO_LOG_HEADER + PROTO_LOG_MAX_TEXT &&
          get_u32(lf.body) == boot_id, "long line, first part");
    CHECK(next_frame(&lf) && lf.type == PROTO_MSG_LOG && lf.seq == (uint16_t)(seq + 2) && lf.body_len == PROTO_LOG_HEADER + 40, "long line, rest");
    expect_error(16, TML_ERR_BAD_LENGTH, "the answer after the log lines");
    app_checks++;
  }
  {
    /* A host that stops reading: the write drops and counts instead of blocking, INFO says how much. */
    host_link_set_tx_room(10);
    send_hello(17);
    app_poll();
    host_link_set_tx_room(1u << 16);
    rx_have = host_link_take(rx_wire, sizeof rx_wire);
    CHECK(rx_have == 10, "the link took %zu bytes, room for 10", rx_have);
    rx_have = 0; /* the start of a frame: a host drops it at the next 0x00 */
    const uint8_t zero = 0;
    host_link_feed(&zero, 1);
    send_hello(18);
    app_poll();
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && fr.seq == 18, "INFO after the drop");
    CHECK(get_u32(fr.body + 56) > 0 && get_u32(fr.body + 56) == hal_serial_dropped(), "INFO dropped bytes %u",
          get_u32(fr.body + 56));
    app_checks++;
  }
  {
    /* A model that fails to load still answers HELLO, with the reason. */
    model[5] ^= 0xff;
    app_init(model, nbytes); /* a reboot */
    const uint8_t other_nonce[4] = {9, 8, 7, 6};
    send_frame(PROTO_MSG_HELLO, 30, other_nonce, 4);
    CHECK(answer(&fr) && fr.type == PROTO_MSG_INFO && get_u16(fr.body + 46) == TML_ERR_MODEL_IDENTIFIER,
          "INFO status of a bad model");
    const uint32_t new_boot = get_u32(fr.body + fr.body_len - 4);
    CHECK(new_boot != 0 && new_boot != boot_id && last_log_boot == new_boot, "a new boot id after a reboot: %08x, was %08x", new_boot, boot_id);
    CHECK(get_u32(fr.body + 4) == proto_crc32(0, model, nbytes), "INFO CRC of a bad model");
    send_run(31, 0, IMAGE_ENCODING_RAW, len, crc0);
    expect_error(31, TML_ERR_MODEL_NOT_READY, "INFER_RUN on a bad model");
    app_checks++;
  }
  for (long c = 0; c < cases; ++c) free(xs[c]), free(wants[c]);
  free(model);
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "protocol_test: cannot open %s\n", path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = (uint8_t *)vec_alloc(n > 0 ? (size_t)n : 1);
  *len = fread(buf, 1, n > 0 ? (size_t)n : 0, f);
  fclose(f);
  return buf;
}

/* --replay: one boot, every request byte fed at once, every answer byte to stdout. */
static int replay(const char *model_path, const char *requests_path) {
  size_t model_len = 0, req_len = 0;
  uint8_t *model = read_file(model_path, &model_len);
  uint8_t *req = read_file(requests_path, &req_len);
  if (model == NULL || req == NULL) return 2;
  hal_init();
  host_link_set_cycle_step(1234);
  app_init(model, (uint32_t)model_len);
  for (size_t at = 0; at < req_len;) {
    const size_t n = req_len - at < 4096 ? req_len - at : 4096;
    host_link_feed(req + at, n);
    at += n;
    app_poll();
    size_t got;
    while ((got = host_link_take(rx_wire, sizeof rx_wire)) > 0) fwrite(rx_wire, 1, got, stdout);
  }
  free(model), free(req);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--replay") == 0) return replay(argv[2], argv[3]);
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
