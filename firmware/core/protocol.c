/* CRC-32, COBS and frames of the protocol (docs/protocol.md). */
#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "protocol.h"

/* CRC-32/IEEE, reflected, one nibble at a time: a 64-byte table, ~2 table
 * lookups per byte; fast enough for the model CRC at boot and for frames. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
    crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
  }
  return ~crc;
}

size_t proto_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst) {
  size_t code_at = 0; /* where the current block's code byte goes */
  size_t out = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < n; ++i) {
    if (src[i] == 0) {
      dst[code_at] = code;
      code_at = out++;
      code = 1;
    } else {
      dst[out++] = src[i];
      /* A full block closes here; as in the canonical encoder, no empty block
       * follows when the input ends right after it. */
      if (++code == 0xFF && i + 1 < n) {
        dst[code_at] = code;
        code_at = out++;
        code = 1;
      }
    }
  }
  dst[code_at] = code;
  return out;
}

uint16_t proto_crc16(const uint8_t *data, size_t n) {
  uint16_t crc = 0xFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= (uint16_t)(data[i] << 8);
    for (int k = 0; k < 8; ++k) crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
  }
  return crc;
}

/* Decodes as far as the block is well-formed; *complete says whether all of it
 * was. What comes before a damaged byte is decoded right, which is how a frame
 * whose body was hit still gives its header (and so its sequence number). */
static size_t cobs_decode_prefix(const uint8_t *src, size_t n, uint8_t *dst, bool *complete) {
  size_t in = 0, out = 0;
  *complete = false;
  while (in < n) {
    const uint8_t code = src[in++];
    if (code == 0) return out;
    for (uint8_t k = 1; k < code; ++k) {
      if (in >= n || src[in] == 0) return out;
      dst[out++] = src[in++];
    }
    if (code != 0xFF && in < n) dst[out++] = 0;
  }
  *complete = n > 0;
  return out;
}

long proto_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst) {
  bool complete;
  const size_t out = cobs_decode_prefix(src, n, dst, &complete);
  return complete || n == 0 ? (long)out : -1;
}

/* Seals the header and the CRC-32 around a body already in place; returns the payload length. */
static size_t seal_payload(uint8_t *payload, uint8_t type, uint16_t seq, size_t body_len) {
  payload[0] = (uint8_t)PROTO_VERSION;
  payload[1] = type;
  proto_put_u16(payload + 2, seq);
  proto_put_u16(payload + 4, (uint16_t)body_len);
  proto_put_u16(payload + 6, proto_crc16(payload, 6));
  const size_t crc_at = PROTO_HEADER_BYTES + body_len;
  proto_put_u32(payload + crc_at, proto_crc32(0, payload, crc_at));
  return crc_at + PROTO_CRC_BYTES;
}

size_t proto_frame_seal(uint8_t *payload, uint8_t type, uint16_t seq, size_t body_len, uint8_t *wire) {
  if (body_len > PROTO_MAX_BODY) return 0;
  const size_t n = proto_cobs_encode(payload, seal_payload(payload, type, seq, body_len), wire);
  wire[n] = 0x00;
  return n + 1;
}

/* proto_frame_send()'s output: bytes gathered in a small buffer on the stack,
 * so `write` is called once per 64 bytes rather than per COBS block (on USB
 * CDC each call may become a packet). */
typedef struct {
  uint8_t buf[64];
  size_t fill;
  size_t total;
  void (*write)(const uint8_t *data, size_t n);
} send_buf_t;

static void send_flush(send_buf_t *o) {
  if (o->fill > 0) o->write(o->buf, o->fill);
  o->fill = 0;
}

static void send_bytes(send_buf_t *o, const uint8_t *p, size_t n) {
  o->total += n;
  while (n > 0) {
    size_t k = sizeof o->buf - o->fill;
    if (k > n) k = n;
    memcpy(o->buf + o->fill, p, k);
    o->fill += k;
    p += k;
    n -= k;
    if (o->fill == sizeof o->buf) send_flush(o);
  }
}

size_t proto_frame_send(uint8_t *payload, uint8_t type, uint16_t seq, size_t body_len,
                        void (*write)(const uint8_t *data, size_t n)) {
  if (body_len > PROTO_MAX_BODY) return 0;
  const size_t n = seal_payload(payload, type, seq, body_len);
  send_buf_t o = {.fill = 0, .total = 0, .write = write};
  /* The same blocks as proto_cobs_encode(): a code byte, then up to 254 bytes
   * that are not 0x00; a full block consumes no zero and ends the frame when
   * the payload ends with it. */
  size_t i = 0;
  for (;;) {
    size_t j = i;
    while (j < n && payload[j] != 0 && j - i < 254u) ++j;
    const uint8_t code = (uint8_t)(j - i + 1u);
    send_bytes(&o, &code, 1);
    send_bytes(&o, payload + i, j - i);
    if (code == 0xFFu) {
      i = j;
      if (i >= n) break;
    } else if (j >= n) {
      break;
    } else {
      i = j + 1u;
    }
  }
  static const uint8_t delimiter = 0x00;
  send_bytes(&o, &delimiter, 1);
  send_flush(&o);
  return o.total;
}

tml_status_t proto_frame_parse(uint8_t *block, size_t n, proto_frame_t *frame) {
  memset(frame, 0, sizeof *frame);
  frame->seq = PROTO_SEQ_UNKNOWN;
  bool complete;
  /* Decoding never grows a block, so it is done in place. */
  const size_t len = cobs_decode_prefix(block, n, block, &complete);
  if (len < PROTO_HEADER_BYTES) return TML_ERR_BAD_FRAME;
  if (proto_crc16(block, 6) != (uint16_t)(block[6] | block[7] << 8)) return TML_ERR_BAD_FRAME;
  /* From here the header is trusted: a damaged body is NAKed with its sequence number. */
  frame->type = block[1];
  frame->seq = (uint16_t)(block[2] | block[3] << 8);
  const size_t body_len = (size_t)(block[4] | block[5] << 8);
  if (!complete || n > PROTO_MAX_ENCODED || body_len > PROTO_MAX_BODY ||
      len != PROTO_HEADER_BYTES + body_len + PROTO_CRC_BYTES) {
    return TML_ERR_BAD_FRAME;
  }
  const size_t crc_at = PROTO_HEADER_BYTES + body_len;
  const uint32_t crc = (uint32_t)block[crc_at] | (uint32_t)block[crc_at + 1] << 8 |
                       (uint32_t)block[crc_at + 2] << 16 | (uint32_t)block[crc_at + 3] << 24;
  if (proto_crc32(0, block, crc_at) != crc) return TML_ERR_BAD_FRAME;
  frame->body = block + PROTO_HEADER_BYTES;
  frame->body_len = body_len;
  return block[0] == PROTO_VERSION ? TML_OK : TML_ERR_BAD_VERSION;
}
