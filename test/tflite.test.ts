/**
 * The .tflite writer, reader and the real TFLite interpreter (TFLite 2.9 C API
 * from tfjs-tflite-node), on small random models built here.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { ByteBuffer } from 'flatbuffers';
import { writeTflite } from '../src/tflite/writer.ts';
import { readTflite } from '../src/tflite/reader.ts';
import { TfliteInterpreter, tfliteVersion } from '../src/tflite/tflite-runtime.ts';
import { InterpreterError, TfliteFormatError, UnsupportedModelError } from '../src/errors.ts';
import { FASHION_MNIST_CLASSES, type FloatModel, type Int8Model, type QuantParams } from '../src/model/types.ts';
import { BuiltinOperator, ModelField, OperatorCodeField, vtableOffset } from '../src/tflite/schema.ts';
import { mulberry32 } from '../src/util/prng.ts';

// ------------------------------------------------------------------ fixtures


interface Shape {
  sizes: number[];
  inputShape?: number[];
  perChannel?: boolean;
  softmax?: boolean;
  seed?: number;
}

const q = (scale: number, zeroPoint: number): QuantParams => ({ scale: Math.fround(scale), zeroPoint });

function classNames(n: number): string[] {
  return n === 10 ? [...FASHION_MNIST_CLASSES] : Array.from({ length: n }, (_, i) => `class ${i} "quoted" ✓`);
}

function int8Model({ sizes, inputShape, perChannel = false, softmax = true, seed = 1 }: Shape): Int8Model {
  const r = mulberry32(seed);
  const input = q(1 / 255, -128);
  let inQ = input;
  const layers = sizes.slice(1).map((out, i) => {
    const inSize = sizes[i]!;
    const last = i === sizes.length - 2;
    const weights = Int8Array.from({ length: out * inSize }, () => Math.round(r() * 254) - 127);
    const weightScales = Float32Array.from({ length: perChannel ? out : 1 }, () => 0.002 + r() * 0.01);
    const outQ = last ? q(0.05 + r() * 0.1, Math.round(r() * 40) - 20) : q(0.02 + r() * 0.05, -128);
    const layer = {
      name: i === 0 ? 'dense' : `dense_${i}`,
      inputSize: inSize,
      outputSize: out,
      weights,
      weightScales,
      bias: Int32Array.from({ length: out }, () => Math.round((r() - 0.5) * 2000)),
      input: inQ,
      output: outQ,
      activation: last ? ('linear' as const) : ('relu' as const),
    };
    inQ = outQ;
    return layer;
  });
  return {
    kind: 'int8',
    name: `test-int8-${perChannel ? 'pc' : 'pt'}`,
    classNames: classNames(sizes[sizes.length - 1]!),
    inputShape: inputShape ?? [sizes[0]!],
    input,
    layers,
    softmax: softmax ? { output: q(1 / 256, -128), beta: 1 } : null,
  };
}

function floatModel({ sizes, inputShape, softmax = true, seed = 2 }: Shape, normalized = false): FloatModel {
  const r = mulberry32(seed);
  return {
    kind: 'float32',
    name: 'test-float',
    classNames: classNames(sizes[sizes.length - 1]!),
    inputShape: inputShape ?? [sizes[0]!],
    normalized,
    softmax,
    layers: sizes.slice(1).map((out, i) => ({
      name: i === 0 ? 'dense' : `dense_${i}`,
      inputSize: sizes[i]!,
      outputSize: out,
      weights: Float32Array.from({ length: out * sizes[i]! }, () => (r() - 0.5) * 0.2),
      bias: Float32Array.from({ length: out }, () => (r() - 0.5) * 0.5),
      activation: i === sizes.length - 2 ? ('linear' as const) : ('relu' as const),
    })),
  };
}

/** Plain float forward pass (double accumulation), the model's own semantics. */
function floatForward(m: FloatModel, x: Float32Array): Float64Array {
  let v = Float64Array.from(x, (p) => (m.normalized ? p / 255 : p));
  for (const l of m.layers) {
    const y = new Float64Array(l.outputSize);
    for (let o = 0; o < l.outputSize; o++) {
      let s = l.bias[o]!;
      for (let i = 0; i < l.inputSize; i++) s += l.weights[o * l.inputSize + i]! * v[i]!;
      y[o] = l.activation === 'relu' ? Math.max(0, s) : s;
    }
    v = y;
  }
  if (m.softmax) {
    const mx = Math.max(...v);
    const e = v.map((z) => Math.exp(z - mx));
    const sum = e.reduce((a, b) => a + b, 0);
    v = e.map((z) => z / sum);
  }
  return v;
}

/** Int8 FULLY_CONNECTED chain with float requantization: within 1 of TFLite's fixed point. */
function int8LogitsApprox(m: Int8Model, x: Int8Array): Int8Array {
  let v = x;
  for (const l of m.layers) {
    const y = new Int8Array(l.outputSize);
    for (let o = 0; o < l.outputSize; o++) {
      let acc = l.bias[o]!;
      for (let i = 0; i < l.inputSize; i++) acc += (v[i]! - l.input.zeroPoint) * l.weights[o * l.inputSize + i]!;
      const ws = l.weightScales.length > 1 ? l.weightScales[o]! : l.weightScales[0]!;
      let r = Math.round((acc * l.input.scale * ws) / l.output.scale) + l.output.zeroPoint;
      if (l.activation === 'relu') r = Math.max(r, l.output.zeroPoint);
      y[o] = Math.min(127, Math.max(-128, r));
    }
    v = y;
  }
  return v;
}

function randomInt8(n: number, seed: number): Int8Array {
  const r = mulberry32(seed);
  return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
}

const interpreters: TfliteInterpreter[] = [];
function load(bytes: Uint8Array): TfliteInterpreter {
  const it = TfliteInterpreter.load(bytes, { threads: 1 });
  interpreters.push(it);
  return it;
}
after(() => interpreters.forEach((it) => it.close()));

/** Positions of an OperatorCode's fields, via the flatbuffers runtime (independent of reader.ts). */
function opcodeFields(bytes: Uint8Array, index: number): { deprecated: number; builtin: number; version: number } {
  const bb = new ByteBuffer(bytes);
  const root = bb.readInt32(0);
  const vec = bb.__vector(root + bb.__offset(root, vtableOffset(ModelField.operator_codes)));
  const oc = bb.__indirect(vec + 4 * index);
  const at = (slot: number) => {
    const o = bb.__offset(oc, vtableOffset(slot));
    return o ? oc + o : 0;
  };
  return {
    deprecated: at(OperatorCodeField.deprecated_builtin_code),
    builtin: at(OperatorCodeField.builtin_code),
    version: at(OperatorCodeField.version),
  };
}

const MNIST = { sizes: [784, 16, 10], inputShape: [28, 28] };

// ------------------------------------------------------------------ writer

describe('writeTflite', () => {
  test('writes identifier TFL3, is deterministic, aligns weight data to 16 bytes', () => {
    const m = int8Model(MNIST);
    const a = writeTflite(m);
    const b = writeTflite(m);
    assert.equal(String.fromCharCode(...a.subarray(4, 8)), 'TFL3');
    assert.deepEqual(a, b);
    const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const l of m.layers) {
      const at = buf.indexOf(Buffer.from(l.weights.buffer, l.weights.byteOffset, l.weights.byteLength));
      assert.ok(at > 0, `weights of ${l.name} found`);
      assert.equal(at % 16, 0, `weights of ${l.name} at ${at} are 16-byte aligned`);
    }
  });

  test('sets both deprecated_builtin_code and builtin_code on every operator code', () => {
    const bytes = writeTflite(int8Model(MNIST));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const [i, code] of [BuiltinOperator.FULLY_CONNECTED, BuiltinOperator.SOFTMAX].entries()) {
      const f = opcodeFields(bytes, i);
      assert.ok(f.deprecated && f.builtin, `opcode ${i} has both fields`);
      assert.equal(view.getInt8(f.deprecated), code);
      assert.equal(view.getInt32(f.builtin, true), code);
    }
  });

  test('rejects inconsistent models with UnsupportedModelError', () => {
    const m = int8Model(MNIST);
    assert.throws(() => writeTflite({ ...m, classNames: ['a'] }), UnsupportedModelError);
    assert.throws(() => writeTflite({ ...m, inputShape: [27, 28] }), UnsupportedModelError);
    assert.throws(() => writeTflite({ ...m, layers: [] }), UnsupportedModelError);
  });
});

// ------------------------------------------------------------------ round trip

describe('readTflite', () => {
  const cases: Array<[string, Int8Model | FloatModel]> = [
    ['int8 per-tensor + softmax', int8Model(MNIST)],
    ['int8 per-channel + softmax', int8Model({ ...MNIST, perChannel: true })],
    ['int8 logits only', int8Model({ ...MNIST, softmax: false })],
    ['int8 three layers', int8Model({ sizes: [20, 12, 8, 4], seed: 7 })],
    ['float32 + softmax', floatModel(MNIST)],
    ['float32 logits only', floatModel({ ...MNIST, softmax: false })],
  ];
  for (const [name, model] of cases) {
    test(`round trip: ${name}`, () => {
      assert.deepStrictEqual(readTflite(writeTflite(model)), model);
    });
  }

  test('a normalized float model reads back as the equivalent raw-pixel model', () => {
    const m = floatModel(MNIST, true);
    const back = readTflite(writeTflite(m)) as FloatModel;
    assert.equal(back.normalized, false);
    const x = Float32Array.from({ length: 784 }, (_, i) => (i * 37) % 256);
    const a = floatForward(m, x);
    const b = floatForward(back, x);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6));
  });

  test('rejects a wrong identifier, a wrong version and an unsupported operator', () => {
    const bytes = writeTflite(int8Model(MNIST));
    const bad = bytes.slice();
    bad.set([0x58, 0x58, 0x58, 0x58], 4);
    assert.throws(() => readTflite(bad), { name: 'TfliteFormatError', message: "not a TFLite file: identifier is 'XXXX', expected 'TFL3'" });

    const conv = bytes.slice();
    const f = opcodeFields(conv, 0);
    const view = new DataView(conv.buffer);
    view.setInt8(f.deprecated, BuiltinOperator.CONV_2D);
    view.setInt32(f.builtin, BuiltinOperator.CONV_2D, true);
    assert.throws(() => readTflite(conv), { message: 'operator CONV_2D is not supported: only FULLY_CONNECTED and SOFTMAX' });

    const bb = new ByteBuffer(bytes.slice());
    const root = bb.readInt32(0);
    bb.writeInt32(root + bb.__offset(root, vtableOffset(ModelField.version)), 2);
    assert.throws(() => readTflite(bb.bytes()), { message: /unsupported TFLite schema version 2/ });
  });

  test('rejects empty, random and truncated files with TfliteFormatError only', () => {
    const bytes = writeTflite(int8Model({ sizes: [20, 8, 4], seed: 3 }));
    assert.throws(() => readTflite(new Uint8Array(0)), TfliteFormatError);
    const r = mulberry32(99);
    for (let k = 0; k < 200; k++) {
      const junk = Uint8Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256));
      if (k % 2) junk.set([0x54, 0x46, 0x4c, 0x33], 4); // get past the identifier check
      assert.throws(() => readTflite(junk), TfliteFormatError);
    }
    for (let end = 0; end < bytes.length; end++) {
      assert.throws(() => readTflite(bytes.subarray(0, end)), TfliteFormatError, `truncated at ${end}`);
    }
  });

  test('flipped bytes give TfliteFormatError or a model, never another error', () => {
    const bytes = writeTflite(int8Model({ sizes: [20, 8, 4], seed: 4 }));
    const r = mulberry32(5);
    let rejected = 0;
    for (let k = 0; k < 3000; k++) {
      const bad = bytes.slice();
      const flips = 1 + Math.floor(r() * 3);
      for (let j = 0; j < flips; j++) bad[Math.floor(r() * bad.length)] ^= 1 << Math.floor(r() * 8);
      try {
        readTflite(bad);
      } catch (err) {
        assert.ok(err instanceof TfliteFormatError, `flip ${k}: ${String(err)}`);
        assert.ok(!String((err as Error).message).includes('\n'), 'one-line message');
        rejected++;
      }
    }
    assert.ok(rejected > 100, `some flips were rejected (${rejected})`);
  });
});

// ------------------------------------------------------------------ real TFLite interpreter

describe('TfliteInterpreter (TFLite C API)', () => {
  test('reports the library version', () => {
    assert.match(tfliteVersion(), /^2\.\d+/);
  });

  test('int8 model: tensors as written, outputs within 1 of a float-requantized reference', () => {
    const m = int8Model(MNIST);
    const it = load(writeTflite(m));
    const [inp] = it.inputs();
    const [out] = it.outputs();
    assert.deepEqual(inp, { name: 'input', type: 'int8', shape: [1, 784], byteSize: 784, ...m.input });
    assert.deepEqual(out, { name: 'Identity', type: 'int8', shape: [1, 10], byteSize: 10, ...m.softmax!.output });

    const logits = load(writeTflite({ ...m, softmax: null }));
    assert.deepEqual(logits.outputs()[0]!.scale, m.layers[1]!.output.scale);
    for (let s = 0; s < 50; s++) {
      const x = randomInt8(784, 100 + s);
      const got = logits.run(x) as Int8Array;
      const want = int8LogitsApprox(m, x);
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1, `sample ${s} class ${i}: tflite ${v}, approx ${want[i]}`));
      const probs = it.run(x) as Int8Array;
      assert.ok(probs instanceof Int8Array && probs.length === 10);
      const sum = probs.reduce((a, p) => a + (p + 128) / 256, 0);
      assert.ok(Math.abs(sum - 1) < 0.05, `softmax sums to ${sum}`);
    }
  });

  test('runBatch equals run sample by sample', () => {
    const it = load(writeTflite(int8Model({ ...MNIST, seed: 11 })));
    const n = 64;
    const xs = randomInt8(784 * n, 12);
    const batch = it.runBatch(xs);
    assert.equal(batch.length, 10 * n);
    for (let s = 0; s < n; s++) assert.deepEqual(batch.subarray(s * 10, s * 10 + 10), it.run(xs.subarray(s * 784, s * 784 + 784)));
    const reuse = new Int8Array(10 * n);
    assert.equal(it.runBatch(xs, reuse), reuse);
    assert.deepEqual(reuse, batch);
  });

  test('per-channel int8 model loads and runs (TFLite 2.9 ignores per-channel FC scales; see report)', () => {
    const m = int8Model({ ...MNIST, perChannel: true });
    const it = load(writeTflite(m));
    assert.deepEqual(it.inputs()[0]!.shape, [1, 784]);
    assert.equal((it.run(randomInt8(784, 1)) as Int8Array).length, 10);
  });

  for (const normalized of [false, true]) {
    for (const softmax of [true, false]) {
      test(`float32 model (normalized ${normalized}, softmax ${softmax}) matches a TS forward pass within 1e-5`, () => {
        const m = floatModel({ ...MNIST, softmax, seed: normalized ? 21 : 22 }, normalized);
        const it = load(writeTflite(m));
        assert.deepEqual(
          it.inputs().map((t) => [t.type, t.shape]),
          [['float32', [1, 784]]],
        );
        for (let s = 0; s < 20; s++) {
          const r = mulberry32(300 + s);
          const x = Float32Array.from({ length: 784 }, () => Math.floor(r() * 256));
          const got = it.run(x) as Float32Array;
          const want = floatForward(m, x);
          got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-5 * Math.max(1, Math.abs(want[i]!)), `class ${i}: ${v} vs ${want[i]}`));
        }
      });
    }
  }

  test('input of the wrong type or length is an InterpreterError', () => {
    const it = load(writeTflite(int8Model({ sizes: [20, 8, 4] })));
    assert.throws(() => it.run(new Float32Array(20)), InterpreterError);
    assert.throws(() => it.run(new Int8Array(19)), InterpreterError);
  });

  test('a model the runtime refuses gives an InterpreterError with its message', () => {
    assert.throws(() => TfliteInterpreter.load(new Uint8Array(64)), InterpreterError);
    const m = int8Model({ sizes: [20, 8, 4] });
    const bad = { ...m, softmax: { output: q(1 / 256, 0), beta: 1 } }; // TFLite wants zero point -128
    assert.throws(() => TfliteInterpreter.load(writeTflite(bad)), { name: 'InterpreterError', message: /zero_point != -128/ });
  });

  test('close is idempotent and a closed interpreter refuses to run', () => {
    const it = TfliteInterpreter.load(writeTflite(int8Model({ sizes: [20, 8, 4] })));
    it.close();
    it.close();
    assert.throws(() => it.run(new Int8Array(20)), InterpreterError);
  });
});
