/**
 * Hostile models that used to reach undefined behaviour, or that TFLM refuses,
 * are refused at load by both readers: the TypeScript one (a typed error with one
 * line) and the firmware's (a tml_status_t), built for the host with ASan and
 * UBSan so any undefined behaviour on the accepted side fails the test. At each
 * bound, the last accepted model runs on both sides with equal outputs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { ModelLimitError, TfliteFormatError, TinymlError, UnsupportedModelError } from '../src/errors.ts';
import type { Int8Dense, Int8Model } from '../src/model/types.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
import { checkLinkLimits, MAX_FC_SHIFT, MAX_SOFTMAX_DEPTH } from '../src/reference/limits.ts';
import { readTflite } from '../src/tflite/reader.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { batchRecord, buildModelRun, runBatch } from '../scripts/fuzz/differential.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';

const STATUS = { OK: 0, QUANTIZATION: 23, MODEL_LIMIT: 27 } as const;

let modelRun = '';
let work = '';
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tinyml-limits-'));
  modelRun = await buildModelRun(work);
});
after(() => rm(work, { recursive: true, force: true }));

/** The C reader and runtime on `bytes`, run on `inputs` when it loads. */
async function cRun(bytes: Uint8Array, inputs: Int8Array[] = []) {
  const [r] = await runBatch(modelRun, work, [batchRecord(bytes, inputs)]);
  return r!;
}

const hex = (a: Int8Array): string => Buffer.from(a.buffer, a.byteOffset, a.length).toString('hex');

/** One dense layer, `inputs` -> `outputs`, with the given scales and constant weights and bias. */
function oneLayer(o: { inputs: number; outputs: number; inScale: number; wScale: number; outScale: number; weight?: number; bias?: number; softmax?: boolean }): Int8Model {
  const layer: Int8Dense = {
    name: 'dense',
    inputSize: o.inputs,
    outputSize: o.outputs,
    weights: new Int8Array(o.inputs * o.outputs).map((_, i) => (o.weight ?? ((i * 7) % 255) - 127)),
    weightScales: Float32Array.of(o.wScale),
    bias: new Int32Array(o.outputs).fill(o.bias ?? 3),
    input: { scale: Math.fround(o.inScale), zeroPoint: 0 },
    output: { scale: Math.fround(o.outScale), zeroPoint: 0 },
    activation: 'linear',
  };
  return {
    kind: 'int8',
    name: 'edge',
    classNames: Array.from({ length: o.outputs }, (_, i) => `c${i}`),
    inputShape: [o.inputs],
    input: layer.input,
    layers: [layer],
    softmax: o.softmax ? { output: { scale: 1 / 256, zeroPoint: -128 }, beta: 1 } : null,
  };
}

const inputs = (n: number): Int8Array[] => [
  Int8Array.from({ length: n }, (_, i) => ((i * 53) % 256) - 128),
  new Int8Array(n).fill(127),
  new Int8Array(n).fill(-128),
];

/** Position of table field `slot` of the table at `table` (0 when absent). */
function field(bb: ByteBuffer, table: number, slot: number): number {
  const o = bb.__offset(table, 4 + 2 * slot);
  return o ? table + o : 0;
}
/** The tensor tables of the first subgraph. */
function tensors(bytes: Uint8Array): { bb: ByteBuffer; at: number[] } {
  const bb = new ByteBuffer(bytes);
  const model = bb.readUint32(0);
  const sg = bb.__indirect(bb.__vector(field(bb, model, 2)));
  const vec = field(bb, sg, 0);
  return { bb, at: Array.from({ length: bb.__vector_len(vec) }, (_, i) => bb.__indirect(bb.__vector(vec) + 4 * i)) };
}
/** Position of the length word of vector `qslot` (2 scale, 3 zero_point) of tensor `t`'s quantization. */
function quantVector(bb: ByteBuffer, t: number, qslot: number): number {
  const q = bb.__indirect(field(bb, t, 4));
  const p = field(bb, q, qslot);
  return p + bb.readUint32(p);
}

describe('model bounds: TypeScript and C refuse the same hostile models', () => {
  test(`requantization shift: ${MAX_FC_SHIFT} runs on both sides, ${MAX_FC_SHIFT + 1} (and an output scale of 1e-25) is refused`, async () => {
    const atBound = oneLayer({ inputs: 8, outputs: 4, inScale: 1, wScale: 1, outScale: 2 ** -29.5 });
    const interp = new Int8Interpreter(readTflite(writeTflite(atBound)) as Int8Model);
    assert.equal(Math.max(...interp.layers[0]!.shifts), MAX_FC_SHIFT);
    const c = await cRun(writeTflite(atBound), inputs(8));
    assert.equal(c.status, STATUS.OK);
    assert.deepEqual(c.outputs, inputs(8).map((x) => hex(interp.run(x).output)));

    for (const outScale of [2 ** -30.5, 1e-25]) {
      const bytes = writeTflite(oneLayer({ inputs: 8, outputs: 4, inScale: 1, wScale: 1, outScale }));
      assert.throws(() => readTflite(bytes), (e: Error) => e instanceof ModelLimitError && /shift of \d+, over 30/.test(e.message) && !e.message.includes('\n'));
      assert.equal((await cRun(bytes)).status, STATUS.MODEL_LIMIT, `output scale ${outScale}`);
    }
    // Also refused when the model is built in memory and handed to the interpreter.
    assert.throws(() => new Int8Interpreter(oneLayer({ inputs: 8, outputs: 4, inScale: 1, wScale: 1, outScale: 1e-25 })), ModelLimitError);
  });

  test(`softmax: ${MAX_SOFTMAX_DEPTH} tied maxima run on both sides (UBSan clean), ${MAX_SOFTMAX_DEPTH + 1} classes are refused`, async () => {
    // Zero weights and equal biases: every logit ties, the worst case for the sum of exponentials.
    const tied = oneLayer({ inputs: 4, outputs: MAX_SOFTMAX_DEPTH, inScale: 0.05, wScale: 0.01, outScale: 0.1, weight: 0, bias: 7, softmax: true });
    const interp = new Int8Interpreter(readTflite(writeTflite(tied)) as Int8Model);
    const c = await cRun(writeTflite(tied), inputs(4));
    assert.equal(c.status, STATUS.OK);
    assert.deepEqual(c.outputs, inputs(4).map((x) => hex(interp.run(x).output)));

    const over = writeTflite({ ...tied, classNames: Array.from({ length: MAX_SOFTMAX_DEPTH + 1 }, (_, i) => `c${i}`), layers: [oneLayer({ inputs: 4, outputs: MAX_SOFTMAX_DEPTH + 1, inScale: 0.05, wScale: 0.01, outScale: 0.1, weight: 0 }).layers[0]!] });
    assert.throws(() => readTflite(over), (e: Error) => e instanceof ModelLimitError && /softmax over 512 classes/.test(e.message));
    assert.equal((await cRun(over)).status, STATUS.MODEL_LIMIT);
  });

  test('softmax with beta x input scale x 2^26 past 2^31 (clamped, left shift 31) runs equal on both sides', async () => {
    const steep = oneLayer({ inputs: 6, outputs: 10, inScale: 0.5, wScale: 0.5, outScale: 100, softmax: true });
    const interp = new Int8Interpreter(readTflite(writeTflite(steep)) as Int8Model);
    assert.equal(interp.softmax!.inputLeftShift, 31);
    const c = await cRun(writeTflite(steep), inputs(6));
    assert.equal(c.status, STATUS.OK);
    assert.deepEqual(c.outputs, inputs(6).map((x) => hex(interp.run(x).output)));
  });

  test('input and output rows must fit in one frame: the reader accepts them for the host, the link check and the device refuse', async () => {
    for (const [n, m, what] of [[1025, 2, /input of 1025 bytes/], [2, 1017, /output of 1017 values/]] as const) {
      const model = oneLayer({ inputs: n, outputs: m, inScale: 0.05, wScale: 0.01, outScale: 0.1 });
      const bytes = writeTflite(model);
      const read = readTflite(bytes) as Int8Model; // the host can still evaluate it
      assert.throws(() => checkLinkLimits(read), (e: Error) => e instanceof ModelLimitError && what.test(e.message));
      assert.equal((await cRun(bytes)).status, STATUS.MODEL_LIMIT);
    }
    checkLinkLimits(readTflite(writeTflite(oneLayer({ inputs: 1024, outputs: 1016, inScale: 0.05, wScale: 0.01, outScale: 0.1 }))) as Int8Model);
    assert.equal((await cRun(writeTflite(oneLayer({ inputs: 1024, outputs: 1016, inScale: 0.05, wScale: 0.01, outScale: 0.1 })))).status, STATUS.OK);
  });

  test("bias scale: TFLM's rule, |input x weight scale - bias scale| / output scale <= 0.02, on both sides", async () => {
    const model = randomInt8Model('bias', [12, 6, 3], 77);
    const l0 = model.layers[0]!;
    const product = Math.fround(l0.input.scale) * l0.weightScales[0]!;
    for (const [slack, ok] of [[0.019, true], [0.021, false], [-0.021, false]] as const) {
      const bytes = writeTflite(model);
      const { bb, at } = tensors(bytes);
      const bias = at.find((t) => bb.readInt8(field(bb, t, 1)) === 2)!; // first INT32 tensor: layer 0's bias
      bb.writeFloat32(quantVector(bb, bias, 2) + 4, product + slack * l0.output.scale);
      const c = await cRun(bytes, inputs(12));
      if (ok) {
        const interp = new Int8Interpreter(readTflite(bytes) as Int8Model);
        assert.equal(c.status, STATUS.OK, `slack ${slack}`);
        assert.deepEqual(c.outputs, inputs(12).map((x) => hex(interp.run(x).output)));
      } else {
        assert.throws(() => readTflite(bytes), (e: Error) => e instanceof TfliteFormatError && /bias .* has scale/.test(e.message));
        assert.equal(c.status, STATUS.QUANTIZATION, `slack ${slack}`);
      }
    }
  });

  test('weights: as many zero points as scales, all zero; values in [-127, 127]', async () => {
    const model = randomInt8Model('zp', [12, 6, 3], 78);
    const noZeroPoints = writeTflite(model);
    const { bb, at } = tensors(noZeroPoints);
    const weights = at.find((t) => bb.readInt8(field(bb, t, 1)) === 9 && bb.readInt32(bb.__vector(field(bb, t, 0))) === 6)!; // [6, 12]
    bb.writeUint32(quantVector(bb, weights, 3), 0); // an empty zero_point vector: TFLM then reads no quantization
    assert.throws(() => readTflite(noZeroPoints), (e: Error) => e instanceof TfliteFormatError && /not symmetric/.test(e.message));
    assert.equal((await cRun(noZeroPoints)).status, STATUS.QUANTIZATION);

    const weights128 = { ...model, layers: [{ ...model.layers[0]!, weights: model.layers[0]!.weights.map((w, i) => (i === 5 ? -128 : w)) }, model.layers[1]!] };
    const bytes = writeTflite(weights128);
    assert.throws(() => new Int8Interpreter(readTflite(bytes) as Int8Model), (e: Error) => e instanceof UnsupportedModelError && /-128/.test(e.message));
    assert.equal((await cRun(bytes)).status, STATUS.QUANTIZATION);
  });

  test('every refusal above is a typed error with one line', () => {
    const bytes = writeTflite(oneLayer({ inputs: 8, outputs: 4, inScale: 1, wScale: 1, outScale: 1e-25 }));
    try {
      readTflite(bytes);
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof TinymlError);
      assert.equal((e as Error).message.split('\n').length, 1);
      assert.match((e as Error).message, /re-quantize the model/);
    }
  });
});

test('tinyml build and validate refuse a model whose input does not fit in a frame, before compiling or opening anything', async () => {
  const { tinyml, assertOneLineError } = await import('./helpers/cli.ts');
  const { renderCArray } = await import('../src/export/c-array.ts');
  const { mkdir, writeFile, readdir } = await import('node:fs/promises');
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-limits-cli-'));
  const modelDir = join(dir, 'wide-input');
  await mkdir(modelDir);
  const model = randomInt8Model('wide-input', [1100, 4, 2], 3, { softmax: true });
  const bytes = writeTflite(model);
  await writeFile(join(modelDir, 'model_int8.tflite'), bytes);
  const { header, source } = renderCArray(bytes, model, {});
  await writeFile(join(modelDir, 'model_data.h'), header);
  await writeFile(join(modelDir, 'model_data.cc'), source);
  const before = await readdir(dir);
  const build = await tinyml(['build', '--model', modelDir, '--board', 'emulator'], { cwd: dir });
  assertOneLineError(build, /input of 1100 bytes does not fit in one frame/);
  const validate = await tinyml(['validate', '--model', modelDir, '--port', join(dir, 'no-such-port')], { cwd: dir });
  assertOneLineError(validate, /input of 1100 bytes does not fit in one frame/);
  assert.deepEqual(await readdir(dir), before, 'nothing written');
  await rm(dir, { recursive: true, force: true });
});
