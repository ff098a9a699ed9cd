/**
 * How an input tensor travels on the link (firmware/include/image_codec.h,
 * docs/protocol.md "Input encodings"). Pure functions: the host encodes each
 * input in the encodings the device offers and sends the shortest; the decoder
 * is the oracle the firmware's decoder is tested against.
 */
import { TinymlError } from '../errors.ts';

/** Wire numbers of the encodings (IMAGE_ENCODING_*): never renumber, only add. */
export const ImageEncoding = {
  RAW: 0,
} as const;
export type ImageEncoding = (typeof ImageEncoding)[keyof typeof ImageEncoding];

export class ImageCodecError extends TinymlError {}

/** The input's bytes in `encoding`. */
export function encodeImage(input: Int8Array, encoding: ImageEncoding): Uint8Array {
  switch (encoding) {
    case ImageEncoding.RAW:
      return new Uint8Array(input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength));
  }
}

/** The shortest of the encodings `offered` (bit e for encoding e, as INFO carries it) that this host knows; raw when none. */
export function encodeForLink(input: Int8Array, offered: number): { encoding: ImageEncoding; bytes: Uint8Array } {
  let best: { encoding: ImageEncoding; bytes: Uint8Array } = { encoding: ImageEncoding.RAW, bytes: encodeImage(input, ImageEncoding.RAW) };
  for (const encoding of Object.values(ImageEncoding)) {
    if (encoding === ImageEncoding.RAW || (offered & (1 << encoding)) === 0) continue;
    const bytes = encodeImage(input, encoding);
    if (bytes.length < best.bytes.length) best = { encoding, bytes };
  }
  return best;
}

/** Decodes `bytes` into exactly `length` input bytes, or throws ImageCodecError (as image_decode returns -1). */
export function decodeImage(bytes: Uint8Array, encoding: number, length: number): Int8Array {
  switch (encoding) {
    case ImageEncoding.RAW:
      if (bytes.length !== length) throw new ImageCodecError(`raw input of ${bytes.length} bytes, expected ${length}`);
      return new Int8Array(bytes.slice());
    default:
      throw new ImageCodecError(`unknown input encoding ${encoding}`);
  }
}
