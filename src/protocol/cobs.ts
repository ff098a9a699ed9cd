/**
 * Consistent Overhead Byte Stuffing: after encoding, 0x00 never occurs, so it can
 * delimit frames on the wire (docs/protocol.md). Pure functions; the 0x00
 * delimiter itself is added by the frame encoder, not here.
 */

/** Largest encoded size of n input bytes: one code byte per started run of 254, at least one. */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** Encodes `src`; the result has no 0x00 and no trailing delimiter. An empty input encodes to [0x01]. */
export function cobsEncode(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(cobsMaxEncodedLength(src.length));
  let codeAt = 0;
  let out = 1;
  let code = 1;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0) {
      dst[codeAt] = code;
      codeAt = out++;
      code = 1;
    } else {
      dst[out++] = b;
      code++;
      // A full block of 254 data bytes: close it, unless the input ends here
      // (then the final code written below closes it).
      if (code === 0xff && i + 1 < src.length) {
        dst[codeAt] = code;
        codeAt = out++;
        code = 1;
      }
    }
  }
  dst[codeAt] = code;
  return dst.slice(0, out);
}

/**
 * Decodes one COBS block (delimiter removed).
 * @returns the decoded bytes, or null when the block is malformed (empty, contains
 *          0x00, or a code byte runs past its end), like proto_cobs_decode's -1
 */
export function cobsDecode(src: Uint8Array): Uint8Array | null {
  const { bytes, complete } = cobsDecodePrefix(src);
  return complete ? bytes : null;
}

/**
 * Decodes a COBS block as far as it is well-formed: what comes before a damaged
 * byte decodes right, which is how a frame whose body was hit still yields its
 * header (protocol v3). `complete` is false when the block is malformed or empty.
 */
export function cobsDecodePrefix(src: Uint8Array): { bytes: Uint8Array; complete: boolean } {
  const dst = new Uint8Array(src.length);
  let out = 0;
  let i = 0;
  const partial = () => ({ bytes: dst.slice(0, out), complete: false });
  while (i < src.length) {
    const code = src[i++]!;
    if (code === 0) return partial();
    for (let k = 1; k < code; k++) {
      if (i >= src.length || src[i] === 0) return partial();
      dst[out++] = src[i++]!;
    }
    if (code !== 0xff && i < src.length) dst[out++] = 0;
  }
  return { bytes: dst.slice(0, out), complete: src.length > 0 };
}
