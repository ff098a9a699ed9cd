/**
 * How an input tensor travels on the link (firmware/include/image_codec.h,
 * docs/protocol.md "Input encodings", docs/image-encoding.md). Pure functions:
 * the host encodes each input in the encodings the device offers and sends the
 * shortest; the decoder is the oracle the firmware's decoder is tested against.
 */
import { TinymlError } from '../errors.ts';

/** Wire numbers of the encodings (IMAGE_ENCODING_*): never renumber, only add. */
export const ImageEncoding = {
  RAW: 0,
  /** Lossless predictive coding (docs/image-encoding.md): about half the bytes of a Fashion-MNIST image. */
  COMPACT: 1,
} as const;
export type ImageEncoding = (typeof ImageEncoding)[keyof typeof ImageEncoding];

export class ImageCodecError extends TinymlError {}

/** The input's bytes in `encoding`. */
export function encodeImage(input: Int8Array, encoding: ImageEncoding): Uint8Array {
  switch (encoding) {
    case ImageEncoding.RAW:
      return new Uint8Array(input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength));
    case ImageEncoding.COMPACT:
      return encodeCompact(input, compactWidth(input.length));
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

/** Far above any input row (1,024 bytes on the link): only keeps a wild length from allocating gigabytes. */
const MAX_DECODED_BYTES = 1 << 24;

/** Decodes `bytes` into exactly `length` input bytes, or throws ImageCodecError (as image_decode returns -1). */
export function decodeImage(bytes: Uint8Array, encoding: number, length: number): Int8Array {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_DECODED_BYTES) {
    throw new ImageCodecError(`input length ${length} is not a whole number of bytes up to ${MAX_DECODED_BYTES}`);
  }
  switch (encoding) {
    case ImageEncoding.RAW:
      if (bytes.length !== length) throw new ImageCodecError(`raw input of ${bytes.length} bytes, expected ${length}`);
      return new Int8Array(bytes.slice());
    case ImageEncoding.COMPACT:
      return decodeCompact(bytes, length);
    default:
      throw new ImageCodecError(`unknown input encoding ${encoding}`);
  }
}

// ---- COMPACT (docs/image-encoding.md is the specification; keep the two in step) ----

/** Unary prefixes of this many zeros mean "escape: 8 raw bits follow". */
export const COMPACT_QMAX = 16;
/** Regular-mode contexts: floor(log2(gradient / 2)) + 1, capped; plus one for run interruptions. */
const REGULAR_CONTEXTS = 7;
const INTERRUPT_CONTEXT = REGULAR_CONTEXTS;
const A_INIT = 16;
const N_RESET = 32;
const K_MAX = 7;
/** JPEG-LS's run-length table J[] (ITU-T T.87, A.7.1.2): a run step is 2^J[index]. */
export const COMPACT_RUN_J: readonly number[] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/** The row width the host writes in the header: the root of a perfect square up to 255^2, else 0 (one row). */
export function compactWidth(length: number): number {
  const root = Math.round(Math.sqrt(length));
  return root * root === length && root <= 255 ? root : 0;
}

/** Adaptive state shared by the encoder and the decoder: both update it identically after each value. */
class CompactModel {
  readonly a = new Int32Array(REGULAR_CONTEXTS + 1).fill(A_INIT);
  readonly n = new Int32Array(REGULAR_CONTEXTS + 1).fill(1);
  runIndex = 0;

  k(ctx: number): number {
    let k = 0;
    while (k < K_MAX && this.n[ctx]! << (k + 1) < this.a[ctx]!) k++;
    return k;
  }

  update(ctx: number, m: number): void {
    this.a[ctx]! += m;
    if (this.n[ctx] === N_RESET) {
      this.a[ctx]! >>= 1;
      this.n[ctx]! >>= 1;
    }
    this.n[ctx]!++;
  }
}

/** The causal neighbours of pixel i (left a, above b, above-left c, above-right d); 0 outside the image. */
interface Neighbours {
  a: number;
  b: number;
  c: number;
  d: number;
}

function neighbours(u: Uint8Array, i: number, width: number): Neighbours {
  const x = width > 0 ? i % width : i;
  const up = width > 0 && i >= width;
  return {
    a: x > 0 ? u[i - 1]! : 0,
    b: up ? u[i - width]! : 0,
    c: up && x > 0 ? u[i - width - 1]! : 0,
    d: up && x + 1 < width ? u[i - width + 1]! : 0,
  };
}

function regularContext({ a, b, c, d }: Neighbours): number {
  const g = (Math.abs(d - b) + Math.abs(b - c) + Math.abs(c - a)) >> 1;
  return Math.min(32 - Math.clz32(g), REGULAR_CONTEXTS - 1);
}

/** LOCO-I's median edge detector. */
function predict({ a, b, c }: Neighbours): number {
  if (c >= Math.max(a, b)) return Math.min(a, b);
  if (c <= Math.min(a, b)) return Math.max(a, b);
  return a + b - c;
}

/**
 * Folds pixel x (0..255) around prediction p into 0..255: small errors of either
 * sign alternate (0, -1, +1, -2, ...) while both signs are possible, then the
 * errors only one sign allows follow in order. A bijection for each p.
 */
function foldError(x: number, p: number): number {
  const e = x - p;
  const m = Math.min(p, 255 - p);
  const ae = Math.abs(e);
  if (ae <= m) return e >= 0 ? 2 * e : 2 * ae - 1;
  return m + ae;
}

function unfoldError(f: number, p: number): number {
  const m = Math.min(p, 255 - p);
  if (f <= 2 * m) return p + ((f & 1) === 0 ? f >> 1 : -((f + 1) >> 1));
  return 255 - p > p ? p + (f - m) : p - (f - m);
}

class BitWriter {
  private readonly bytes: number[] = [];
  private acc = 0;
  private bits = 0;

  put(value: number, count: number): void {
    for (let s = count - 1; s >= 0; s--) {
      this.acc = (this.acc << 1) | ((value >>> s) & 1);
      if (++this.bits === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.bits = 0;
      }
    }
  }

  /** Limited-length Golomb-Rice code of m (0..255) with parameter k. */
  golomb(m: number, k: number): void {
    const q = m >> k;
    if (q < COMPACT_QMAX) {
      this.put(1, q + 1);
      this.put(m, k);
    } else {
      this.put(1, COMPACT_QMAX + 1);
      this.put(m, 8);
    }
  }

  finish(): Uint8Array {
    if (this.bits > 0) this.bytes.push(this.acc << (8 - this.bits));
    return Uint8Array.from(this.bytes);
  }
}

class BitReader {
  private pos = 8; // the header byte is read by the caller
  constructor(private readonly bytes: Uint8Array) {}

  bit(): number {
    const byte = this.pos >> 3;
    if (byte >= this.bytes.length) throw new ImageCodecError(`compact input ends early, after ${this.bytes.length} bytes`);
    const b = (this.bytes[byte]! >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }

  bits(count: number): number {
    let v = 0;
    for (let i = 0; i < count; i++) v = (v << 1) | this.bit();
    return v;
  }

  golomb(k: number): number {
    let q = 0;
    while (this.bit() === 0) {
      if (++q > COMPACT_QMAX) throw new ImageCodecError(`compact input has a code longer than ${COMPACT_QMAX} zeros`);
    }
    const m = q === COMPACT_QMAX ? this.bits(8) : (q << k) | this.bits(k);
    if (m > 255) throw new ImageCodecError(`compact input codes a value of ${m}, over 255`);
    return m;
  }

  /** Throws unless the stream ends here: its last byte in use, padded with zero bits. */
  end(): void {
    const used = (this.pos + 7) >> 3;
    if (used !== this.bytes.length) throw new ImageCodecError(`compact input has ${this.bytes.length - used} bytes after the image`);
    if ((this.pos & 7) !== 0 && (this.bytes[used - 1]! & (0xff >> (this.pos & 7))) !== 0) {
      throw new ImageCodecError('compact input pads its last byte with bits other than zero');
    }
  }
}

/** COMPACT encoding of `input` with rows of `width` pixels (0: one row). */
export function encodeCompact(input: Int8Array, width: number): Uint8Array {
  if (!Number.isInteger(width) || width < 0 || width > 255) throw new ImageCodecError(`compact row width ${width} is not 0..255`);
  const n = input.length;
  const u = new Uint8Array(n);
  for (let i = 0; i < n; i++) u[i] = (input[i]! & 0xff) ^ 0x80; // int8 -128 (pixel 0) becomes 0
  const out = new BitWriter();
  out.put(width, 8);
  const model = new CompactModel();
  let i = 0;
  while (i < n) {
    const nb = neighbours(u, i, width);
    if (nb.a === nb.b && nb.b === nb.c && nb.c === nb.d) {
      let r = 0;
      while (i + r < n && u[i + r] === nb.a) r++;
      for (;;) {
        const step = 1 << COMPACT_RUN_J[model.runIndex]!;
        if (r >= step) {
          out.put(1, 1);
          r -= step;
          i += step;
          if (model.runIndex < 31) model.runIndex++;
          if (i === n) break;
        } else if (i + r === n) {
          out.put(1, 1); // the run fills the rest of the image
          i = n;
          break;
        } else {
          out.put(0, 1);
          out.put(r, COMPACT_RUN_J[model.runIndex]!);
          if (model.runIndex > 0) model.runIndex--;
          i += r;
          // Interruption: u[i] differs from the run's value, so fold 0 away.
          const m = foldError(u[i]!, nb.a) - 1;
          out.golomb(m, model.k(INTERRUPT_CONTEXT));
          model.update(INTERRUPT_CONTEXT, m);
          i++;
          break;
        }
      }
      continue;
    }
    const ctx = regularContext(nb);
    const m = foldError(u[i]!, predict(nb));
    out.golomb(m, model.k(ctx));
    model.update(ctx, m);
    i++;
  }
  return out.finish();
}

/** Decodes a COMPACT stream into exactly `length` input bytes, or throws ImageCodecError. */
export function decodeCompact(bytes: Uint8Array, length: number): Int8Array {
  if (bytes.length < 1) throw new ImageCodecError('compact input is empty: it needs at least its 1-byte header');
  const width = bytes[0]!;
  const u = new Uint8Array(length);
  const input = new BitReader(bytes);
  const model = new CompactModel();
  let i = 0;
  while (i < length) {
    const nb = neighbours(u, i, width);
    if (nb.a === nb.b && nb.b === nb.c && nb.c === nb.d) {
      for (;;) {
        const j = COMPACT_RUN_J[model.runIndex]!;
        if (input.bit() === 1) {
          const count = Math.min(1 << j, length - i);
          u.fill(nb.a, i, i + count);
          i += count;
          if (model.runIndex < 31) model.runIndex++;
          if (i === length) break;
        } else {
          const r = input.bits(j);
          if (i + r >= length) throw new ImageCodecError(`compact input has a run past the end of the ${length}-byte input`);
          u.fill(nb.a, i, i + r);
          if (model.runIndex > 0) model.runIndex--;
          i += r;
          const m = input.golomb(model.k(INTERRUPT_CONTEXT));
          if (m > 254) throw new ImageCodecError('compact input interrupts a run with its own value');
          model.update(INTERRUPT_CONTEXT, m);
          u[i] = unfoldError(m + 1, nb.a);
          i++;
          break;
        }
      }
      continue;
    }
    const ctx = regularContext(nb);
    const m = input.golomb(model.k(ctx));
    model.update(ctx, m);
    u[i] = unfoldError(m, predict(nb));
    i++;
  }
  input.end();
  const out = new Int8Array(length);
  for (let k = 0; k < length; k++) out[k] = (u[k]! ^ 0x80) << 24 >> 24;
  return out;
}
