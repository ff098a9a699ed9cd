import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeModel } from '../src/quantize/quantize.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { crc32 } from '../src/protocol/crc32.ts';
import { DeviceLink } from '../src/device/link.ts';
import { ImageEncoding } from '../src/protocol/image-codec.ts';
import { MockDevice, randomFaults, type MockDeviceOptions } from '../test/helpers/mock-device.ts';
import { ArenaTooSmallError, DeviceModelError, InterruptedError } from '../src/device/errors.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openResultsFile } from '../src/validate/results-file.ts';
import {
  assertValidationPassed,
  collectAnswers,
  formatValidationReport,
  percentiles,
  validateOnDevice,
  validationReport,
  ValidationFailedError,
  type SampleAnswer,
} from '../src/validate/validate.ts';
import { randomFloatModel, randomImages } from './helpers/random-model.ts';
import type { Int8Model } from '../src/model/types.ts';

const COUNT = 120;
const images = randomImages(COUNT, 8);
const labels = Uint8Array.from({ length: COUNT }, (_, i) => (i * 7) % 10);

function setup(perChannel = false) {
  const model = quantizeModel(randomFloatModel([24], 9), { images: randomImages(60, 10), count: 60 }, { perChannel });
  return { model, bytes: writeTflite(model) };
}

async function run(model: Int8Model, bytes: Uint8Array, device: Partial<MockDeviceOptions> = {}) {
  const mock = new MockDevice({ model, modelCrc32: crc32(bytes), modelBytes: bytes.length, board: 'mock-board', cpuHz: 64_000_000, ...device });
  await mock.open();
  const link = new DeviceLink(mock);
  const info = await link.handshake({ intervalMs: 5 });
  try {
    return await validateOnDevice({ link, info, model, tfliteBytes: bytes, images, labels, count: COUNT, normalized: true, board: 'mock', timeoutMs: 50, retries: 8 });
  } finally {
    await link.close();
  }
}

test('percentiles are nearest-rank', () => {
  const v = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.deepEqual(percentiles(v), { p50: 50, p90: 90, p99: 99, max: 100 });
  assert.deepEqual(percentiles([7]), { p50: 7, p90: 7, p99: 7, max: 7 });
  assert.deepEqual(percentiles([]), { p50: 0, p90: 0, p99: 0, max: 0 });
  assert.deepEqual(percentiles([1, 2, 3, 4]), { p50: 2, p90: 4, p99: 4, max: 4 });
});

test('a device running the reference passes, through a lossy link too', async () => {
  const { model, bytes } = setup();
  const r = await run(model, bytes, {
    faults: randomFaults({ seed: 3, drop: 0.03, corrupt: 0.03, duplicate: 0.05 }),
    chunkBytes: 33,
    bootLog: ['model loaded: mock'],
    infoOverrides: { runtimeVersion: 'native (mock 1.0)' },
  });
  assert.equal(r.samples, COUNT);
  assert.equal(r.passed, true);
  assert.equal(r.exactAgreement, 1);
  assert.equal(r.deviceAccuracy, r.referenceAccuracy);
  assert.notEqual(r.hostInt8Accuracy, null);
  assert.ok(r.vsTflite && r.vsTflite.top1Agreement > 0.9);
  assert.equal(r.hostFloatAccuracy, null);
  assert.equal(r.modelCrc32, crc32(bytes).toString(16).padStart(8, '0'));
  assert.equal(r.cycleUnit, 'emulated-instructions');
  assert.ok(r.latencyCycles.p50 >= 100_000 && r.latencyCycles.max >= r.latencyCycles.p99);
  assert.ok(Math.abs(r.latencyMicros!.p50 - r.latencyCycles.p50 / 64) < 1e-9);
  assert.ok(r.throughputSamplesPerSec > 0);
  assert.ok(r.link.resends > 0);
  assert.equal(r.runtimeVersion, 'native (mock 1.0)');
  assert.equal(r.link.deviceTxDroppedBytes, 0);
  assert.deepEqual(r.deviceLog, ['model loaded: mock'], 'the boot line, once, through the lossy link');
  const text = formatValidationReport(r);
  assert.match(text, /runtime version +native \(mock 1\.0\)/);
  assert.match(text, /device serial +0 bytes dropped/);
  assert.match(text, /device log +1 lines/);
  assert.match(text, /PASS/);
  assert.match(text, /emulated instructions/);
  assertValidationPassed(r);
});

test('per-channel models: host TFLite is skipped with the reason', async () => {
  const { model, bytes } = setup(true);
  const r = await run(model, bytes);
  assert.equal(r.passed, true);
  assert.equal(r.hostInt8Accuracy, null);
  assert.match(r.hostInt8Skipped!, /per-channel/);
  assert.equal(r.vsTflite, null);
});

test('a device computing something else fails, naming the samples', async () => {
  const { model, bytes } = setup();
  const r = await run(model, bytes, {
    tamper: (input, outputs) => {
      if (input[100]! > 0) outputs[0] = outputs[0]! === 127 ? 126 : outputs[0]! + 1;
    },
  });
  assert.equal(r.passed, false);
  assert.ok(r.exactAgreement < 1);
  assert.ok(r.firstMismatches.length > 0);
  assert.match(formatValidationReport(r), /FAIL/);
  assert.throws(() => assertValidationPassed(r), ValidationFailedError);
});

test('INFO checks: another model CRC, a failed load, wrong sizes', async () => {
  const { model, bytes } = setup();
  await assert.rejects(run(model, bytes, { modelCrc32: 0x1234 }), (err: unknown) => {
    assert.ok(err instanceof DeviceModelError);
    assert.match(err.message, /another model \(CRC-32 00001234.*flash it again with tinyml flash/);
    return true;
  });
  await assert.rejects(run(model, bytes, { infoOverrides: { modelStatus: 24, arenaUsed: 33020, arenaSize: 32768 } }), (err: unknown) => {
    assert.ok(err instanceof ArenaTooSmallError);
    assert.equal(err.neededBytes, 33020);
    assert.equal(err.availableBytes, 32768);
    assert.match(err.message, /could not load the model: 24 ARENA_TOO_SMALL.*native runtime needs 33,020 bytes of tensor arena and the firmware has 32,768: build the firmware again with tinyml build/);
    return true;
  });
  // TFLM could not say how much: "more than".
  await assert.rejects(run(model, bytes, { runtime: 'tflm', infoOverrides: { modelStatus: 24, arenaUsed: 0, arenaSize: 2016 } }), /tflm runtime needs more than 2,016 bytes/);
  await assert.rejects(run(model, bytes, { runtime: 'tflm', infoOverrides: { modelStatus: 24, arenaUsed: 2336, arenaSize: 2016 } }), /tflm runtime needs at least 2,336 bytes/);
  await assert.rejects(run(model, bytes, { infoOverrides: { modelStatus: 20 } }), /could not load the model: 20 UNSUPPORTED_OP/);
  await assert.rejects(run(model, bytes, { infoOverrides: { inputBytes: 100, outputCount: 3 } }), /input of 100 bytes.*3 outputs/);
  await assert.rejects(run(model, bytes, { infoOverrides: { protocolVersion: 5 } }), /protocol version 5, this host 4/);
});

test('the device\'s dropped serial bytes, as INFO reports them after the run', async () => {
  const { model, bytes } = setup();
  const r = await run(model, bytes, { infoOverrides: { txDroppedBytes: 4096 } });
  assert.equal(r.link.deviceTxDroppedBytes, 4096);
  assert.match(formatValidationReport(r), /device serial +4,096 bytes dropped/);
});

/** The parts of a report that depend on the answers, not on the run's timing or link history. */
function answersOf(r: Awaited<ReturnType<typeof validateOnDevice>>) {
  const { wallSeconds: _w, throughputSamplesPerSec: _t, link: _l, deviceLog: _d, info: _i, ...rest } = r;
  return rest;
}

test('interrupted, then resumed from the answers kept as they arrived: the same report as one whole run', async () => {
  const { model, bytes } = setup();
  const whole = await run(model, bytes);
  const mk = async () => {
    const mock = new MockDevice({ model, modelCrc32: crc32(bytes), modelBytes: bytes.length, board: 'mock-board', cpuHz: 64_000_000 });
    await mock.open();
    const link = new DeviceLink(mock);
    return { link, info: await link.handshake({ intervalMs: 5 }) };
  };
  const kept = new Map<number, SampleAnswer>();
  const abort = new AbortController();
  const first = await mk();
  const partial = await validateOnDevice({
    ...{ model, tfliteBytes: bytes, images, labels, count: COUNT, normalized: true, board: 'mock', timeoutMs: 50 },
    ...first,
    signal: abort.signal,
    onAnswer: (i, a) => {
      kept.set(i, { ...a, outputs: a.outputs.slice() });
      if (kept.size === 50) abort.abort();
    },
  });
  await first.link.close();
  assert.equal(partial.partial, true);
  assert.equal(partial.passed, false);
  assert.equal(partial.samples, kept.size);
  assert.equal(partial.samplesRequested, COUNT);
  assert.match(formatValidationReport(partial), /PARTIAL: \d+ of 120/);
  assert.throws(() => assertValidationPassed(partial), (e: unknown) => e instanceof InterruptedError && /--resume/.test(e.message));

  const second = await mk();
  const sent: number[] = [];
  const resumed = await validateOnDevice({
    ...{ model, tfliteBytes: bytes, images, labels, count: COUNT, normalized: true, board: 'mock', timeoutMs: 50 },
    ...second,
    previous: kept,
    onAnswer: (i) => sent.push(i),
  });
  await second.link.close();
  assert.equal(sent.length, COUNT - kept.size, 'only the samples not answered before were sent');
  assert.ok(sent.every((i) => !kept.has(i)));
  assert.equal(resumed.partial, false);
  assert.deepEqual(answersOf(resumed), answersOf(whole));
});

test('results file: a header with the settings, a line per answer; resume drops a line cut short and refuses another run', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-results-'));
  try {
    const path = join(dir, 'r.jsonl');
    const header = { modelCrc32: '12345678', samples: 10, testDataSha256: 'ab', settings: { window: 4 } };
    const f = openResultsFile(path, header, false);
    for (let i = 0; i < 4; i++) f.append(i, { top1: i, cycles: 1000 + i, outputs: Int8Array.of(i, -i) });
    f.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 5);
    assert.deepEqual(JSON.parse(lines[0]!), { kind: 'tinyml-validation-results', version: 1, modelCrc32: '12345678', samples: 10, testDataSha256: 'ab', window: 4 });
    // A kill mid-write leaves half a line.
    writeFileSync(path, `${lines.slice(0, 4).join('\n')}\n${lines[4]!.slice(0, 10)}`);
    const g = openResultsFile(path, header, true);
    assert.deepEqual([...g.previous.keys()], [0, 1, 2]);
    assert.deepEqual(g.previous.get(2), { top1: 2, cycles: 1002, outputs: Int8Array.of(2, -2) });
    g.append(3, { top1: 3, cycles: 1003, outputs: Int8Array.of(3, -3) });
    g.close();
    const h = openResultsFile(path, header, true);
    assert.deepEqual([...h.previous.keys()], [0, 1, 2, 3]);
    h.close();
    assert.throws(() => openResultsFile(path, { ...header, modelCrc32: '87654321' }, true), /written for modelCrc32 12345678, this run has 87654321/);
    assert.throws(() => openResultsFile(join(dir, 'none.jsonl'), header, true), /no results file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the report is a function of the answers: collected once, reported the same as validateOnDevice; a changed byte or a missing sample shows', async () => {
  const { model, bytes } = setup();
  const whole = await run(model, bytes);
  const mock = new MockDevice({ model, modelCrc32: crc32(bytes), modelBytes: bytes.length, board: 'mock-board', cpuHz: 64_000_000 });
  await mock.open();
  const link = new DeviceLink(mock);
  const info = await link.handshake({ intervalMs: 5 });
  const answers = await collectAnswers({ link, info, model, tfliteBytes: bytes, images, count: COUNT, normalized: true, timeoutMs: 50 });
  await link.close();
  assert.equal(answers.sent, COUNT);
  assert.equal(answers.answered.reduce((a, b) => a + b, 0), COUNT);
  const common = { model, tfliteBytes: bytes, images, labels, normalized: true, board: 'mock' };
  const { report, outputs } = validationReport({ ...common, answers });
  assert.deepEqual(answersOf(report), answersOf(whole));
  assert.deepEqual(report, validationReport({ ...common, answers }).report, 'the same answers, the same report');
  assert.equal(outputs!.count, COUNT);
  assert.deepEqual(outputs!.device, answers.outputs);

  // One output byte of sample 7 off by one: that sample, and only it, differs from the reference.
  const changed = answers.outputs.slice();
  const width = answers.width;
  changed[7 * width + 3] = changed[7 * width + 3]! === 127 ? 126 : changed[7 * width + 3]! + 1;
  const bad = validationReport({ ...common, answers: { ...answers, outputs: changed } }).report;
  assert.equal(bad.passed, false);
  assert.deepEqual(bad.firstMismatches, [7]);
  assert.equal(bad.exactAgreement, (COUNT - 1) / COUNT);

  // Samples 0..29 answered before an interruption: a partial report over those, no per-sample outputs.
  const answered = new Uint8Array(COUNT).fill(1, 0, 30);
  const partial = validationReport({ ...common, answers: { ...answers, answered, interrupted: true, sent: 30 } });
  assert.equal(partial.report.partial, true);
  assert.equal(partial.report.samples, 30);
  assert.equal(partial.report.passed, false);
  assert.equal(partial.outputs, null);
  assert.throws(() => validationReport({ ...common, answers: { ...answers, answered: new Uint8Array(COUNT) } }), /no sample answered/);
  assert.throws(() => validationReport({ ...common, labels: labels.subarray(0, 10), answers }), /data holds fewer/);
});

test('inputs travel in the shortest encoding the device offers, or raw when asked; the report is the same', async () => {
  const { model, bytes } = setup();
  // Images with a background, as Fashion-MNIST's: the first and last 300 pixels of each are 0.
  const sparse = images.slice();
  for (let s = 0; s < COUNT; s++) sparse.fill(0, s * 784, s * 784 + 300).fill(0, s * 784 + 484, (s + 1) * 784);
  const reports = [];
  for (const encodings of [undefined, 1 << ImageEncoding.RAW]) {
    const mock = new MockDevice({ model, modelCrc32: crc32(bytes), modelBytes: bytes.length, board: 'mock-board', cpuHz: 64_000_000 });
    await mock.open();
    const link = new DeviceLink(mock);
    const info = await link.handshake({ intervalMs: 5 });
    try {
      reports.push(await validateOnDevice({ link, info, model, tfliteBytes: bytes, images: sparse, labels, count: COUNT, normalized: true, board: 'mock', encodings }));
    } finally {
      await link.close();
    }
    assert.deepEqual([...mock.stats.runsByEncoding], [[encodings === undefined ? ImageEncoding.COMPACT : ImageEncoding.RAW, COUNT]]);
  }
  // Two boots of the mock: everything but the boot id and the timing is the same.
  const [best, raw] = reports.map(({ wallSeconds: _w, throughputSamplesPerSec: _t, link: _l, info, ...same }) => ({ ...same, info: { ...info, bootId: 0 } }));
  assert.deepEqual(best, raw);
  assert.equal(best!.passed, true);
});
