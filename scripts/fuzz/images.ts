/**
 * Seeds for fuzzing the input decoder (image_decode, decodeImage): synthetic
 * images, so no data set is needed, encoded by the TypeScript COMPACT encoder.
 * A fuzz input is `[encoding, dst_len low, dst_len high, stream...]`, the same
 * layout for the libFuzzer target (firmware/tests/fuzz/fuzz_image.c) and the
 * TypeScript mutation runs, so a mutant may change the encoding and the
 * expected length as well as the stream.
 */
import { decodeImage, encodeImage, ImageCodecError, ImageEncoding } from '../../src/protocol/image-codec.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import type { ReaderTarget } from './readers.ts';

/**
 * A Fashion-MNIST-like int8 input of side x side pixels: background -128
 * around a noisy, shaded ellipse with a few saturated pixels.
 */
export function syntheticImage(side: number, seed: number): Int8Array {
  const r = mulberry32(seed);
  const out = new Int8Array(side * side).fill(-128);
  const cx = side / 2, cy = side / 2, rx = side * (0.2 + 0.2 * r()), ry = side * (0.3 + 0.15 * r());
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const t = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
      if (t > 1) continue;
      const shade = 60 + 150 * (1 - t) + 30 * (r() - 0.5);
      const pixel = r() < 0.03 ? 255 : Math.max(1, Math.min(255, Math.round(shade)));
      out[y * side + x] = pixel - 128;
    }
  }
  return out;
}

/** A fuzz input: the encoding, the expected length (little-endian u16), the stream. */
export function fuzzInput(encoding: number, length: number, stream: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + stream.length);
  out.set([encoding, length & 0xff, length >> 8]);
  out.set(stream, 3);
  return out;
}

/** Seeds: COMPACT streams of synthetic 28x28 and 32x32 images, random and flat inputs, one raw input. */
export function imageSeeds(): Array<{ name: string; bytes: Uint8Array }> {
  const r = mulberry32(11);
  const inputs: Array<[string, Int8Array]> = [
    ['img28a', syntheticImage(28, 1)],
    ['img28b', syntheticImage(28, 2)],
    ['img32', syntheticImage(32, 3)],
    ['random100', Int8Array.from({ length: 100 }, () => Math.floor(r() * 256) - 128)],
    ['background784', new Int8Array(784).fill(-128)],
    ['bright27', new Int8Array(27).fill(127)],
  ];
  const seeds = inputs.map(([name, input]) => ({
    name: `${name}.compact`,
    bytes: fuzzInput(ImageEncoding.COMPACT, input.length, encodeImage(input, ImageEncoding.COMPACT)),
  }));
  const raw = syntheticImage(28, 4);
  seeds.push({ name: 'img28.raw', bytes: fuzzInput(ImageEncoding.RAW, raw.length, encodeImage(raw, ImageEncoding.RAW)) });
  return seeds;
}

/** decodeImage on mutated fuzz inputs: a value or an ImageCodecError (any other error, even typed, is a finding). */
export function imageReaderTarget(): ReaderTarget {
  return {
    name: 'image',
    seeds: imageSeeds().map((s) => s.bytes),
    parse: (b) => {
      if (b.length < 3) return null;
      try {
        return decodeImage(b.subarray(3), b[0]!, b[1]! | (b[2]! << 8));
      } catch (err) {
        if (err instanceof ImageCodecError) throw err;
        throw new Error(`not an ImageCodecError: ${String(err)}`, { cause: err });
      }
    },
  };
}
