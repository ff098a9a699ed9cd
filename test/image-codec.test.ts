/**
 * The link's input encodings (src/protocol/image-codec.ts, firmware/core/image_codec.c):
 * COMPACT is lossless on real Fashion-MNIST images and on any bytes, halves a
 * typical image, and the C decoder agrees with the TypeScript one (its oracle)
 * on encoded and on damaged streams, built with gcc under ASan and UBSan.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadFashionMnist, type Dataset } from '../src/data/fashion-mnist.ts';
import { FIRMWARE_DIR } from '../src/firmware-build/paths.ts';
import { runTool } from '../src/firmware-build/toolchain.ts';
import {
  compactWidth,
  decodeImage,
  encodeCompact,
  encodeForLink,
  encodeImage,
  ImageCodecError,
  ImageEncoding,
} from '../src/protocol/image-codec.ts';
import { mutate } from '../scripts/fuzz/mutate.ts';
import { sizeStats } from '../scripts/measure-image-codec.ts';
import { mulberry32 } from '../src/util/prng.ts';

const IMAGES = 500;
let data: Dataset;
before(async () => {
  data = await loadFashionMnist({ split: 'test', limit: IMAGES });
});

const image = (s: number): Int8Array => Int8Array.from(data.images.subarray(s * 784, (s + 1) * 784), (p) => p - 128);
const randomBytes = (r: () => number, length: number): Int8Array => Int8Array.from({ length }, () => Math.floor(r() * 256) - 128);

function roundTrip(input: Int8Array, width = compactWidth(input.length)): Uint8Array {
  const bytes = encodeCompact(input, width);
  assert.deepEqual(decodeImage(bytes, ImageEncoding.COMPACT, input.length), input);
  return bytes;
}

/** Inputs that are not images: flat, random, ramps, every length the link may carry at its edges. */
function oddInputs(): Array<[string, Int8Array]> {
  const r = mulberry32(5);
  const out: Array<[string, Int8Array]> = [];
  for (const length of [0, 1, 2, 27, 28, 29, 255, 256, 784, 1000, 1024]) {
    out.push([`random ${length}`, randomBytes(r, length)]);
    out.push([`background ${length}`, new Int8Array(length).fill(-128)]);
    out.push([`all 255 ${length}`, new Int8Array(length).fill(127)]);
    out.push([`ramp ${length}`, Int8Array.from({ length }, (_, i) => ((i * 37) & 0xff) - 128)]);
  }
  out.push(['alternating extremes', Int8Array.from({ length: 784 }, (_, i) => (i & 1 ? 127 : -128))]);
  out.push(['background with single pixels', Int8Array.from({ length: 784 }, (_, i) => (i % 97 === 0 ? -127 : -128))]);
  return out;
}

describe('COMPACT on real images', () => {
  test(`the first ${IMAGES} Fashion-MNIST test images decode to themselves; median at most half of 784 bytes`, () => {
    const sizes: number[] = [];
    for (let s = 0; s < IMAGES; s++) sizes.push(roundTrip(image(s)).length);
    const st = sizeStats(sizes);
    console.log(`  compact over ${IMAGES} images: median ${st.median}, mean ${st.mean.toFixed(1)}, p10 ${st.p10}, p90 ${st.p90} bytes of 784`);
    // Measured 389 (scripts/measure-image-codec.ts --limit 500); issue 9 asks for at least halving.
    assert.ok(st.median <= 392, `median ${st.median} bytes`);
    assert.ok(st.max < 784, `max ${st.max} bytes`);
  });

  test('encodeForLink sends COMPACT only when the device offers it, and raw when that is shorter', () => {
    const img = image(0);
    assert.equal(encodeForLink(img, 1 << ImageEncoding.RAW).encoding, ImageEncoding.RAW);
    const picked = encodeForLink(img, (1 << ImageEncoding.RAW) | (1 << ImageEncoding.COMPACT));
    assert.equal(picked.encoding, ImageEncoding.COMPACT);
    assert.deepEqual(picked.bytes, encodeImage(img, ImageEncoding.COMPACT));
    const noise = randomBytes(mulberry32(3), 784);
    assert.ok(encodeImage(noise, ImageEncoding.COMPACT).length > 784);
    assert.equal(encodeForLink(noise, 0b11).encoding, ImageEncoding.RAW);
  });
});

describe('COMPACT on any bytes', () => {
  test('random, flat and ramp inputs of lengths 0..1024 decode to themselves', () => {
    for (const [name, input] of oddInputs()) {
      assert.doesNotThrow(() => roundTrip(input), name);
    }
  });

  test('the header width: the root of a perfect square, else one row; every width decodes', () => {
    assert.deepEqual([0, 1, 27, 784, 1024, 1000].map(compactWidth), [0, 1, 0, 28, 32, 0]);
    assert.equal(encodeCompact(image(1), 28)[0], 28);
    for (const width of [0, 1, 2, 27, 29, 255]) roundTrip(image(1), width);
    // A flat image is a few run bits whatever its size; a real one gains from the second dimension.
    assert.ok(encodeCompact(new Int8Array(1024).fill(-128), 32).length <= 5);
    assert.ok(encodeCompact(image(1), 28).length < encodeCompact(image(1), 0).length);
    assert.throws(() => encodeCompact(image(1), 256), ImageCodecError);
  });

  test('damaged streams are refused with one-line ImageCodecErrors', () => {
    const good = encodeCompact(image(2), 28);
    const cases: Array<[string, Uint8Array, number, RegExp]> = [
      ['empty', new Uint8Array(0), 784, /empty/],
      ['one byte short', good.subarray(0, good.length - 1), 784, /ends early/],
      ['a byte too many', Uint8Array.from([...good, 0]), 784, /after the image/],
      ['shorter expected', good, 700, /after the image|pads/],
      ['17 zeros', Uint8Array.from([28, 0, 0, 0, 0]), 784, /longer than 16 zeros/],
    ];
    for (const [name, bytes, length, message] of cases) {
      assert.throws(() => decodeImage(bytes, ImageEncoding.COMPACT, length), (err: unknown) => {
        assert.ok(err instanceof ImageCodecError, name);
        assert.match(err.message, message, name);
        assert.ok(!err.message.includes('\n'), name);
        return true;
      });
    }
    assert.throws(() => decodeImage(good, 2, 784), /unknown input encoding 2/);
    assert.throws(() => decodeImage(good, ImageEncoding.COMPACT, -1), /input length -1 is not/);
    assert.throws(() => decodeImage(good, ImageEncoding.RAW, 2 ** 31), ImageCodecError);
  });
});

describe('the C decoder agrees with the TypeScript decoder (gcc, ASan + UBSan)', () => {
  test('encoded images and odd inputs, then 5,000 mutants: same verdict, same bytes, nothing written outside dst', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tinyml-codec-'));
    const harness = join(dir, 'image_codec_run');
    await runTool(
      'gcc',
      ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
        `-I${join(FIRMWARE_DIR, 'include')}`, join(FIRMWARE_DIR, 'tests', 'image_codec_run.c'), join(FIRMWARE_DIR, 'core', 'image_codec.c'),
        '-o', harness],
      'compiling firmware/tests/image_codec_run.c',
    );
    const cases: Array<{ encoding: number; length: number; bytes: Uint8Array }> = [];
    const valid: Array<{ length: number; bytes: Uint8Array }> = [];
    for (let s = 0; s < 100; s++) valid.push({ length: 784, bytes: encodeImage(image(s), ImageEncoding.COMPACT) });
    for (const [, input] of oddInputs()) valid.push({ length: input.length, bytes: encodeImage(input, ImageEncoding.COMPACT) });
    for (const v of valid) cases.push({ encoding: ImageEncoding.COMPACT, ...v });
    const r = mulberry32(9);
    for (let i = 0; i < 5000; i++) {
      const v = valid[Math.floor(r() * valid.length)]!;
      const length = r() < 0.1 ? Math.max(0, v.length + Math.floor(r() * 5) - 2) : v.length;
      cases.push({ encoding: r() < 0.02 ? Math.floor(r() * 4) : ImageEncoding.COMPACT, length, bytes: mutate(v.bytes, r, r() < 0.3 ? 6 : 2) });
    }
    cases.push({ encoding: ImageEncoding.RAW, length: 3, bytes: Uint8Array.from([1, 2, 3]) });
    cases.push({ encoding: ImageEncoding.RAW, length: 4, bytes: Uint8Array.from([1, 2, 3]) });

    const input = cases.map((c) => `${c.encoding} ${c.length} ${Buffer.from(c.bytes).toString('hex')}`).join('\n') + '\n';
    const res = await execa(harness, [], { input, reject: false });
    assert.equal(res.exitCode, 0, res.stderr);
    const lines = res.stdout.split('\n');
    assert.equal(lines.length, cases.length);
    let accepted = 0;
    let refused = 0;
    cases.forEach((c, i) => {
      let expected: string;
      try {
        expected = `ok ${Buffer.from(decodeImage(c.bytes, c.encoding, c.length).buffer).toString('hex')}`;
        accepted++;
      } catch (err) {
        assert.ok(err instanceof ImageCodecError, `case ${i}: ${String(err)}`);
        expected = 'refused';
        refused++;
      }
      assert.equal(lines[i], expected, `case ${i}: encoding ${c.encoding}, length ${c.length}, stream ${Buffer.from(c.bytes).toString('hex')}`);
    });
    // Both sides of the question are asked: many mutants are refused, and some still decode.
    assert.ok(accepted > valid.length + 100 && refused > 1000, `${accepted} accepted, ${refused} refused`);
    await rm(dir, { recursive: true, force: true });
  });
});
