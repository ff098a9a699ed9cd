/**
 * How many bytes the COMPACT input encoding (docs/image-encoding.md) takes per
 * Fashion-MNIST test image, as the link sends it (the int8 input, pixel - 128).
 * Every image is decoded back and compared, so the figures are of a lossless
 * code; zlib (deflate -9, no header) is printed beside it for scale.
 *
 *   node --import tsx scripts/measure-image-codec.ts [--data-dir DIR] [--limit N] [--json]
 */
import { deflateRawSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { TinymlError, UsageError } from '../src/errors.ts';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { decodeImage, encodeImage, ImageEncoding } from '../src/protocol/image-codec.ts';

export interface SizeStats {
  images: number;
  median: number;
  mean: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

/** Nearest-rank percentiles of a list of sizes. */
export function sizeStats(sizes: readonly number[]): SizeStats {
  const s = [...sizes].sort((x, y) => x - y);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return {
    images: s.length,
    median: at(50),
    mean: s.reduce((x, y) => x + y, 0) / s.length,
    p10: at(10),
    p90: at(90),
    min: s[0]!,
    max: s[s.length - 1]!,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } } });
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UsageError(`--limit ${values.limit} is not a positive whole number`);
  const ds = await loadFashionMnist({ split: 'test', limit, ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) });
  const pixels = ds.rows * ds.cols;
  const compact: number[] = [];
  const zlib: number[] = [];
  for (let s = 0; s < ds.count; s++) {
    const image = ds.images.subarray(s * pixels, (s + 1) * pixels);
    const input = Int8Array.from(image, (p) => p - 128);
    const bytes = encodeImage(input, ImageEncoding.COMPACT);
    const back = decodeImage(bytes, ImageEncoding.COMPACT, pixels);
    if (back.some((v, i) => v !== input[i])) throw new TinymlError(`image ${s} does not decode to itself: the codec is broken`);
    compact.push(bytes.length);
    zlib.push(deflateRawSync(input, { level: 9 }).length);
  }
  const result = { source: ds.source, rawBytes: pixels, compact: sizeStats(compact), zlib: sizeStats(zlib) };
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const pct = (b: number) => `${((100 * b) / pixels).toFixed(1)}%`;
  const line = (name: string, st: SizeStats) =>
    `${name.padEnd(9)} median ${st.median} (${pct(st.median)})  mean ${st.mean.toFixed(1)} (${pct(st.mean)})  ` +
    `p10 ${st.p10}  p90 ${st.p90}  min ${st.min}  max ${st.max}`;
  console.log(`${ds.count} Fashion-MNIST test images of ${pixels} bytes (${ds.source}), every one decoded back exactly`);
  console.log(line('compact', result.compact));
  console.log(line('zlib -9', result.zlib));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof TinymlError ? err.exitCode : 1);
  });
}
