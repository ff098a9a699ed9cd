/* The request loop (app.h) for protocol version 4 (docs/protocol.md), and the
 * device log (log.h) it sends as LOG frames. */
#include "app.h"

#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "hal.h"
#include "image_codec.h"
#include "log.h"
#include "protocol.h"
#include "runtime.h"
#include "status.h"

/* Longest block between delimiters the device keeps: one INFER_CHUNK frame.
 * Anything longer is NAKed at its delimiter (BAD_FRAME, with its sequence
 * number when the header survived). */
#define RX_MAX PROTO_RX_MAX_ENCODED

/* INFO's runtime version: TML_RUNTIME_VERSION (a string literal) when the build
 * defines it (the emulator build passes -D, the Arduino sketch's tinyml_config.h
 * defines it), else the runtime's plain name. */
#ifdef TML_RUNTIME_VERSION
static const char *runtime_version(runtime_kind_t kind) {
  (void)kind;
  return TML_RUNTIME_VERSION;
}
#else
static const char *runtime_version(runtime_kind_t kind) { return kind == RUNTIME_NATIVE ? "native" : "tflm"; }
#endif

/* This boot's id, sent in INFO and in every LOG, so a host tells a reset device
 * (line numbers restarting at 0) from replayed lines. Set from the first block
 * the device hears after boot (a HELLO carries the host's random nonce; after a
 * reset mid-run, another input's chunk) and the cycle counter; never 0. */
static uint32_t s_boot_id;

static void boot_id_from(const uint8_t *block, size_t n) {
  if (s_boot_id != 0) return;
  const uint32_t now = hal_cycles_now();
  uint8_t c[4];
  proto_put_u32(c, now);
  s_boot_id = proto_crc32(proto_crc32(0, block, n), c, sizeof c);
  if (s_boot_id == 0) s_boot_id = 1;
}

static void serial_write(const uint8_t *data, size_t n) { hal_serial_write(data, n); }

/* ------------------------------------------------------------- device log */

/* The last LOG_LINES lines, line number s at slot s % LOG_LINES (65536 is a
 * multiple, so the mapping survives the u16 wrap). Kept apart from s_app: the
 * runtime logs while app_init() loads the model. */
#define LOG_LINES 8u
#define LOG_PAYLOAD (PROTO_HEADER_BYTES + PROTO_LOG_HEADER + PROTO_LOG_MAX_TEXT + PROTO_CRC_BYTES)

static struct {
  char text[LOG_LINES][PROTO_LOG_MAX_TEXT];
  uint8_t len[LOG_LINES];
  uint16_t next_seq; /* line number of the line being written */
  uint16_t kept;     /* lines retained, the newest ones: next_seq - kept .. next_seq - 1 */
  uint16_t unsent;   /* of those, the newest `unsent` are still to be sent */
  char line[PROTO_LOG_MAX_TEXT];
  uint8_t line_len;
  /* LOG frames have their own payload buffer: a line may be sent while an
   * answer is being built in s_app.tx_payload (TFLM logs during Invoke). */
  uint8_t payload[LOG_PAYLOAD];
} s_log;

static void log_end_line(void) {
  if (s_log.line_len == 0) return;
  const unsigned slot = s_log.next_seq % LOG_LINES;
  memcpy(s_log.text[slot], s_log.line, s_log.line_len);
  s_log.len[slot] = s_log.line_len;
  s_log.line_len = 0;
  s_log.next_seq++;
  if (s_log.kept < LOG_LINES) s_log.kept++;
  if (s_log.unsent < LOG_LINES) s_log.unsent++;
}

void tml_log_write(const char *text) {
  for (; text != NULL && *text != '\0'; ++text) {
    const char c = *text;
    if (c == '\n') {
      log_end_line();
    } else if (c != '\r') {
      if (s_log.line_len == PROTO_LOG_MAX_TEXT) log_end_line();
      s_log.line[s_log.line_len++] = (c >= 0x20 && c <= 0x7E) ? c : '?';
    }
  }
}

void tml_log_u32(uint32_t v) {
  char digits[11];
  size_t i = sizeof digits - 1;
  digits[i] = '\0';
  do {
    digits[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0);
  tml_log_write(digits + i);
}

void tml_log(const char *line) {
  tml_log_write(line);
  log_end_line();
}

static void log_hex32(uint32_t v) {
  static const char k_hex[] = "0123456789abcdef";
  char s[9];
  for (int i = 7; i >= 0; --i, v >>= 4) s[i] = k_hex[v & 0xFu];
  s[8] = '\0';
  tml_log_write(s);
}

/* Sends the unsent lines, oldest first, each as a LOG frame whose sequence
 * number is its line number (the device's own count: a gap tells the host that
 * lines were overwritten before they could be sent). */
static void log_flush(void) {
  while (s_log.unsent > 0) {
    const uint16_t seq = (uint16_t)(s_log.next_seq - s_log.unsent);
    const unsigned slot = seq % LOG_LINES;
    proto_put_u32(s_log.payload + PROTO_HEADER_BYTES, s_boot_id);
    memcpy(s_log.payload + PROTO_HEADER_BYTES + PROTO_LOG_HEADER, s_log.text[slot], s_log.len[slot]);
    s_log.unsent--;
    proto_frame_send(s_log.payload, PROTO_MSG_LOG, seq, PROTO_LOG_HEADER + s_log.len[slot], serial_write);
  }
}

/* One encoded input being assembled: chunk k holds bytes k*C .. k*C+len-1,
 * chunk_len[k] = 0 while it has not arrived since the slot was last emptied. */
typedef struct {
  uint8_t bytes[TML_STAGING_BYTES];
  uint16_t chunk_len[PROTO_CHUNKS_PER_SLOT];
} input_slot_t;

static struct {
  tml_status_t load_status;
  uint32_t model_crc;
  uint32_t model_len;
  runtime_info_t info;
  uint8_t rx[RX_MAX];
  size_t rx_len;
  bool rx_overflow; /* the current block outgrew rx: NAK it (BAD_FRAME) at its delimiter */
  input_slot_t slot[TML_INPUT_SLOTS];
  /* Answers are sealed here and COBS-encoded on their way out (proto_frame_send): no wire buffer. */
  uint8_t tx_payload[PROTO_MAX_PAYLOAD];
} s_app;

static uint8_t *tx_body(void) { return s_app.tx_payload + PROTO_HEADER_BYTES; }

/* Every answer is preceded by the log lines written since the last one, so a
 * line about a request (a TFLM error during Invoke) reaches the host first. */
static void send(uint8_t type, uint16_t seq, size_t body_len) {
  log_flush();
  proto_frame_send(s_app.tx_payload, type, seq, body_len, serial_write);
}

static void send_error(uint16_t seq, tml_status_t code, uint8_t detail) {
  tx_body()[0] = (uint8_t)code;
  tx_body()[1] = detail;
  send(PROTO_MSG_ERROR, seq, 2);
}

static void put_f32(uint8_t *p, float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  proto_put_u32(p, bits);
}

/* INFO's fixed part; then the board name and the runtime version, each a u8
 * length and that many ASCII bytes, then INFO_TAIL bytes (docs/protocol.md). */
#define INFO_FIXED 60u
#define INFO_TAIL 13u
_Static_assert(INFO_FIXED + 2u * (1u + 255u) + INFO_TAIL <= PROTO_MAX_BODY, "INFO with two 255-byte strings fits a frame");

static size_t put_string(uint8_t *b, size_t at, const char *s) {
  size_t len = s != NULL ? strlen(s) : 0;
  if (len > 255) len = 255;
  b[at] = (uint8_t)len;
  if (len > 0) memcpy(b + at + 1, s, len);
  return at + 1 + len;
}

static void send_info(uint16_t seq) {
  const runtime_info_t *ri = &s_app.info;
  const hal_board_info_t *board = hal_board_info();
  uint8_t *b = tx_body();
  memset(b, 0, INFO_FIXED);
  b[0] = (uint8_t)PROTO_VERSION;
  b[1] = (uint8_t)ri->kind;
  b[2] = (uint8_t)board->cycle_unit;
  b[3] = ri->input_rank;
  proto_put_u32(b + 4, s_app.model_crc);
  proto_put_u32(b + 8, s_app.model_len);
  proto_put_u32(b + 12, ri->arena_used);
  proto_put_u32(b + 16, ri->arena_size);
  proto_put_u32(b + 20, board->cpu_hz);
  for (unsigned d = 0; d < RUNTIME_MAX_RANK; ++d) proto_put_u16(b + 24 + 2 * d, ri->input_dims[d]);
  proto_put_u32(b + 32, ri->input_bytes);
  put_f32(b + 36, ri->input_scale);
  proto_put_u32(b + 40, (uint32_t)ri->input_zero_point);
  proto_put_u16(b + 44, ri->output_count);
  proto_put_u16(b + 46, (uint16_t)s_app.load_status);
  put_f32(b + 48, ri->output_scale);
  proto_put_u32(b + 52, (uint32_t)ri->output_zero_point);
  proto_put_u32(b + 56, hal_serial_dropped());
  size_t at = INFO_FIXED;
  at = put_string(b, at, board->name);
  at = put_string(b, at, runtime_version(ri->kind));
  proto_put_u16(b + at, (uint16_t)TML_CHUNK_BYTES);
  b[at + 2] = (uint8_t)TML_INPUT_SLOTS;
  proto_put_u16(b + at + 3, (uint16_t)TML_STAGING_BYTES);
  proto_put_u32(b + at + 5, (uint32_t)IMAGE_ENCODINGS_SUPPORTED);
  proto_put_u32(b + at + 9, s_boot_id);
  send(PROTO_MSG_INFO, seq, at + INFO_TAIL);
}

static void slot_empty(input_slot_t *s) { memset(s->chunk_len, 0, sizeof s->chunk_len); }

/* INFER_CHUNK: slot u8, offset u16 (a multiple of the chunk size), then 1..C bytes. */
static void handle_chunk(const proto_frame_t *f) {
  if (f->body_len <= PROTO_CHUNK_HEADER || f->body_len > PROTO_CHUNK_HEADER + TML_CHUNK_BYTES) {
    send_error(f->seq, TML_ERR_BAD_LENGTH, 0);
    return;
  }
  const uint8_t slot = f->body[0];
  const uint32_t offset = proto_get_u16(f->body + 1);
  const uint32_t len = (uint32_t)(f->body_len - PROTO_CHUNK_HEADER);
  if (slot >= TML_INPUT_SLOTS || offset % TML_CHUNK_BYTES != 0 || offset + len > TML_STAGING_BYTES) {
    send_error(f->seq, TML_ERR_BAD_LENGTH, 1);
    return;
  }
  input_slot_t *s = &s_app.slot[slot];
  memcpy(s->bytes + offset, f->body + PROTO_CHUNK_HEADER, len);
  s->chunk_len[offset / TML_CHUNK_BYTES] = (uint16_t)len;
  send(PROTO_MSG_CHUNK_ACK, f->seq, 0);
}

/* INFER_RUN: slot u8, encoding u8, encoded length u16, CRC-32 of the decoded input u32. */
static void handle_run(const proto_frame_t *f) {
  if (s_app.load_status != TML_OK) {
    send_error(f->seq, TML_ERR_MODEL_NOT_READY, (uint8_t)s_app.load_status);
    return;
  }
  const uint32_t n = s_app.info.output_count;
  if (f->body_len != PROTO_RUN_BODY || 8u + n > PROTO_MAX_BODY) {
    send_error(f->seq, TML_ERR_BAD_LENGTH, 0);
    return;
  }
  const uint8_t slot = f->body[0], encoding = f->body[1];
  const uint32_t len = proto_get_u16(f->body + 2), crc = proto_get_u32(f->body + 4);
  if (slot >= TML_INPUT_SLOTS || len == 0 || len > TML_STAGING_BYTES) {
    send_error(f->seq, TML_ERR_BAD_LENGTH, 1);
    return;
  }
  if (encoding >= 32u || ((uint32_t)IMAGE_ENCODINGS_SUPPORTED >> encoding & 1u) == 0) {
    send_error(f->seq, TML_ERR_BAD_ENCODING, encoding);
    return;
  }
  input_slot_t *s = &s_app.slot[slot];
  const uint32_t chunks = (len + TML_CHUNK_BYTES - 1u) / TML_CHUNK_BYTES;
  for (uint32_t k = 0; k < chunks; ++k) {
    const uint32_t want = k + 1u < chunks ? TML_CHUNK_BYTES : len - k * TML_CHUNK_BYTES;
    /* A chunk of another length is from an earlier input of another size: missing too. */
    if (s->chunk_len[k] != want) {
      send_error(f->seq, TML_ERR_INPUT_INCOMPLETE, (uint8_t)(k < 255u ? k : 255u));
      return;
    }
  }
  /* Whatever happens next, these chunks have been used: a RUN sent again must
   * come with its chunks again (a stale chunk can never be run twice). */
  slot_empty(s);
  int8_t *input = runtime_input_tensor();
  const uint32_t input_bytes = s_app.info.input_bytes;
  if (input == NULL || image_decode(encoding, s->bytes, len, input, input_bytes) != 0) {
    send_error(f->seq, TML_ERR_INPUT_MISMATCH, 1);
    return;
  }
  if (proto_crc32(0, (const uint8_t *)input, input_bytes) != crc) {
    send_error(f->seq, TML_ERR_INPUT_MISMATCH, 2);
    return;
  }
  uint8_t *b = tx_body();
  int8_t *outputs = (int8_t *)(b + 8);
  uint32_t cycles = 0;
  const tml_status_t st = runtime_invoke(NULL, outputs, &cycles);
  if (st != TML_OK) {
    send_error(f->seq, TML_ERR_INVOKE_FAILED, (uint8_t)st);
    return;
  }
  uint32_t top = 0;
  for (uint32_t i = 1; i < n; ++i) {
    if (outputs[i] > outputs[top]) top = i; /* first index of the max */
  }
  b[0] = (uint8_t)top;
  b[1] = 0;
  proto_put_u16(b + 2, (uint16_t)n);
  proto_put_u32(b + 4, cycles);
  send(PROTO_MSG_RESULT, f->seq, 8u + n);
}

static void handle_block(bool overflow) {
  boot_id_from(s_app.rx, s_app.rx_len);
  proto_frame_t f;
  /* An overlong block (two frames whose delimiter was lost) still names the
   * first one's sequence number when its header is intact. */
  tml_status_t st = proto_frame_parse(s_app.rx, s_app.rx_len, &f);
  if (overflow && st == TML_OK) st = TML_ERR_BAD_FRAME;
  if (st != TML_OK) {
    send_error(f.seq, st, 0);
    return;
  }
  switch (f.type) {
    case PROTO_MSG_HELLO:
      if (f.body_len != 4) {
        send_error(f.seq, TML_ERR_BAD_LENGTH, 0);
      } else {
        /* A new host (or one that lost the first answers while opening the
         * port) gets every kept line again, boot lines included; it drops the
         * line numbers it already has. */
        s_log.unsent = s_log.kept;
        send_info(f.seq);
      }
      break;
    case PROTO_MSG_INFER_CHUNK:
      handle_chunk(&f);
      break;
    case PROTO_MSG_INFER_RUN:
      handle_run(&f);
      break;
    default:
      send_error(f.seq, TML_ERR_BAD_TYPE, f.type);
      break;
  }
}

/* One line saying what was loaded, or why not, with the sizes that matter. */
static void log_load(void) {
  const runtime_info_t *ri = &s_app.info;
  if (s_app.load_status == TML_OK) {
    tml_log_write("model loaded: ");
    tml_log_write(runtime_version(ri->kind));
    tml_log_write(" runtime, ");
    tml_log_u32(s_app.model_len);
    tml_log_write(" bytes, CRC-32 ");
    log_hex32(s_app.model_crc);
    tml_log_write(", arena ");
    tml_log_u32(ri->arena_used);
    tml_log_write(" of ");
    tml_log_u32(ri->arena_size);
    tml_log(" bytes");
    return;
  }
  if (s_app.load_status == TML_ERR_ARENA_TOO_SMALL) {
    tml_log_write("model not loaded: tensor arena too small: the model needs ");
    if (ri->arena_used > ri->arena_size) {
      /* TFLM knows only the shortfall of the allocation that failed. */
      if (ri->kind == RUNTIME_TFLM) tml_log_write("at least ");
      tml_log_u32(ri->arena_used);
    } else {
      tml_log_write("more than ");
      tml_log_u32(ri->arena_size);
    }
    tml_log_write(" bytes, the firmware has ");
    tml_log_u32(ri->arena_size);
    tml_log(" (TML_ARENA_BYTES)");
    return;
  }
  tml_log_write("model not loaded: status ");
  tml_log_u32((uint32_t)s_app.load_status);
  tml_log("");
}

void app_init(const uint8_t *model, uint32_t model_len) {
  memset(&s_app, 0, sizeof s_app);
  s_boot_id = 0;
  s_app.model_len = model_len;
  s_app.model_crc = model != NULL ? proto_crc32(0, model, model_len) : 0;
  s_app.load_status = runtime_init(model, model_len, &s_app.info);
  log_load();
}

void app_poll(void) {
  for (;;) {
    const int c = hal_serial_read_byte();
    if (c < 0) return;
    if (c == 0x00) {
      if (s_app.rx_len > 0) handle_block(s_app.rx_overflow); /* an empty block (0x00 0x00) is only a resync: ignored */
      s_app.rx_len = 0;
      s_app.rx_overflow = false;
    } else if (s_app.rx_len < RX_MAX) {
      s_app.rx[s_app.rx_len++] = (uint8_t)c;
    } else {
      s_app.rx_overflow = true;
    }
  }
}
