/* How an input tensor travels on the link (docs/protocol.md, "Input encodings").
 * The host picks an encoding per input; the device decodes the received bytes
 * straight into the input tensor. Pure code, no board or runtime dependency,
 * so it is tested and fuzzed on the host. */
#ifndef TINYML_IMAGE_CODEC_H
#define TINYML_IMAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Encodings, numbered on the wire: never renumber, only add. */
#define IMAGE_ENCODING_RAW 0u     /* the input's bytes as they are */
#define IMAGE_ENCODING_COMPACT 1u /* lossless predictive code, docs/image-encoding.md */

/* The encodings image_decode() understands, bit e for encoding e: the device
 * offers them in INFO and the host picks among them. */
#define IMAGE_ENCODINGS_SUPPORTED ((1u << IMAGE_ENCODING_RAW) | (1u << IMAGE_ENCODING_COMPACT))

/* Decodes the n bytes at src, written in `encoding`, into exactly dst_len bytes
 * at dst. Returns 0 when the bytes decode to exactly dst_len bytes and nothing
 * is left over; -1 for an unknown encoding, a stream that is malformed, too
 * short or too long. Never reads past src + n nor writes past dst + dst_len,
 * whatever the bytes; dst's content is unspecified after a failure.
 * COMPACT reads already decoded pixels back from dst (the row above), uses no
 * heap and about 140 bytes of stack. */
int image_decode(uint8_t encoding, const uint8_t *src, size_t n, int8_t *dst, size_t dst_len);

#ifdef __cplusplus
}
#endif

#endif
