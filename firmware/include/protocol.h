/* Protocol version 4 between host and device: the numbers of docs/protocol.md.
 * Framing (COBS + CRC-32) and message encoding are pure functions with no board
 * code, so they are tested on the host. */
#ifndef TINYML_PROTOCOL_H
#define TINYML_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROTO_VERSION 4u

#define PROTO_MSG_HELLO 0x01u
/* 0x02 was version 3's one-frame INFER: retired (BAD_TYPE), inputs travel in chunks. */
#define PROTO_MSG_INFER_CHUNK 0x03u /* slot u8, offset u16, 1..chunk bytes of the encoded input */
#define PROTO_MSG_INFER_RUN 0x04u   /* slot u8, encoding u8, encoded length u16, CRC-32 of the decoded input u32 */
#define PROTO_MSG_INFO 0x81u
#define PROTO_MSG_RESULT 0x82u
#define PROTO_MSG_LOG 0x83u /* device -> host, unsolicited: boot id u32, then one line of the device log */
#define PROTO_MSG_CHUNK_ACK 0x84u /* device -> host: INFER_CHUNK stored; empty body */
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
#define PROTO_LOG_HEADER 4u /* the boot id before the text */

#define PROTO_CHUNK_HEADER 3u /* INFER_CHUNK: slot u8, offset u16 */
#define PROTO_RUN_BODY 8u     /* INFER_RUN: slot u8, encoding u8, length u16, CRC-32 u32 */

/* Input staging (docs/protocol.md, "Chunked input"); a board may override
 * these with -D. The device assembles up to TML_INPUT_SLOTS encoded inputs at
 * once, each at most TML_STAGING_BYTES, from chunks of TML_CHUNK_BYTES (the
 * last one may be shorter). Two slots let the host send the next input while
 * the current one runs or waits for a resent chunk. */
#ifndef TML_CHUNK_BYTES
#define TML_CHUNK_BYTES 256u
#endif
#ifndef TML_INPUT_SLOTS
#define TML_INPUT_SLOTS 2u
#endif
#ifndef TML_STAGING_BYTES
#define TML_STAGING_BYTES 1024u
#endif
#define PROTO_CHUNKS_PER_SLOT ((TML_STAGING_BYTES + TML_CHUNK_BYTES - 1u) / TML_CHUNK_BYTES)
/* Longest frame the device receives (an INFER_CHUNK), and its wire form without the delimiter. */
#define PROTO_RX_MAX_PAYLOAD (PROTO_HEADER_BYTES + PROTO_CHUNK_HEADER + TML_CHUNK_BYTES + PROTO_CRC_BYTES)
#define PROTO_RX_MAX_ENCODED (PROTO_RX_MAX_PAYLOAD + PROTO_RX_MAX_PAYLOAD / 254u + 1u)

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
