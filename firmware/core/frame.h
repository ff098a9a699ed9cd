/* Frame building and parsing of protocol version 4 (docs/protocol.md), on top
 * of protocol.h's CRC-32 and COBS. Core-internal; implemented in protocol.c.
 * Pure functions: tested on the host (firmware/tests/protocol_test.c). */
#ifndef TINYML_FRAME_H
#define TINYML_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A parsed frame; `body` points into the caller's buffer. */
typedef struct {
  uint8_t type;
  uint16_t seq;
  const uint8_t *body;
  size_t body_len;
} proto_frame_t;

/* Seals a payload whose body (body_len <= PROTO_MAX_BODY bytes) the caller has
 * already written at payload + PROTO_HEADER_BYTES: writes version, type, seq,
 * body length and the header's CRC-16, appends the CRC-32 (payload needs PROTO_MAX_PAYLOAD bytes of room), then
 * COBS-encodes it into `wire` (PROTO_MAX_ENCODED bytes of room) followed by the
 * 0x00 delimiter. Returns the number of wire bytes, or 0 if body_len is too big. */
size_t proto_frame_seal(uint8_t *payload, uint8_t type, uint16_t seq, size_t body_len, uint8_t *wire);

/* As proto_frame_seal(), but COBS-encodes on the way out, handing the wire form
 * to `write` in pieces of at most 64 bytes (a buffer on the stack): the device
 * needs no wire buffer for what it sends. Returns the wire bytes written, or 0
 * (nothing written) if body_len is too big. */
size_t proto_frame_send(uint8_t *payload, uint8_t type, uint16_t seq, size_t body_len,
                        void (*write)(const uint8_t *data, size_t n));

/* Parses one received block (the bytes between two 0x00 delimiters, or the
 * first of them when the block outgrew the receive buffer), decoding the COBS
 * in place. Returns TML_OK with
 * *frame filled, or
 *  - TML_ERR_BAD_FRAME: COBS, length or CRC failure, or too long. frame->seq and
 *    type are the header's when its CRC-16 held (the body was damaged: NAK that
 *    request), else frame->seq = PROTO_SEQ_UNKNOWN.
 *  - TML_ERR_BAD_VERSION: the frame checks, but its version byte is not
 *    PROTO_VERSION (frame->seq and type are valid).
 * Message types and body lengths are the caller's to check. */
tml_status_t proto_frame_parse(uint8_t *block, size_t n, proto_frame_t *frame);

/* Little-endian stores for building bodies. */
static inline void proto_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void proto_put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t proto_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t proto_get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#ifdef __cplusplus
}
#endif

#endif
