/**
 * A byte mutator for the TypeScript-side fuzzers (reader mutations and the
 * differential fuzzer): bit flips, "interesting" bytes and 32-bit integers,
 * extreme float32 values written over aligned words (where a model keeps its
 * scales), small integers over aligned words (shapes, indices, offsets), block
 * copies, deletions, insertions and truncation. Seeded: a run repeats exactly.
 */

const INTERESTING_U8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x20, 0x40];
const INTERESTING_I32 = [0, 1, -1, 2, 3, 4, 8, 16, 127, 128, 255, 256, 511, 512, 1024, 1025, 4096, 65535, 65536, 0x7fffffff, -0x80000000];
const EXTREME_F32 = [0, -0, -1, 1, 1e-25, 1e25, 1e-45, 1e-38, 3.4e38, Infinity, -Infinity, NaN, 0.02, 1 / 256, 2 ** 30, 2 ** -31, 1e-10, 1e10];

export type Rand = () => number;

const pick = <T>(r: Rand, a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
const int = (r: Rand, n: number): number => Math.floor(r() * n);

/** One to `maxEdits` random edits of a copy of `input`. */
export function mutate(input: Uint8Array, r: Rand, maxEdits = 4): Uint8Array {
  let b = input.slice();
  const edits = 1 + int(r, maxEdits);
  for (let e = 0; e < edits; e++) {
    if (b.length === 0) b = Uint8Array.of(int(r, 256));
    const kind = int(r, 100);
    const at = int(r, b.length);
    const word = at & ~3;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (kind < 30) {
      b[at]! ^= 1 << int(r, 8);
    } else if (kind < 42) {
      b[at] = pick(r, INTERESTING_U8);
    } else if (kind < 57 && word + 4 <= b.length) {
      view.setFloat32(word, pick(r, EXTREME_F32), true);
    } else if (kind < 67 && word + 4 <= b.length) {
      // Scale a float32 already there: nudges scales past a bound without breaking them.
      const f = view.getFloat32(word, true);
      view.setFloat32(word, f * 2 ** (int(r, 161) - 80), true);
    } else if (kind < 80 && word + 4 <= b.length) {
      view.setInt32(word, pick(r, INTERESTING_I32), true);
    } else if (kind < 86 && word + 4 <= b.length) {
      view.setInt32(word, view.getInt32(word, true) + int(r, 33) - 16, true);
    } else if (kind < 90) {
      const len = 1 + int(r, Math.min(64, b.length));
      const from = int(r, b.length - len + 1);
      b.copyWithin(int(r, b.length - len + 1), from, from + len);
    } else if (kind < 94) {
      const len = 1 + int(r, Math.min(16, b.length));
      b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + len))]);
    } else if (kind < 97) {
      const extra = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
      b = Uint8Array.from([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
    } else {
      b = b.slice(0, at);
    }
  }
  return b;
}
