import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeModel } from '../src/quantize/quantize.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { evaluateInt8 } from '../src/evaluate/evaluate.ts';
import { compareOutputs, argmax } from '../src/evaluate/compare.ts';
import { randomFloatModel, randomImages } from './helpers/random-model.ts';

const COUNT = 1200;

test('argmax takes the first of equal maxima, like numpy', () => {
  assert.equal(argmax([1, 3, 3, 2]), 1);
  assert.equal(argmax(Int8Array.of(-128, -128)), 0);
  assert.equal(argmax([0, 5, 9, 9], 2, 2), 0);
});

test('compareOutputs counts differences and finds the first mismatching samples', () => {
  const a = Int8Array.of(1, 2, 3, 4, 5, 6);
  const b = Int8Array.of(1, 2, 3, 5, 5, 4);
  const c = compareOutputs(a, b, 3, 2);
  assert.equal(c.exactAgreement, 1 / 3);
  assert.equal(c.differingOutputs, 2);
  assert.equal(c.maxAbsDiff, 2);
  assert.deepEqual(c.firstMismatches, [1, 2]);
  assert.equal(c.top1Agreement, 2 / 3);
});

test('the TFLM reference equals TFLite 2.9 except at proven negative ties', () => {
  const float = randomFloatModel([48], 11);
  const images = randomImages(COUNT, 12);
  const labels = Uint8Array.from({ length: COUNT }, (_, i) => i % 10);
  const model = quantizeModel(float, { images, count: 200 });
  const report = evaluateInt8({ model, tflite: writeTflite(model), images, labels, count: COUNT, normalized: true });
  assert.equal(report.tfliteSkipped, null);
  assert.ok(report.ties && report.logits && report.output);
  // With TFLite's own tie rule the reference reproduces its logits bit for bit.
  assert.equal(report.ties.tfliteRuleLogitsAgreement, 1);
  // Every logits difference under TFLM's rule comes from a sample with a negative tie...
  assert.equal(report.ties.unexplainedLogitDiffs, 0);
  // ...and the ties exist on data like this, so the proof is not vacuous.
  assert.ok(report.ties.negativeTies > 0, 'expected some exact negative ties');
  assert.ok(report.logits.maxAbsDiff <= 1);
  assert.equal(report.top1Agreement, 1);
  // The softmax kernels differ in algorithm, never by more than one step.
  assert.ok(report.output.maxAbsDiff <= 1);
  assert.equal(report.int8Accuracy, report.tfliteAccuracy);
});

test('a per-channel model is evaluated on the reference alone, and says why', () => {
  const float = randomFloatModel([16], 21);
  const images = randomImages(50, 22);
  const labels = new Uint8Array(50);
  const model = quantizeModel(float, { images, count: 50 }, { perChannel: true });
  const report = evaluateInt8({ model, tflite: writeTflite(model), images, labels, count: 50, normalized: true });
  assert.match(report.tfliteSkipped ?? '', /per-channel/);
  assert.equal(report.tfliteAccuracy, null);
  assert.equal(typeof report.int8Accuracy, 'number');
});
