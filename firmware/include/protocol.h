/* Protocol version 3 between host and device: the numbers of docs/protocol.md.
 * Framing (COBS + CRC-32) and message encoding are pure functions with no board
 * code, so they are tested on the host. */
#ifndef TINYML_PROTOCOL_H
#define TINYML_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROTO_VERSION 3u

#define PROTO_MSG_HELLO 0x01u
#define PROTO_MSG_INFER 0x02u
#define PROTO_MSG_INFO 0x81u
#define PROTO_MSG_RESULT 0x82u
#define PROTO_MSG_LOG 0x83u /* device -> host, unsolicited: one line of the device log */
#define PROTO_MSG_ERROR 0x7Fu

/* version u8, type u8, seq u16, body length u16, CRC-16 of those six bytes u16:
 * the header has its own check so a frame with a damaged body still names its
 * sequence number (the device NAKs that one request). */
#define PROTO_HEADER_BYTES 8u
#define PROTO_CRC_BYTES 4u
#define PROTO_MAX_BODY 1024u
#define PROTO_MAX_PAYLOAD (PROTO_HEADER_BYTES + PROTO_MAX_BODY + PROTO_CRC_BYTES)
/* COBS adds one byte per 254 and one at the start; plus the 0x00 delimiter. */
#define PROTO_MAX_ENCODED (PROTO_MAX_PAYLOAD + PROTO_MAX_PAYLOAD / 254u + 2u)
#define PROTO_SEQ_UNKNOWN 0xFFFFu
/* Longest LOG text: printable ASCII, no terminator, no newline. Longer lines are
 * split. Bounded so a LOG frame stays small next to the INFER traffic. */
#define PROTO_LOG_MAX_TEXT 160u

/* CRC-32/IEEE (poly 0xEDB88320 reflected, init and final XOR 0xFFFFFFFF).
 * Pass crc = 0 to start; feed further chunks with the returned value. */
uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t n);

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR;
 * "123456789" gives 0x29B1): the header check. */
uint16_t proto_crc16(const uint8_t *data, size_t n);

/* COBS-encodes n bytes of src into dst (room for n + n/254 + 1 bytes), without
 * the 0x00 delimiter. Returns the encoded length. */
size_t proto_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst);

/* Decodes a COBS block (delimiter removed) in place or into dst (may equal src).
 * Returns the decoded length, or -1 if the block is malformed. */
long proto_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst);

#ifdef __cplusplus
}
#endif

#endif
