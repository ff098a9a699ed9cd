/**
 * End to end through the real CLI, as a user runs it: train a small model on a
 * data subset, quantize, export, evaluate on 1000+ test images, and the errors
 * a user can provoke. Each step is a separate `tinyml` process.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveModel } from '../src/train/model-store.ts';
import { readTflite } from '../src/tflite/reader.ts';
import { assertOneLineError, tinyml as cli } from './helpers/cli.ts';

const tinyml = (...args: string[]) => cli(args);

const DATA = '/usr/share/datasets/fashion-mnist';
const noData = !existsSync(join(DATA, 't10k-images-idx3-ubyte.gz'));

async function noTempFiles(dir: string): Promise<void> {
  const names = await readdir(dir);
  assert.deepEqual(names.filter((n) => n.endsWith('.tmp')), [], `half-written files left in ${dir}`);
}

describe('tinyml CLI end to end', { skip: noData && 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)' }, () => {
  let work: string;
  let model: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tinyml-cli-'));
    model = join(work, 'small');
    const r = await tinyml('train', '--hidden', '32', '--epochs', '2', '--limit-train', '6000', '--limit-test', '1000', '--seed', '7', '--out', model);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backend (wasm|tensorflow|cpu)/);
  });

  test('train writes the model and its metrics', async () => {
    const metrics = JSON.parse(await readFile(join(model, 'metrics.json'), 'utf8'));
    assert.deepEqual(metrics.hidden, [32]);
    assert.equal(metrics.classNames.length, 10);
    assert.equal(metrics.epochs.length, 2);
    assert.ok(metrics.testAccuracy > 0.6, `test accuracy ${metrics.testAccuracy}`);
    await noTempFiles(model);
  });

  test('predict prints ten named probabilities and the true class', async () => {
    const r = await tinyml('predict', '--model', model, '--index', '0');
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['T-shirt/top', 'Ankle boot']) assert.ok(r.stdout.includes(name), r.stdout);
    assert.match(r.stdout, /true/i);
  });

  test('quantize, export and evaluate prove the int8 model against TFLite on all test images', async () => {
    let r = await tinyml('quantize', '--model', model, '--calibration-samples', '300', '--float');
    assert.equal(r.code, 0, r.stderr);
    const bytes = new Uint8Array(await readFile(join(model, 'model_int8.tflite')));
    assert.equal(Buffer.from(bytes.subarray(4, 8)).toString(), 'TFL3');
    const int8 = readTflite(bytes);
    assert.equal(int8.kind, 'int8');
    assert.ok(existsSync(join(model, 'model_float.tflite')));

    r = await tinyml('export', '--model', model);
    assert.equal(r.code, 0, r.stderr);
    const source = await readFile(join(model, 'model_data.cc'), 'utf8');
    assert.match(source, /alignas\(16\) const unsigned char g_model\[\]/);
    const arrayBytes = [...source.matchAll(/0x([0-9a-f]{2})/g)].map((m) => parseInt(m[1], 16));
    assert.deepEqual(Uint8Array.from(arrayBytes), bytes, 'the C array is byte-identical to the .tflite');

    r = await tinyml('evaluate', '--model', model, '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    for (const key of ['samples', 'floatAccuracy', 'int8Accuracy', 'tfliteAccuracy', 'top1Agreement', 'exactAgreement', 'maxAbsDiff']) {
      assert.ok(key in report, `evaluate --json lacks ${key}`);
    }
    assert.equal(report.samples, 10000);
    assert.equal(report.top1Agreement, 1, 'reference and TFLite agree on top-1 for every image');
    assert.equal(report.ties.unexplainedLogitDiffs, 0, 'every logits difference is an exact negative tie');
    assert.equal(report.ties.tfliteRuleLogitsAgreement, 1, "with TFLite's tie rule the logits are bit-exact");
    assert.ok(report.maxAbsDiff <= 1);
    assert.ok(report.floatAccuracy - report.int8Accuracy <= 0.01, `int8 lost ${report.floatAccuracy - report.int8Accuracy}`);
    assert.ok(existsSync(join(model, 'evaluation.json')));
    await noTempFiles(model);
  });

  test('--per-channel models are evaluated on the reference and say why TFLite is skipped', async () => {
    const pc = join(work, 'per-channel');
    await mkdir(pc);
    for (const f of ['model.json', 'weights.bin', 'metrics.json']) await copyFile(join(model, f), join(pc, f));
    let r = await tinyml('quantize', '--model', pc, '--per-channel', '--calibration-samples', '100');
    assert.equal(r.code, 0, r.stderr);
    r = await tinyml('evaluate', '--model', pc, '--limit', '200');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /per-channel/);
  });

  test('bad input: one error line, non-zero exit, nothing half-written', async () => {
    assertOneLineError(await tinyml('train', '--preset', 'huge'), /preset.*huge.*default/i);
    assertOneLineError(await tinyml('train', '--data-dir', work, '--epochs', '1'), /fashion-mnist|idx/i);
    assertOneLineError(await tinyml('evaluate', '--model', model, '--limit', '0'), /--limit/);
    assertOneLineError(await tinyml('quantize', '--model', join(work, 'nowhere')), /nowhere/);

    // A truncated .tflite and a file that is no .tflite at all.
    const broken = join(work, 'broken');
    await mkdir(broken);
    const bytes = await readFile(join(model, 'model_int8.tflite'));
    await writeFile(join(broken, 'model_int8.tflite'), bytes.subarray(0, 1000));
    assertOneLineError(await tinyml('export', '--model', broken), /truncated|out of bounds|TFLite/i);
    await writeFile(join(broken, 'model_int8.tflite'), 'PK\x03\x04 this is a zip file');
    assertOneLineError(await tinyml('export', '--model', broken), /TFL3|TFLite/);
    assert.ok(!existsSync(join(broken, 'model_data.h')), 'no header written for a broken model');
    await noTempFiles(broken);

    // A corrupt IDX file.
    const badData = join(work, 'bad-data');
    await mkdir(badData);
    for (const f of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
      await copyFile(join(DATA, f), join(badData, f));
    }
    await writeFile(join(badData, 't10k-images-idx3-ubyte.gz'), Buffer.from([0, 0, 8, 3, 0, 0, 0, 9]));
    assertOneLineError(await tinyml('evaluate', '--model', model, '--data-dir', badData), /t10k-images-idx3-ubyte\.gz/);

    // A model with a layer we cannot quantize.
    const conv = join(work, 'conv');
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, name: 'conv2d' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    await saveModel(m, conv);
    m.dispose();
    assertOneLineError(await tinyml('quantize', '--model', conv), /conv2d.*Conv2D/);
    assert.ok(!existsSync(join(conv, 'model_int8.tflite')));
    await noTempFiles(conv);
  });
});
