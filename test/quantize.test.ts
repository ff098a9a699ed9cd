import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asymmetricParams, calibrate, quantizeModel, roundHalfAwayFromZero, SOFTMAX_OUTPUT } from '../src/quantize/quantize.ts';
import type { FloatModel } from '../src/model/types.ts';
import { randomFloatModel, randomImages } from './helpers/random-model.ts';
import { UnsupportedModelError, UsageError } from '../src/errors.ts';

test('roundHalfAwayFromZero rounds ties away from zero like C round()', () => {
  assert.equal(roundHalfAwayFromZero(0.5), 1);
  assert.equal(roundHalfAwayFromZero(-0.5), -1);
  assert.equal(roundHalfAwayFromZero(2.5), 3);
  assert.equal(roundHalfAwayFromZero(-2.5), -3);
  assert.equal(roundHalfAwayFromZero(-2.4), -2);
});

test('asymmetric int8 params follow the converter, in float32', () => {
  assert.deepEqual(asymmetricParams(0, 1), { scale: Math.fround(1 / 255), zeroPoint: -128 });
  assert.deepEqual(asymmetricParams(0, 255), { scale: 1, zeroPoint: -128 });
  // The range always includes zero.
  assert.deepEqual(asymmetricParams(0.5, 1), { scale: Math.fround(1 / 255), zeroPoint: -128 });
  assert.deepEqual(asymmetricParams(-2, -1), { scale: Math.fround(2 / 255), zeroPoint: 127 });
  // zero point from min is -0.5 here: C's round() gives -1, Math.round would give 0.
  assert.deepEqual(asymmetricParams(-1, 1), { scale: Math.fround(2 / 255), zeroPoint: -1 });
});

test('weights are symmetric int8 within half a step, per tensor and per channel', () => {
  const model = randomFloatModel([16], 1);
  const images = randomImages(50, 2);
  for (const perChannel of [false, true]) {
    const q = quantizeModel(model, { images, count: 50 }, { perChannel });
    q.layers.forEach((layer, l) => {
      const f = model.layers[l];
      assert.equal(layer.weightScales.length, perChannel ? f.outputSize : 1);
      let maxQ = 0;
      for (let o = 0; o < f.outputSize; o++) {
        const s = layer.weightScales[perChannel ? o : 0];
        let rowMax = 0;
        for (let i = 0; i < f.inputSize; i++) {
          const k = o * f.inputSize + i;
          assert.ok(Math.abs(layer.weights[k] * s - f.weights[k]) <= s / 2 + 1e-7, `weight ${k}`);
          assert.ok(layer.weights[k] >= -127 && layer.weights[k] <= 127);
          rowMax = Math.max(rowMax, Math.abs(layer.weights[k]));
        }
        if (perChannel) assert.equal(rowMax, 127, 'each channel uses the full range');
        maxQ = Math.max(maxQ, rowMax);
        const biasScale = Math.fround(layer.input.scale * s);
        assert.ok(Math.abs(layer.bias[o] * biasScale - f.bias[o]) <= biasScale / 2 + 1e-9, `bias ${o}`);
      }
      assert.equal(maxQ, 127);
    });
  }
});

test('activation ranges come from calibration; input and softmax output are fixed', () => {
  const model = randomFloatModel([16, 12], 3);
  const images = randomImages(40, 4);
  const q = quantizeModel(model, { images, count: 40 });
  const ranges = calibrate(model, { images, count: 40 });
  assert.deepEqual(q.input, { scale: Math.fround(1 / 255), zeroPoint: -128 });
  assert.deepEqual(q.layers[0].input, q.input);
  q.layers.forEach((layer, l) => {
    assert.deepEqual(layer.output, asymmetricParams(ranges[l].min, ranges[l].max));
    if (l > 0) assert.deepEqual(layer.input, q.layers[l - 1].output);
    if (layer.activation === 'relu') assert.equal(layer.output.zeroPoint, -128, 'ReLU outputs start at zero');
  });
  assert.deepEqual(q.softmax, { output: SOFTMAX_OUTPUT, beta: 1 });
  assert.equal(SOFTMAX_OUTPUT.scale, 1 / 256);

  const raw = quantizeModel(randomFloatModel([8], 5, false), { images, count: 10 });
  assert.deepEqual(raw.input, { scale: 1, zeroPoint: -128 });
});

test('unquantizable models and bad calibration sets are refused', () => {
  const model = randomFloatModel([16], 6);
  const broken: FloatModel = { ...model, layers: [model.layers[0], { ...model.layers[1], inputSize: 15 }] };
  assert.throws(() => quantizeModel(broken, { images: randomImages(2, 1), count: 2 }), UnsupportedModelError);
  assert.throws(() => quantizeModel(model, { images: randomImages(2, 1), count: 3 }), UsageError);
  assert.throws(() => quantizeModel({ ...model, layers: [] }, { images: randomImages(2, 1), count: 2 }), UnsupportedModelError);
});
