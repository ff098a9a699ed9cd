import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UnsupportedModelError, UsageError } from '../src/errors.ts';
import { FASHION_MNIST_CLASSES, type FloatModel } from '../src/model/types.ts';
import { loadFashionMnist, SYSTEM_DATA_DIR, type Dataset } from '../src/data/fashion-mnist.ts';
import { initBackend } from '../src/train/backend.ts';
import { buildModel, hiddenName, parseHidden, presetHidden } from '../src/train/model.ts';
import { shuffleInPlace, trainModel } from '../src/train/train.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { createDenseStepper, KERAS_ADAM, type DenseWeights } from '../src/train/dense-step.ts';
import { denseKernels } from '../src/train/dense-kernels.ts';
import { loadModel, readModelCard, saveModel } from '../src/train/model-store.ts';
import { loadFloatModel, predictFloat, toFloatModel } from '../src/train/float-model.ts';
import { runTrain } from '../src/train/train-folder.ts';
import { runPredict } from '../src/cli/commands/predict.ts';

// The real data: $TINYML_DATA_DIR, the cache or the Debian package; never a download.
let train: Dataset | undefined;
let test_: Dataset | undefined;
let noData: string | false = false;
try {
  train = await loadFashionMnist({ split: 'train', limit: 600, download: false });
  test_ = await loadFashionMnist({ split: 'test', limit: 200, download: false });
} catch (err) {
  noData = `Fashion-MNIST not found (${(err as Error).message.slice(0, 80)}...)`;
}
const backend = await initBackend();
console.log(`# backend: ${backend}`);

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tinyml-train-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Plain-TS forward pass over a FloatModel, in float64, for one image of raw pixels. */
function forward(model: FloatModel, pixels: Uint8Array): number[] {
  let x = Array.from(pixels, (p) => (model.normalized ? p / 255 : p));
  for (const layer of model.layers) {
    const y: number[] = [];
    for (let o = 0; o < layer.outputSize; o++) {
      let acc = layer.bias[o]!;
      for (let i = 0; i < layer.inputSize; i++) acc += layer.weights[o * layer.inputSize + i]! * x[i]!;
      y.push(layer.activation === 'relu' ? Math.max(0, acc) : acc);
    }
    x = y;
  }
  if (model.softmax) {
    const m = Math.max(...x);
    const e = x.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    x = e.map((v) => v / s);
  }
  return x;
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe('model presets', () => {
  test('parseHidden, presets, names', () => {
    assert.deepEqual(parseHidden('512,512'), [512, 512]);
    assert.deepEqual(parseHidden(' 64 , 32 '), [64, 32]);
    assert.deepEqual(parseHidden(128), [128]);
    for (const bad of ['', '0', '12,', 'a', '1.5', '-4', '100000']) assert.throws(() => parseHidden(bad), UsageError, bad);
    assert.deepEqual(presetHidden('default'), [128]);
    assert.deepEqual(presetHidden('seed-base'), [20]);
    assert.deepEqual(presetHidden('seed-wide'), [1024]);
    assert.deepEqual(presetHidden('seed-deep'), [512, 512]);
    assert.throws(() => presetHidden('huge'), {
      name: 'UsageError',
      message: "unknown preset 'huge': use one of default, seed-base, seed-wide, seed-deep",
    });
    assert.throws(() => presetHidden('toString'), UsageError);
    assert.equal(hiddenName([512, 512]), 'h512-512');
  });

  test('the default model has 101,770 parameters and seeded builds are identical', () => {
    const a = buildModel([128], 7);
    const b = buildModel([128], 7);
    const c = buildModel([128], 8);
    try {
      assert.equal(a.countParams(), 784 * 128 + 128 + 128 * 10 + 10);
      assert.deepEqual(weightsOf(a), weightsOf(b));
      assert.notDeepEqual(weightsOf(a)[0], weightsOf(c)[0]);
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  test('seeded shuffle is a repeatable permutation', () => {
    const a = Uint32Array.from({ length: 50 }, (_, i) => i);
    const b = a.slice();
    shuffleInPlace(a, mulberry32(3));
    shuffleInPlace(b, mulberry32(3));
    assert.deepEqual(a, b);
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual([...a], Array.from({ length: 50 }, (_, i) => i));
  });
});


/**
 * Float64 oracle for DenseStepper: Dense(relu)... -> Dense, loss = mean softmax
 * cross-entropy from the logits, Keras's Adam. x is sample-major [n][in].
 */
function referenceSteps(sizes: number[], init: DenseWeights[], batches: { x: number[][]; y: number[] }[]): { w: number[][]; b: number[][]; losses: number[] } {
  const w = init.map((l) => Array.from(l.kernel)); // [in][out]
  const b = init.map((l) => Array.from(l.bias));
  const m = w.map((l) => l.map(() => 0));
  const v = w.map((l) => l.map(() => 0));
  const mb = b.map((l) => l.map(() => 0));
  const vb = b.map((l) => l.map(() => 0));
  const { learningRate: lr, beta1, beta2, epsilon } = KERAS_ADAM;
  const losses: number[] = [];
  batches.forEach(({ x, y }, step) => {
    const n = x.length;
    const acts: number[][][] = [x];
    for (let l = 0; l < w.length; l++) {
      const [inS, outS] = [sizes[l]!, sizes[l + 1]!];
      acts.push(acts[l]!.map((a) => Array.from({ length: outS }, (_, o) => {
        let z = b[l]![o]!;
        for (let i = 0; i < inS; i++) z += a[i]! * w[l]![i * outS + o]!;
        return l < w.length - 1 ? Math.max(0, z) : z;
      })));
    }
    let loss = 0;
    let grad = acts[w.length]!.map((z, k) => {
      const max = Math.max(...z);
      const sum = z.reduce((s, zi) => s + Math.exp(zi - max), 0);
      loss += Math.log(sum) + max - z[y[k]!]!;
      return z.map((zi, c) => (Math.exp(zi - max) / sum - (c === y[k] ? 1 : 0)) / n);
    });
    losses.push(loss);
    const t = step + 1;
    const alpha = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    const adam = (p: number[], g: number[], mm: number[], vv: number[]) => g.forEach((gi, i) => {
      mm[i] = beta1 * mm[i]! + (1 - beta1) * gi;
      vv[i] = beta2 * vv[i]! + (1 - beta2) * gi * gi;
      p[i] = p[i]! - (alpha * mm[i]!) / (Math.sqrt(vv[i]!) + epsilon);
    });
    for (let l = w.length - 1; l >= 0; l--) {
      const [inS, outS] = [sizes[l]!, sizes[l + 1]!];
      const gw = Array.from({ length: inS * outS }, (_, j) => {
        const [i, o] = [Math.floor(j / outS), j % outS];
        return grad.reduce((s, g, k) => s + acts[l]![k]![i]! * g[o]!, 0);
      });
      const gb = Array.from({ length: outS }, (_, o) => grad.reduce((s, g) => s + g[o]!, 0));
      const below = acts[l]!.map((a, k) => a.map((ai, i) => {
        let s = 0;
        for (let o = 0; o < outS; o++) s += w[l]![i * outS + o]! * grad[k]![o]!;
        return ai > 0 ? s : 0;
      }));
      adam(w[l]!, gw, m[l]!, v[l]!);
      adam(b[l]!, gb, mb[l]!, vb[l]!);
      grad = below;
    }
  });
  return { w, b, losses };
}

describe('dense training step', () => {
  // 7 hidden units: the 7x10 output kernel leaves a tail after the 4-lane SIMD loop.
  const sizes = [13, 9, 7, 10];
  const rand = mulberry32(11);
  const init: DenseWeights[] = sizes.slice(1).map((o, l) => ({
    kernel: Float32Array.from({ length: sizes[l]! * o }, () => rand() - 0.5),
    bias: Float32Array.from({ length: o }, () => 0.1 * (rand() - 0.5)),
  }));
  // Inputs up to 255 and 200: the logits are large, as on raw pixels.
  const batches = Array.from({ length: 6 }, () => {
    const n = 5;
    return { x: Array.from({ length: n }, () => Array.from({ length: sizes[0]! }, () => Math.round(255 * rand()))), y: Array.from({ length: n }, () => Math.floor(10 * rand())) };
  });
  const expected = referenceSteps(sizes, init, batches);

  for (const mode of ['auto', 'arrays'] as const) {
    test(`${mode === 'auto' ? 'the wasm SIMD kernel stepper' : 'the array stepper'} matches a float64 oracle over 6 steps on large inputs`, () => {
      const before = tf.memory().numTensors;
      // Batches of 5 (padded to 8 in the kernels), the last one short: padding must carry no gradient.
      const stepper = createDenseStepper(sizes, init, { mode, batchSize: 5 });
      try {
        batches.forEach(({ x, y }, s) => {
          const n = x.length;
          const r = stepper.step(Float32Array.from(x.flat()), y, n);
          assert.ok(Math.abs(r.lossSum - expected.losses[s]!) <= 1e-3 * Math.max(1, expected.losses[s]!), `step ${s + 1} loss ${r.lossSum} vs ${expected.losses[s]}`);
          assert.ok(Number.isFinite(r.lossSum) && r.lossSum > 0);
        });
        const got = stepper.weights();
        got.forEach((l, i) => {
          const close = (a: ArrayLike<number>, e: number[], what: string) => {
            for (let j = 0; j < e.length; j++) assert.ok(Math.abs(a[j]! - e[j]!) <= 2e-5 + 1e-4 * Math.abs(e[j]!), `layer ${i + 1} ${what}[${j}]: ${a[j]} vs ${e[j]}`);
          };
          close(l.kernel, expected.w[i]!, 'kernel');
          close(l.bias, expected.b[i]!, 'bias');
        });
      } finally {
        stepper.dispose();
      }
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    });
  }

  test("2 threads (every product split with the worker) and 'auto' give the same weights, bit for bit, as 1", () => {
    // 40 steps: 'auto' times a window of split steps, then one of unsplit steps, then picks.
    const run = (threads: number | 'auto') => {
      const stepper = createDenseStepper(sizes, init, { batchSize: 5, threads, splitWork: 0 });
      try {
        const losses = Array.from({ length: 40 }, (_, s) => {
          const { x, y } = batches[s % batches.length]!;
          return stepper.step(Float32Array.from(x.flat()), y, x.length).lossSum;
        });
        return { threads: stepper.threads, splitSteps: stepper.splitSteps, losses, weights: stepper.weights() };
      } finally {
        stepper.dispose();
      }
    };
    const one = run(1);
    assert.equal(one.threads, 1);
    assert.equal(one.splitSteps, 0);
    for (const threads of [2, 'auto'] as const) {
      const other = run(threads);
      if (other.threads === 1) return; // no shared wasm memory in this engine: one thread is all there is
      assert.equal(other.threads, 2);
      if (threads === 2) assert.equal(other.splitSteps, 40);
      else assert.ok(other.splitSteps >= 16 && other.splitSteps <= 24, `auto split ${other.splitSteps} of 40 steps`);
      assert.deepEqual(other.losses, one.losses, `threads ${threads}`);
      assert.deepEqual(other.weights, one.weights, `threads ${threads}`);
    }
  });

  test('the kernels: forward with bias and ReLU, masked input gradient, gradient folded into Adam', (t) => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const np = 8;
    const k = denseKernels(memory, np);
    if (!k) return t.skip('no wasm SIMD in this engine: the array stepper, tested above, is used');
    const f = new Float32Array(memory.buffer);
    const r = mulberry32(4);
    // rows 4 (out), cols 12 (in): 12 = one 4-vector tile short of 16, so the one-vector tail runs too.
    const [rows, cols] = [4, 12];
    const fill = (at: number, count: number, scale: number) => { for (let i = 0; i < count; i++) f[at + i] = scale * (r() - 0.5); return at; };
    const W = fill(0, rows * cols, 1), X = fill(64, cols * np, 2), B = fill(192, rows, 1), Z = 256, DX = 320, A = fill(448, cols * np, 1);
    const XT = fill(576, np * cols, 1), M = fill(704, rows * cols, 0.01), V = 768;
    for (let i = 0; i < rows * cols; i++) f[V + i] = 1e-4 * r();
    const before = f.slice(0, 1024);
    for (const relu of [false, true]) {
      k.forward(W * 4, X * 4, B * 4, Z * 4, rows, cols, relu);
      for (let o = 0; o < rows; o++) for (let s = 0; s < np; s++) {
        let z = before[B + o]!;
        for (let i = 0; i < cols; i++) z += before[W + o * cols + i]! * before[X + i * np + s]!;
        if (relu) z = Math.max(0, z);
        assert.ok(Math.abs(f[Z + o * np + s]! - z) <= 1e-5, `forward relu=${relu} [${o}][${s}]`);
      }
    }
    k.backward(W * 4, Z * 4, A * 4, DX * 4, rows, cols); // dz = the ReLU output above
    for (let i = 0; i < cols; i++) for (let s = 0; s < np; s++) {
      let d = 0;
      for (let o = 0; o < rows; o++) d += before[W + o * cols + i]! * f[Z + o * np + s]!;
      assert.ok(Math.abs(f[DX + i * np + s]! - (before[A + i * np + s]! > 0 ? d : 0)) <= 1e-5, `backward [${i}][${s}]`);
    }
    k.transpose(X * 4, DX * 4, cols, np); // [12][8] -> [8][12]
    for (let i = 0; i < cols; i++) for (let s = 0; s < np; s++) assert.equal(f[DX + s * cols + i], before[X + i * np + s], `transpose [${i}][${s}]`);
    const dz = f.slice(Z, Z + rows * np);
    k.gradAdam(Z * 4, XT * 4, W * 4, M * 4, V * 4, rows, cols, 0.01, 0.9, 0.999, 1e-7);
    for (let o = 0; o < rows; o++) for (let i = 0; i < cols; i++) {
      let g = 0;
      for (let s = 0; s < np; s++) g += dz[o * np + s]! * before[XT + s * cols + i]!;
      const j = o * cols + i;
      const m = 0.9 * before[M + j]! + 0.1 * g;
      const v = 0.999 * before[V + j]! + 0.001 * g * g;
      const w = before[W + j]! - (0.01 * m) / (Math.sqrt(v) + 1e-7);
      assert.ok(Math.abs(f[W + j]! - w) <= 1e-5 && Math.abs(f[M + j]! - m) <= 1e-6 && Math.abs(f[V + j]! - v) <= 1e-8, `adam [${o}][${i}]: w ${f[W + j]} vs ${w}`);
    }
  });
});

describe('training', { skip: noData }, () => {
  test('same seed -> same weights; no tensors leak', async () => {
    const before = tf.memory().numTensors;
    const events: string[] = [];
    const opts = { train: train!, test: test_!, hidden: [8], epochs: 2, seed: 42 };
    const a = await trainModel({ ...opts, onProgress: (e) => events.push(e.kind) });
    const b = await trainModel(opts);
    const c = await trainModel({ ...opts, seed: 43 });
    try {
      assert.deepEqual(weightsOf(a.model), weightsOf(b.model));
      assert.notDeepEqual(weightsOf(a.model)[0], weightsOf(c.model)[0]);
      assert.deepEqual(a.metrics.epochs.map((e) => e.loss), b.metrics.epochs.map((e) => e.loss));
      assert.equal(a.metrics.testAccuracy, b.metrics.testAccuracy);
      const m = a.metrics;
      assert.equal(m.epochs.length, 2);
      assert.equal(m.seed, 42);
      assert.equal(m.params, 784 * 8 + 8 + 8 * 10 + 10);
      assert.equal(m.backend, backend);
      assert.equal(m.stoppedEarly, false);
      assert.equal(m.dataset.train.sha256, train!.sha256);
      assert.equal(m.dataset.test.count, 200);
      assert.deepEqual(m.classNames, FASHION_MNIST_CLASSES);
      assert.ok(m.testAccuracy > 0.2, `test accuracy ${m.testAccuracy}`);
      assert.ok(m.epochs[1]!.loss < m.epochs[0]!.loss);
      // 600/32 -> 19 batches an epoch, then an epoch event; evaluate once at the end.
      assert.equal(events.filter((k) => k === 'batch').length, 38);
      assert.deepEqual(events.filter((k) => k !== 'batch'), ['epoch', 'epoch', 'evaluate']);
    } finally {
      a.model.dispose();
      b.model.dispose();
      c.model.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });

  test('stop-at-accuracy never stops before the end of epoch 2', async () => {
    const r = await trainModel({ train: train!, test: test_!, hidden: [8], epochs: 4, seed: 1, stopAtAccuracy: 0.01 });
    r.model.dispose();
    assert.equal(r.metrics.epochs.length, 2);
    assert.equal(r.metrics.stoppedEarly, true);
    const never = await trainModel({ train: train!, test: test_!, hidden: [8], epochs: 3, seed: 1, stopAtAccuracy: 1 });
    never.model.dispose();
    assert.equal(never.metrics.epochs.length, 3);
    assert.equal(never.metrics.stoppedEarly, false);
    await assert.rejects(trainModel({ train: train!, test: test_!, hidden: [8], stopAtAccuracy: 1.5 }), UsageError);
    await assert.rejects(trainModel({ train: train!, test: test_!, hidden: [8], epochs: 0 }), UsageError);
  });

  test('save/load round trip gives identical predictions; toFloatModel matches tfjs within 1e-5', async () => {
    const { model, metrics } = await trainModel({ train: train!, test: test_!, hidden: [16, 8], epochs: 1, seed: 5 });
    const dir = join(root, 'roundtrip');
    const images = test_!.images;
    try {
      await saveModel(model, dir, { name: 'roundtrip', ...metrics });
      const p1 = predictFloat(model, images, true, 64);
      const loaded = await loadModel(dir);
      const p2 = predictFloat(loaded, images, true, 64);
      loaded.dispose();
      assert.deepEqual(p2.probabilities, p1.probabilities);
      assert.deepEqual(p2.top1, p1.top1);
      const card = await readModelCard(dir);
      assert.equal(card?.name, 'roundtrip');
      assert.deepEqual(card?.hidden, [16, 8]);

      const { tfModel, floatModel, meta } = await loadFloatModel(dir);
      tfModel.dispose();
      assert.equal(meta.name, 'roundtrip');
      assert.equal(floatModel.normalized, true);
      assert.equal(floatModel.softmax, true);
      assert.deepEqual(floatModel.inputShape, [28, 28]);
      assert.deepEqual(floatModel.layers.map((l) => [l.name, l.inputSize, l.outputSize, l.activation]), [
        ['hidden_1', 784, 16, 'relu'],
        ['hidden_2', 16, 8, 'relu'],
        ['output', 8, 10, 'linear'],
      ]);
      let maxDiff = 0;
      for (let i = 0; i < test_!.count; i++) {
        const ref = forward(floatModel, images.subarray(i * 784, (i + 1) * 784));
        for (let c = 0; c < 10; c++) maxDiff = Math.max(maxDiff, Math.abs(ref[c]! - p1.probabilities[i * 10 + c]!));
      }
      assert.ok(maxDiff <= 1e-5, `max |plain TS - tfjs| = ${maxDiff}`);
    } finally {
      model.dispose();
    }
  });

  test('raw 0..255 pixels train well above chance (the loss comes from the logits)', async () => {
    // A log of a clipped softmax gives no gradient once the softmax saturates: chance, 10%.
    const { model, metrics } = await trainModel({ train: train!, test: test_!, hidden: [128], epochs: 3, seed: 1, normalize: false });
    model.dispose();
    assert.ok(metrics.epochs[2]!.accuracy > 0.5, `train accuracy ${metrics.epochs[2]!.accuracy}`);
    assert.ok(metrics.testAccuracy > 0.4, `test accuracy ${metrics.testAccuracy}`);
  });

  test('un-normalized training records normalized=false and predicts on raw pixels', async () => {
    const { model, metrics } = await trainModel({ train: train!, test: test_!, hidden: [8], epochs: 1, seed: 2, normalize: false });
    try {
      assert.equal(metrics.normalized, false);
      const fm = toFloatModel(model, { name: 'raw', classNames: FASHION_MNIST_CLASSES, normalized: false });
      const p = predictFloat(model, test_!.images.subarray(0, 784), false, 1);
      const ref = forward(fm, test_!.images.subarray(0, 784));
      for (let c = 0; c < 10; c++) assert.ok(Math.abs(ref[c]! - p.probabilities[c]!) <= 1e-5);
    } finally {
      model.dispose();
    }
  });

  test('CLI runTrain and runPredict', async () => {
    const out = join(root, 'cli-model');
    const { dir, name, metrics } = await runTrain(
      { hidden: '8', epochs: 1, 'batch-size': 50, normalize: true, seed: 3, out, 'limit-train': 300, 'limit-test': 100 },
      () => {},
    );
    assert.equal(dir, out);
    assert.equal(name, 'h8');
    assert.equal(metrics.batchSize, 50);
    const card = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
    assert.equal(card.name, 'h8');
    assert.deepEqual(card.hidden, [8]);
    const p = await runPredict({ model: out, index: 0 });
    assert.equal(p.probabilities.length, 10);
    assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.equal(p.label, 9);
    await assert.rejects(runPredict({ model: out, index: 10000 }), /--index 10000 is out of range/);
    await assert.rejects(runPredict({ model: out, index: -1 }), UsageError);
    await assert.rejects(runTrain({ preset: 'default', hidden: '8', epochs: 1, 'batch-size': 32, normalize: true }, () => {}), UsageError);
    await assert.rejects(runTrain({ epochs: 1, 'batch-size': 32, normalize: true, 'limit-train': 0 }, () => {}), /--limit-train 0/);
  });
});

describe('toFloatModel', () => {
  const meta = { name: 't', classNames: FASHION_MNIST_CLASSES, normalized: true };

  test('refuses a Conv2D model, naming the layer', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, name: 'conv2d' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    try {
      assert.throws(() => toFloatModel(model, meta), (err: Error) => {
        assert.ok(err instanceof UnsupportedModelError);
        assert.equal(
          err.message,
          "layer 'conv2d' (Conv2D) cannot be quantized: only Flatten and Dense(relu) layers with a final Dense(softmax) are supported",
        );
        return true;
      });
    } finally {
      model.dispose();
    }
  });

  test('refuses BatchNormalization, tanh, a softmax before the end, Dense on unflattened input', () => {
    const cases: [tf.layers.Layer[], RegExp][] = [
      [[tf.layers.flatten({ inputShape: [28, 28] }), tf.layers.batchNormalization({ name: 'bn' }), tf.layers.dense({ units: 10 })], /^layer 'bn' \(BatchNormalization\) cannot be quantized/],
      [[tf.layers.flatten({ inputShape: [28, 28] }), tf.layers.dense({ units: 10, activation: 'tanh', name: 'd' })], /^layer 'd' \(Dense, activation 'tanh'\) cannot be quantized/],
      [[tf.layers.flatten({ inputShape: [28, 28] }), tf.layers.dense({ units: 4, activation: 'softmax', name: 's' }), tf.layers.dense({ units: 10 })], /^layer 's' .*softmax is only supported on the last Dense layer/],
      [[tf.layers.dense({ inputShape: [28, 28], units: 10, name: 'd3' })], /^layer 'd3' \(Dense\) .*add a Flatten/],
    ];
    for (const [layers, re] of cases) {
      const model = tf.sequential({ layers });
      try {
        assert.throws(() => toFloatModel(model, meta), (err: Error) => err instanceof UnsupportedModelError && re.test(err.message));
      } finally {
        model.dispose();
      }
    }
  });

  test('skips Dropout, accepts Reshape to flat and a logits-only (linear) output', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.reshape({ inputShape: [28, 28], targetShape: [784] }),
        tf.layers.dense({ units: 6, activation: 'relu' }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 10 }),
      ],
    });
    try {
      const fm = toFloatModel(model, meta);
      assert.equal(fm.softmax, false);
      assert.deepEqual(fm.layers.map((l) => l.activation), ['relu', 'linear']);
      const x = new Uint8Array(784).map((_, i) => (i * 13) & 0xff);
      const ref = forward(fm, x);
      const p = predictFloat(model, x, true, 1);
      for (let c = 0; c < 10; c++) assert.ok(Math.abs(ref[c]! - p.probabilities[c]!) <= 1e-5);
    } finally {
      model.dispose();
    }
  });
});

describe('Keras models converted by tensorflowjs_converter', () => {
  /** A model.json as tensorflowjs_converter writes for a tf.keras 2.x Sequential model. */
  function kerasModelJson(keras3: boolean) {
    const dense = (name: string, units: number, activation: string) => ({
      class_name: 'Dense',
      config: {
        name, trainable: true, dtype: keras3 ? { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null } : 'float32',
        units, activation, use_bias: true,
        kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: null }, registered_name: null },
        bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null },
        kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
      },
    });
    const input = keras3
      ? { class_name: 'InputLayer', config: { batch_shape: [null, 28, 28], dtype: 'float32', sparse: false, name: 'input_layer' } }
      : { class_name: 'InputLayer', config: { batch_input_shape: [null, 28, 28], dtype: 'float32', sparse: false, ragged: false, name: 'flatten_input' } };
    return {
      format: 'layers-model',
      generatedBy: keras3 ? 'keras v3.3.3' : 'keras v2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: {
        keras_version: keras3 ? '3.3.3' : '2.15.0',
        backend: 'tensorflow',
        model_config: {
          class_name: 'Sequential',
          config: {
            name: 'sequential',
            layers: [
              input,
              { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', data_format: 'channels_last' } },
              dense('dense', 4, 'relu'),
              dense('dense_1', 10, 'softmax'),
            ],
          },
        },
      },
      weightsManifest: [
        {
          paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
          weights: [
            { name: 'dense/kernel', shape: [784, 4], dtype: 'float32' },
            { name: 'dense/bias', shape: [4], dtype: 'float32' },
            { name: 'dense_1/kernel', shape: [4, 10], dtype: 'float32' },
            { name: 'dense_1/bias', shape: [10], dtype: 'float32' },
          ],
        },
      ],
    };
  }

  for (const keras3 of [false, true]) {
    test(`loads a ${keras3 ? 'Keras 3' : 'Keras 2'} model split over two shards, with default metadata`, async () => {
      const dir = join(root, keras3 ? 'fashion_keras3' : 'fashion_keras2');
      await mkdir(dir, { recursive: true });
      const values = new Float32Array(784 * 4 + 4 + 40 + 10).map((_, i) => Math.sin(i) * 0.1);
      const bytes = new Uint8Array(values.buffer);
      const cut = 5000; // shards split mid-tensor, as the converter's 4 MB shards do
      await writeFile(join(dir, 'model.json'), JSON.stringify(kerasModelJson(keras3)));
      await writeFile(join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, cut));
      await writeFile(join(dir, 'group1-shard2of2.bin'), bytes.subarray(cut));
      const { tfModel, floatModel, meta } = await loadFloatModel(dir);
      try {
        assert.equal(meta.name, basename(dir));
        assert.deepEqual(meta.classNames, FASHION_MNIST_CLASSES);
        assert.equal(meta.normalized, true);
        assert.equal(floatModel.softmax, true);
        const [l1, l2] = floatModel.layers;
        assert.equal(l1!.name, 'dense');
        // kernel[i][o] in the file -> weights[o][i]
        assert.equal(l1!.weights[2 * 784 + 100], values[100 * 4 + 2]);
        assert.deepEqual(l1!.bias, values.subarray(784 * 4, 784 * 4 + 4));
        assert.deepEqual(l2!.bias, values.subarray(784 * 4 + 4 + 40));
        const x = new Uint8Array(784).map((_, i) => (i * 7) & 0xff);
        const ref = forward(floatModel, x);
        const p = predictFloat(tfModel, x, true, 1);
        for (let c = 0; c < 10; c++) assert.ok(Math.abs(ref[c]! - p.probabilities[c]!) <= 1e-5);
      } finally {
        tfModel.dispose();
      }
    });
  }

  test('a missing or short shard is a DataFormatError naming the file', async () => {
    const dir = join(root, 'short');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.json'), JSON.stringify(kerasModelJson(false)));
    await writeFile(join(dir, 'group1-shard1of2.bin'), new Uint8Array(100));
    await assert.rejects(loadModel(dir), (err: Error) => err.name === 'DataFormatError' && err.message.includes('group1-shard2of2.bin'));
    await writeFile(join(dir, 'group1-shard2of2.bin'), new Uint8Array(100));
    await assert.rejects(loadModel(dir), /weight shards hold 200 bytes, the manifest describes 12760/);
    await assert.rejects(loadModel(join(root, 'nowhere')), /model\.json: cannot read the model: no such file/);
  });
});

test('the Debian data is what the training tests used', { skip: !existsSync(SYSTEM_DATA_DIR) || noData }, () => {
  assert.equal(train!.count, 600);
});
