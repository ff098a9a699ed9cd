import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeModel } from '../src/quantize/quantize.ts';
import { Int8Interpreter, quantizeInput } from '../src/reference/int8-interpreter.ts';
import { argmax } from '../src/evaluate/compare.ts';
import { DeviceLink } from '../src/device/link.ts';
import { ImageEncoding } from '../src/protocol/image-codec.ts';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { MockDevice, randomFaults, type MockDeviceOptions } from '../test/helpers/mock-device.ts';
import {
  DeviceReportedError,
  DeviceTimeoutError,
  HandshakeTimeoutError,
  InterruptedError,
  TransportClosedError,
} from '../src/device/errors.ts';
import { randomFloatModel, randomImages } from './helpers/random-model.ts';

const model = quantizeModel(randomFloatModel([16], 3), { images: randomImages(40, 4), count: 40 });
const COUNT = 60;
const images = randomImages(COUNT, 5);
const inputs = Array.from({ length: COUNT }, (_, s) => quantizeInput(images, s * 784, model.input, true));
const expected = (() => {
  const interp = new Int8Interpreter(model);
  const out = new Int8Array(COUNT * 10);
  inputs.forEach((x, s) => out.set(interp.run(x).output, s * 10));
  return out;
})();

async function connect(options: Partial<MockDeviceOptions> = {}): Promise<{ device: MockDevice; link: DeviceLink }> {
  const device = new MockDevice({ model, modelCrc32: 0x12345678, ...options });
  await device.open();
  const link = new DeviceLink(device);
  await link.handshake({ intervalMs: 5, timeoutMs: 2000 });
  return { device, link };
}

function assertExactlyRight(result: Awaited<ReturnType<DeviceLink['infer']>>): void {
  assert.equal(result.count, COUNT);
  assert.deepEqual(result.outputs, expected);
  for (let s = 0; s < COUNT; s++) assert.equal(result.top1[s], argmax(expected, s * 10, 10));
  assert.ok(result.cycles.every((c) => c >= 100_000));
}

test('handshake returns INFO and infer returns the reference outputs in order', async () => {
  const { device, link } = await connect({ chunkBytes: 5 });
  assert.equal(link.info?.inputBytes, 784);
  assert.equal(link.info?.outputCount, 10);
  assert.equal(link.info?.modelCrc32, 0x12345678);
  const progress: number[] = [];
  const result = await link.infer(inputs, { onProgress: (d) => progress.push(d) });
  assertExactlyRight(result);
  assert.deepEqual(progress, Array.from({ length: COUNT }, (_, i) => i + 1));
  assert.equal(result.resends, 0);
  assert.equal(device.stats.infersReceived, COUNT);
  await link.close();
  assert.equal(device.isOpen, false);
});

test('the host sends each input in the shortest encoding allowed: compact for images, raw when only raw is allowed or offered', async () => {
  const images = (await loadFashionMnist({ split: 'test', limit: 20, download: false }).catch(() => null));
  const real = images ? Array.from({ length: 20 }, (_, i) => quantizeInput(images.images, i * 784, model.input, true)) : inputs.slice(0, 20);
  for (const c of [
    { offered: undefined, allowed: undefined, want: images ? ImageEncoding.COMPACT : ImageEncoding.RAW },
    { offered: undefined, allowed: 1 << ImageEncoding.RAW, want: ImageEncoding.RAW },
    { offered: 1 << ImageEncoding.RAW, allowed: undefined, want: ImageEncoding.RAW },
  ]) {
    const { device, link } = await connect(c.offered === undefined ? {} : { encodings: c.offered });
    const result = await link.infer(real, { encodings: c.allowed });
    assert.equal(result.count, real.length);
    assert.deepEqual([...device.stats.runsByEncoding], [[c.want, real.length]], JSON.stringify(c));
    await link.close();
  }
});

test('the window keeps W requests in flight, never more', async () => {
  for (const window of [1, 4, 7]) {
    const { device, link } = await connect({ computeMs: 2 });
    const result = await link.infer(inputs.slice(0, 20), { window });
    assert.equal(result.count, 20);
    assert.equal(device.stats.maxQueued, window, `window ${window}`);
    await link.close();
  }
});

test('handshake repeats HELLO until the device opens its port', async () => {
  const device = new MockDevice({ model, modelCrc32: 1, deafFrames: 7 });
  await device.open();
  const link = new DeviceLink(device);
  const info = await link.handshake({ intervalMs: 5, timeoutMs: 2000 });
  assert.equal(info.board, 'mock');
  assert.ok(link.stats.framesSent >= 8);
  // INFOs answering the earlier HELLOs that are still on their way are dropped by infer.
  assertExactlyRight(await link.infer(inputs));
  await link.close();
});

test('handshake gives up with a typed error', async () => {
  const device = new MockDevice({ model, modelCrc32: 1, deafFrames: 1e9 });
  await device.open();
  const link = new DeviceLink(device);
  await assert.rejects(link.handshake({ intervalMs: 5, timeoutMs: 60 }), (err: unknown) => {
    assert.ok(err instanceof HandshakeTimeoutError);
    assert.match(err.message, /mock device.*tinyml flash/);
    return true;
  });
  await link.close();
});

test('lost, corrupt, duplicated and delayed frames still give each sample exactly once', async () => {
  const cases = [
    { name: 'drop', drop: 0.1 },
    { name: 'corrupt', corrupt: 0.1 },
    { name: 'duplicate', duplicate: 0.3 },
    { name: 'delay', delay: 0.3, delayMs: [1, 60] as const },
    { name: 'all', drop: 0.05, corrupt: 0.05, duplicate: 0.1, delay: 0.1, delayMs: [1, 60] as const },
  ];
  for (const c of cases) {
    const { device, link } = await connect({ chunkBytes: 17 });
    device.faults = randomFaults({ seed: 42, ...c });
    const result = await link.infer(inputs, { timeoutMs: 40, retries: 8 });
    assertExactlyRight(result);
    if (c.name === 'drop' || c.name === 'corrupt') assert.ok(result.resends > 0, `${c.name}: resent`);
    if (c.name === 'duplicate') assert.ok(result.staleAnswers > 0, 'duplicates dropped');
    await link.close();
  }
});

// HELLO takes sequence 0; sample s then has chunks 1+5s .. 4+5s (784 bytes in chunks of 256) and its INFER_RUN 5+5s.
const runSeq = (sample: number) => 5 + 5 * sample;
const chunkSeq = (sample: number, k: number) => 1 + 5 * sample + k;

/** Applies `fault` to the first sending of request `seq` on its way to the device. */
function once(seq: number, fault: NonNullable<ReturnType<NonNullable<MockDeviceOptions['faults']>>>): MockDeviceOptions['faults'] {
  let done = false;
  return ({ direction, message }) => {
    if (done || direction !== 'to-device' || message?.seq !== seq || message.type === 'hello') return undefined;
    done = true;
    return fault;
  };
}

/** Every request of `device` but `except` was read once. */
function readOnce(device: MockDevice, except: readonly number[] = []): void {
  for (const [seq, n] of [...device.stats.chunkSeqCounts, ...device.stats.inferSeqCounts]) {
    if (!except.includes(seq)) assert.equal(n, 1, `sequence ${seq} read ${n} times`);
  }
  for (const [seq, n] of device.stats.resultSeqCounts) assert.equal(n, 1, `sequence ${seq} run ${n} times`);
}

test('a damaged chunk is NAKed by its sequence number: that chunk is resent at once, with its run, and nothing else', async () => {
  const { device, link } = await connect({ faults: once(chunkSeq(0, 2), { corrupt: true, corruptAt: 100 }) });
  const started = performance.now();
  const result = await link.infer(inputs.slice(0, 10), { timeoutMs: 5000 });
  assert.ok(performance.now() - started < 2000, 'did not wait for the timeout');
  assert.deepEqual([result.resends, result.nakResends], [2, 2]);
  assert.deepEqual([link.stats.deviceBadFrames, link.stats.deviceBadFramesUnnamed], [1, 0]);
  assert.equal(device.stats.badFramesReceived, 1);
  // The run sent before the chunk came back found it missing (INPUT_INCOMPLETE, an answer to an earlier sending: ignored).
  assert.equal(device.stats.inferSeqCounts.get(runSeq(0)), 2);
  readOnce(device, [runSeq(0)]);
  assert.deepEqual(result.outputs, expected.subarray(0, 100));
  await link.close();
});

test('a chunk lost outright: INFER_RUN names the missing chunk, only it is resent', async () => {
  const { device, link } = await connect({ faults: once(chunkSeq(3, 1), { drop: true }) });
  const result = await link.infer(inputs.slice(0, 10), { timeoutMs: 60_000 });
  assert.deepEqual([result.resends, result.nakResends], [2, 2]);
  assert.equal(device.stats.chunkSeqCounts.get(chunkSeq(3, 1)), 1, 'arrived once, the second time');
  readOnce(device, [runSeq(3)]);
  assert.deepEqual(result.outputs, expected.subarray(0, 100));
  await link.close();
});

test('a damaged header gives a BAD_FRAME naming nothing: nothing is resent for it; the run finds the chunk missing', async () => {
  const { device, link } = await connect({ faults: once(chunkSeq(2, 0), { corrupt: true, corruptAt: 3 }) }); // wire byte 3: the sequence number
  const result = await link.infer(inputs.slice(0, 20), { timeoutMs: 60_000 });
  assert.deepEqual([link.stats.deviceBadFrames, link.stats.deviceBadFramesUnnamed], [1, 1]);
  assert.deepEqual([result.resends, result.nakResends], [2, 2]);
  readOnce(device, [runSeq(2)]);
  assert.deepEqual(result.outputs, expected.subarray(0, 200));
  await link.close();
});

test('a duplicated chunk is stored twice, acknowledged twice, and the second ACK dropped', async () => {
  const { device, link } = await connect({ faults: once(chunkSeq(1, 3), { duplicate: true }) });
  const result = await link.infer(inputs.slice(0, 10));
  assert.deepEqual([result.resends, result.staleAnswers], [0, 1]);
  assert.equal(device.stats.chunkSeqCounts.get(chunkSeq(1, 3)), 2);
  readOnce(device, [chunkSeq(1, 3)]);
  assert.deepEqual(result.outputs, expected.subarray(0, 100));
  await link.close();
});

test('a stale chunk of another input in place of the right one never ends in a wrong result: the CRC check resends the input', async () => {
  // Sample 2 travels in slot 0 (samples 0, 2, 4... alternate with 1, 3...). Its chunk 1 is replaced by sample 0's chunk 1,
  // same slot, offset and sequence number: the frame checks, the device acknowledges it, the decoded input does not.
  const stale = inputs[0]!.subarray(256, 512);
  assert.notDeepEqual(stale, inputs[2]!.subarray(256, 512));
  const data = new Uint8Array(stale.buffer, stale.byteOffset, stale.length);
  const { device, link } = await connect({
    faults: once(chunkSeq(2, 1), { replace: { type: 'infer-chunk', seq: chunkSeq(2, 1), slot: 0, offset: 256, data } }),
  });
  const result = await link.infer(inputs.slice(0, 10));
  assert.deepEqual(result.outputs, expected.subarray(0, 100));
  assert.deepEqual([result.resends, result.nakResends], [5, 5], 'all four chunks and the run again');
  for (const [seq, n] of device.stats.resultSeqCounts) assert.equal(n, 1, `sequence ${seq} run ${n} times`);
  assert.equal(device.stats.resultSeqCounts.size, 10);
  await link.close();
});

test('byte faults (flips, losses, insertions) at 1e-3 with the default window: exact, every sample once', async () => {
  // More than half of the 800-byte INFER frames are hit at this rate; at 3e-3 nine in ten are, and a whole-frame
  // INFER needs chunking (docs/protocol.md) to stay within any fixed budget.
  for (const rate of [1e-3]) {
    const { device, link } = await connect({ chunkBytes: 64 });
    device.setByteFaults({ seed: 7, rate });
    const result = await link.infer(inputs, { timeoutMs: 100 });
    assertExactlyRight(result);
    const f = device.byteFaults!;
    const faults = [f.toDevice.stats, f.toHost.stats].reduce((n, s) => n + s.corrupted + s.dropped + s.inserted, 0);
    assert.ok(faults > 0 && result.nakResends > 0, `rate ${rate}: ${faults} byte faults, ${result.nakResends} NAK resends`);
    await link.close();
  }
});

test('a NAK budget separate from the loss budget: a request damaged every time fails naming both counts', async () => {
  const { link } = await connect({
    faults: ({ direction, message }) =>
      direction === 'to-device' && message?.type === 'infer-chunk' && message.seq === chunkSeq(0, 1) ? { corrupt: true, corruptAt: 100 } : undefined,
  });
  await assert.rejects(link.infer(inputs.slice(0, 5), { timeoutMs: 5000, nakRetries: 7 }), (err: unknown) => {
    assert.ok(err instanceof DeviceTimeoutError);
    assert.equal(err.attempts, 8);
    assert.match(err.message, /after 8 attempts \(0 lost, 7 damaged; last: the device reported BAD_FRAME\)/);
    return true;
  });
  await link.close();
});

test('a sample whose answers keep getting lost fails with a typed error naming it', async () => {
  const { link } = await connect({
    faults: ({ direction, message }) =>
      direction === 'to-host' && message?.type === 'result' && message.seq === runSeq(4) ? { drop: true } : undefined,
  });
  // Each lost RESULT is found overtaken (a loss); the device had emptied the slot, so the run comes back
  // INPUT_INCOMPLETE and the whole input is sent again (damage): the loss budget runs out first.
  await assert.rejects(link.infer(inputs, { timeoutMs: 10, retries: 3 }), (err: unknown) => {
    assert.ok(err instanceof DeviceTimeoutError);
    assert.equal(err.sample, 4);
    assert.equal(err.seq, runSeq(4));
    assert.equal(err.attempts, 7);
    assert.match(err.message, /sample 4 .*after 7 attempts \(3 lost, 3 damaged/);
    return true;
  });
  await link.close();
});

test('sequence numbers wrap at 0xFFFF and skip it', async () => {
  const { device, link } = await connect();
  link.setNextSeq(0xfffa);
  const result = await link.infer(inputs.slice(0, 3), { window: 3 });
  assert.deepEqual(result.outputs, expected.subarray(0, 30));
  assert.deepEqual([...device.stats.chunkSeqCounts.keys()], [0xfffa, 0xfffb, 0xfffc, 0xfffd, 0, 1, 2, 3, 5, 6, 7, 8]);
  assert.deepEqual([...device.stats.inferSeqCounts.keys()], [0xfffe, 4, 9]);
  await link.close();
});

test('an ERROR answer other than BAD_FRAME fails with the code', async () => {
  const { link } = await connect({ infoOverrides: { modelStatus: 24 } });
  await assert.rejects(link.infer(inputs), (err: unknown) => {
    assert.ok(err instanceof DeviceReportedError);
    assert.equal(err.code, 5);
    assert.match(err.message, /MODEL_NOT_READY.*ARENA_TOO_SMALL/);
    return true;
  });
  await link.close();
});

test('losing the device or aborting ends infer with a typed error and no timers left', async () => {
  const { device, link } = await connect({ computeMs: 5 });
  const run = link.infer(inputs);
  setTimeout(() => device.disconnect(), 20);
  await assert.rejects(run, TransportClosedError);
  await assert.rejects(link.infer(inputs), TransportClosedError);

  const second = await connect({ computeMs: 5 });
  const ac = new AbortController();
  const run2 = second.link.infer(inputs, { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(run2, InterruptedError);
  await second.link.close();
});

test('a slow device behind a full window causes no resends; a lost request is resent once overtaken', async () => {
  const slow = await connect({ computeMs: 15 });
  const r = await slow.link.infer(inputs.slice(0, 16), { window: 4, timeoutMs: 40 });
  assert.equal(r.resends, 0, 'each request waited ~60 ms, but answers kept coming');
  assert.deepEqual(r.outputs, expected.subarray(0, 160));
  await slow.link.close();

  // A lost run: nothing names it; later answers overtake it and it is sent again (its chunks had all arrived).
  const lossy = await connect({ faults: once(runSeq(1), { drop: true }) });
  const started = performance.now();
  const r2 = await lossy.link.infer(inputs, { window: 4, timeoutMs: 60_000 });
  assert.ok(performance.now() - started < 5000, 'did not wait for the timeout');
  assert.deepEqual([r2.resends, r2.nakResends], [1, 0]);
  assertExactlyRight(r2);
  readOnce(lossy.device);
  await lossy.link.close();
});

test('device log: boot lines arrive with the handshake, each once however often HELLO replays them', async () => {
  const device = new MockDevice({ model, modelCrc32: 1, bootLog: ['model loaded: native runtime', 'second line'], deafFrames: 2 });
  await device.open();
  const seen: string[] = [];
  const link = new DeviceLink(device, { onLog: (line) => seen.push(line) });
  await link.handshake({ intervalMs: 5 });
  await link.handshake({ intervalMs: 5 }); // replays both lines again
  assert.deepEqual(link.deviceLog, ['model loaded: native runtime', 'second line']);
  assert.deepEqual(seen, link.deviceLog);
  // Lines written during a run come just before the next answer; they are not answers (not stale).
  let runs = 0;
  device.faults = (ctx) => {
    if (ctx.direction === 'to-device' && ctx.message?.type === 'infer-run' && runs++ % 3 === 0) device.log(`diag ${ctx.index}`);
    return undefined;
  };
  const result = await link.infer(inputs, { window: 3 });
  assertExactlyRight(result);
  assert.equal(result.staleAnswers, 0);
  assert.ok(link.deviceLog.length > 2 && link.deviceLog.slice(2).every((l) => /^diag \d+$/.test(l)), link.deviceLog.join(', '));
  assert.equal(link.stats.logLinesLost, 0);
  await link.close();
});

test('device log: after a reset the device numbers its lines from 0 again; its new boot id keeps them', async () => {
  const { device, link } = await connect({ bootLog: ['model loaded', 'second line'] });
  const firstBoot = link.info!.bootId;
  assert.deepEqual(link.deviceLog, ['model loaded', 'second line']);
  // A reset mid-run: the slots are emptied, the boot lines written again (numbers 0 and 1) and sent before the next answer.
  let reset = false;
  device.faults = ({ direction, message }) => {
    if (!reset && direction === 'to-device' && message?.type === 'infer-run' && message.seq === runSeq(20)) {
      reset = true;
      device.reset();
    }
    return undefined;
  };
  const result = await link.infer(inputs, { timeoutMs: 60_000 });
  assertExactlyRight(result);
  for (const [seq, n] of device.stats.resultSeqCounts) assert.equal(n, 1, `sequence ${seq} run ${n} times`);
  assert.deepEqual(link.deviceLog, ['model loaded', 'second line', 'model loaded', 'second line']);
  assert.equal(link.stats.logLinesLost, 0);
  await link.handshake({ intervalMs: 5 }); // replays the new boot's lines: already had
  assert.notEqual(link.info!.bootId, firstBoot);
  assert.equal(link.deviceLog.length, 4);
  await link.close();
});

test('device log: lines the device overwrote before a host listened are counted as lost', async () => {
  const lines = Array.from({ length: 11 }, (_, i) => `line ${i}`);
  const { link } = await connect({ bootLog: lines });
  assert.deepEqual(link.deviceLog, lines.slice(3)); // the device keeps the last 8
  assert.equal(link.stats.logLinesLost, 3);
  await link.close();
});

test('reconnect: a port lost mid-run is opened again, HELLO again, and only the unanswered samples run', async () => {
  const { device, link } = await connect();
  const devices: MockDevice[] = [device];
  const answers = new Array<number>(COUNT).fill(0);
  let reconnectWhy = '';
  const result = await link.inferReconnecting(inputs, {
    timeoutMs: 200,
    onAnswer: (i) => {
      answers[i]!++;
      if (i === 20 && devices.length === 1) setImmediate(() => device.disconnect());
    },
    reconnect: {
      timeoutMs: 2000,
      intervalMs: 5,
      reopen: async () => {
        // The first attempts find no port yet (the cable is still out).
        if (devices.length < 3) {
          devices.push(device);
          throw new TransportClosedError('no such port');
        }
        const d = new MockDevice({ model, modelCrc32: 0x12345678 });
        await d.open();
        devices.push(d);
        return d;
      },
      onReconnect: (_n, why) => {
        reconnectWhy = why;
      },
    },
  });
  assertExactlyRight(result);
  assert.equal(result.reconnects, 1);
  assert.match(reconnectWhy, /mock device disconnected/);
  assert.deepEqual(answers, new Array<number>(COUNT).fill(1), 'every sample answered once');
  const second = devices[devices.length - 1]!;
  assert.ok(second.stats.infersReceived < COUNT, 'the second device ran only what was left');
  await link.close();
});

test('reconnect: gives up after its timeout with a typed error; refuses a device running another model', async () => {
  for (const c of [{ crc: null, want: /could not reconnect within 300 ms/ }, { crc: 0x1111, want: /runs another model \(CRC-32 00001111, was 12345678\)/ }]) {
    const { device, link } = await connect();
    const run = link.inferReconnecting(inputs, {
      timeoutMs: 200,
      onAnswer: (i) => {
        if (i === 5) setImmediate(() => device.disconnect());
      },
      reconnect: {
        timeoutMs: 300,
        intervalMs: 5,
        reopen: async () => {
          if (c.crc === null) throw new TransportClosedError('no such port');
          const d = new MockDevice({ model, modelCrc32: c.crc });
          await d.open();
          return d;
        },
      },
    });
    await assert.rejects(run, c.want);
    await link.close();
  }
});
