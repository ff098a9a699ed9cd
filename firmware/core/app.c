/* The request loop (app.h) for protocol version 1 (docs/protocol.md). */
#include "app.h"

#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "hal.h"
#include "protocol.h"
#include "runtime.h"
#include "status.h"

#define RX_MAX (PROTO_MAX_ENCODED - 1u) /* longest block between delimiters */

static struct {
  tml_status_t load_status;
  uint32_t model_crc;
  uint32_t model_len;
  runtime_info_t info;
  uint8_t rx[RX_MAX];
  size_t rx_len;
  bool rx_overflow; /* the current block outgrew rx: answer BAD_FRAME at its delimiter */
  uint8_t tx_payload[PROTO_MAX_PAYLOAD];
  uint8_t tx_wire[PROTO_MAX_ENCODED];
} s_app;

static uint8_t *tx_body(void) { return s_app.tx_payload + PROTO_HEADER_BYTES; }

static void send(uint8_t type, uint16_t seq, size_t body_len) {
  const size_t n = proto_frame_seal(s_app.tx_payload, type, seq, body_len, s_app.tx_wire);
  if (n > 0) hal_serial_write(s_app.tx_wire, n);
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

static void send_info(uint16_t seq) {
  const runtime_info_t *ri = &s_app.info;
  const hal_board_info_t *board = hal_board_info();
  uint8_t *b = tx_body();
  memset(b, 0, 57);
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
  size_t name_len = board->name != NULL ? strlen(board->name) : 0;
  if (name_len > 255) name_len = 255;
  b[56] = (uint8_t)name_len;
  memcpy(b + 57, board->name, name_len);
  send(PROTO_MSG_INFO, seq, 57 + name_len);
}

static void handle_infer(const proto_frame_t *f) {
  if (s_app.load_status != TML_OK) {
    send_error(f->seq, TML_ERR_MODEL_NOT_READY, (uint8_t)s_app.load_status);
    return;
  }
  const uint32_t n = s_app.info.output_count;
  if (f->body_len != s_app.info.input_bytes || 8u + n > PROTO_MAX_BODY) {
    send_error(f->seq, TML_ERR_BAD_LENGTH, 0);
    return;
  }
  uint8_t *b = tx_body();
  int8_t *outputs = (int8_t *)(b + 8);
  uint32_t cycles = 0;
  const tml_status_t st = runtime_invoke((const int8_t *)f->body, outputs, &cycles);
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

static void handle_block(void) {
  proto_frame_t f;
  const tml_status_t st = proto_frame_parse(s_app.rx, s_app.rx_len, &f);
  if (st != TML_OK) {
    send_error(f.seq, st, 0);
    return;
  }
  switch (f.type) {
    case PROTO_MSG_HELLO:
      if (f.body_len != 0) {
        send_error(f.seq, TML_ERR_BAD_LENGTH, 0);
      } else {
        send_info(f.seq);
      }
      break;
    case PROTO_MSG_INFER:
      handle_infer(&f);
      break;
    default:
      send_error(f.seq, TML_ERR_BAD_TYPE, f.type);
      break;
  }
}

void app_init(const uint8_t *model, uint32_t model_len) {
  memset(&s_app, 0, sizeof s_app);
  s_app.model_len = model_len;
  s_app.model_crc = model != NULL ? proto_crc32(0, model, model_len) : 0;
  s_app.load_status = runtime_init(model, model_len, &s_app.info);
}

void app_poll(void) {
  for (;;) {
    const int c = hal_serial_read_byte();
    if (c < 0) return;
    if (c == 0x00) {
      if (s_app.rx_overflow) {
        send_error(PROTO_SEQ_UNKNOWN, TML_ERR_BAD_FRAME, 0);
      } else if (s_app.rx_len > 0) {
        handle_block();
      } /* an empty block (0x00 0x00) is only a resync: ignored */
      s_app.rx_len = 0;
      s_app.rx_overflow = false;
    } else if (s_app.rx_len < RX_MAX) {
      s_app.rx[s_app.rx_len++] = (uint8_t)c;
    } else {
      s_app.rx_overflow = true;
    }
  }
}
