/**
 * The board farm: pure parts (job data, ranges, merge, Redis URLs), then an
 * end-to-end run on a real redis-server on a loopback port with three emulator
 * workers as child processes, one of them SIGKILLed in the middle of a shard.
 * The merged report must equal a single-board run of the same samples, sample
 * for sample. Skipped when redis-server, QEMU or the cross compiler is absent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { Job, Queue } from 'bullmq';
import { FarmJobDataError, MergeError, RedisUrlError } from '../src/farm/errors.ts';
import { parseMergeJobData, parseShardJobData, parseTrainJobData } from '../src/farm/schema.ts';
import { trainJobIdOf } from '../src/farm/train.ts';
import { MERGE_QUEUE, mergeJobId, shardQueueName, shardRanges } from '../src/farm/queues.ts';
import { mergeAnswers, mergeReport } from '../src/farm/merge.ts';
import { markLink, runShard, type LinkMark, type ShardResult } from '../src/farm/shard.ts';
import { validateOnDevice } from '../src/validate/validate.ts';
import { DeviceLink } from '../src/device/link.ts';
import { crc32 } from '../src/protocol/crc32.ts';
import { MockDevice } from './helpers/mock-device.ts';
import { parseRedisUrl, redactUrl, connect } from '../src/farm/redis.ts';
import { sha256Hex, getArtifact } from '../src/farm/artifacts.ts';
import { artifactKey } from '../src/farm/queues.ts';
import { ArtifactError } from '../src/farm/errors.ts';
import { randomFloatModel, randomImages, writeInt8ModelFolder } from './helpers/random-model.ts';
import { quantizeModel } from '../src/quantize/quantize.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { startLocalRedis, type LocalRedis } from './helpers/local-redis.ts';
import { qemuUnder } from './helpers/processes.ts';

const REPO = resolve(import.meta.dirname, '..');
const TINYML = join(REPO, 'bin', 'tinyml.js');
const SHA = 'a'.repeat(64);

describe('farm job data', () => {
  test('a well-formed shard is accepted; wrong types, ranges and boards are refused by name', () => {
    const good = { v: 1, modelSha256: SHA, board: 'emulator', first: 100, count: 50 };
    assert.deepEqual(parseShardJobData(good), good);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...good, first: -1 }, /first -1/],
      [{ ...good, first: 1.5 }, /first 1.5/],
      [{ ...good, count: 0 }, /count 0/],
      [{ ...good, first: 9990, count: 20 }, /run past the 10000/],
      [{ ...good, board: 'esp32' }, /board "esp32"/],
      [{ ...good, board: '$(reboot)' }, /board/],
      [{ ...good, modelSha256: 'abc' }, /modelSha256/],
      [{ ...good, modelSha256: `${SHA.slice(1)};` }, /modelSha256/],
      [{ ...good, v: 2 }, /version 2/],
      [{ ...good, count: '50' }, /count "50"/],
    ];
    for (const [data, re] of bad) assert.throws(() => parseShardJobData(data), (e: Error) => e instanceof FarmJobDataError && re.test(e.message));
    assert.throws(() => parseShardJobData(null), FarmJobDataError);
    assert.throws(() => parseShardJobData([1]), FarmJobDataError);
    assert.throws(() => parseMergeJobData({ v: 1, modelSha256: SHA, board: 'emulator', samples: 10, shards: 11 }), /shards 11/);
  });

  test('train jobs: a well-formed one is accepted; bad fields are refused by name; the id is the data\'s hash', () => {
    const good = {
      v: 1, name: 'early-stop', hidden: [512, 512], normalize: true, stopAtAccuracy: 0.86, epochs: 5, batchSize: 32, seed: 1,
      limitTrain: null, limitTest: 500, trainDataSha256: SHA, testDataSha256: 'b'.repeat(64),
    };
    assert.deepEqual(parseTrainJobData(good), good);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...good, name: '../x' }, /name "..\/x"/],
      [{ ...good, hidden: [] }, /hidden is not a list/],
      [{ ...good, hidden: [512, 0] }, /hidden: 1 0 is not a whole number/],
      [{ ...good, hidden: 'big' }, /hidden is not a list/],
      [{ ...good, normalize: 'yes' }, /normalize/],
      [{ ...good, stopAtAccuracy: 2 }, /stopAtAccuracy 2/],
      [{ ...good, epochs: 0 }, /epochs 0/],
      [{ ...good, limitTrain: 60_001 }, /limitTrain 60001/],
      [{ ...good, testDataSha256: 'x' }, /testDataSha256/],
      [{ ...good, v: 2 }, /version 2/],
    ];
    for (const [data, re] of bad) assert.throws(() => parseTrainJobData(data), (e: Error) => e instanceof FarmJobDataError && re.test(e.message), JSON.stringify(data));
    const data = parseTrainJobData(good);
    assert.equal(trainJobIdOf(data), trainJobIdOf(parseTrainJobData({ ...good })));
    assert.notEqual(trainJobIdOf(data), trainJobIdOf(parseTrainJobData({ ...good, seed: 2 })));
    assert.match(trainJobIdOf(data), /^train-[0-9a-f]{64}$/);
  });

  test('ranges cover every sample once, sizes differing by at most one', () => {
    for (const [n, k] of [[3000, 6], [10, 3], [7, 7], [1, 1], [1001, 4]] as const) {
      const r = shardRanges(n, k);
      assert.equal(r.length, k);
      assert.equal(r[0]!.first, 0);
      for (let i = 1; i < k; i++) assert.equal(r[i]!.first, r[i - 1]!.first + r[i - 1]!.count);
      assert.equal(r.reduce((s, x) => s + x.count, 0), n);
      const sizes = r.map((x) => x.count);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    }
  });

  test('job ids are the same for the same work and hold no colon', () => {
    assert.equal(mergeJobId(SHA, 'emulator', 3000, 6), mergeJobId(SHA, 'emulator', 3000, 6));
    assert.notEqual(mergeJobId(SHA, 'emulator', 3000, 6), mergeJobId(SHA, 'emulator', 3000, 5));
    assert.ok(!mergeJobId(SHA, 'emulator', 3000, 6).includes(':'));
  });
});

function shard(first: number, count: number, width = 2, extra: Partial<ShardResult> = {}): ShardResult {
  const outputs = Int8Array.from({ length: count * width }, (_, i) => (first * width + i) % 100);
  const cycles = new Uint8Array(count * 4);
  return {
    first,
    count,
    width,
    outputs: Buffer.from(outputs.buffer).toString('base64'),
    top1: Buffer.alloc(count).toString('base64'),
    cycles: Buffer.from(cycles).toString('base64'),
    wallMs: 10,
    link: { window: 4, resends: 1, nakResends: 0, staleAnswers: 0, badFrames: 0, deviceBadFrames: 0, deviceBadFramesUnnamed: 0, reconnects: 0, deviceTxDroppedBytes: 0, deviceLogLinesLost: 0 },
    deviceLog: [],
    info: { modelCrc32: 7 } as ShardResult['info'],
    firmware: null,
    worker: 'w',
    port: 'p',
    attempt: 1,
    stalls: 0,
    testDataSha256: 'd',
    startedAt: 0,
    finishedAt: 10,
    ...extra,
  };
}

describe('merging shard results', () => {
  test('shards in any order come back in sample order, each sample once', () => {
    const m = mergeAnswers([shard(4, 3), shard(0, 4), shard(7, 1)], 8);
    assert.deepEqual([...m.answers.outputs], Array.from({ length: 16 }, (_, i) => i % 100));
    assert.equal(m.answers.link.resends, 3);
  });

  test('overlaps, gaps, short coverage, mixed data and truncation are refused', () => {
    assert.throws(() => mergeAnswers([shard(0, 4), shard(3, 2)], 5), (e: Error) => e instanceof MergeError && /overlap at sample 3/.test(e.message));
    assert.throws(() => mergeAnswers([shard(0, 2), shard(3, 2)], 5), /samples 2..2 are in no shard/);
    assert.throws(() => mergeAnswers([shard(0, 2)], 5), /cover 2 samples, the submission 5/);
    assert.throws(() => mergeAnswers([shard(0, 2), shard(2, 2, 2, { testDataSha256: 'x' })], 4), /other test data/);
    assert.throws(() => mergeAnswers([shard(0, 2, 2, { top1: '' })], 2), /truncated/);
    assert.throws(() => mergeAnswers([], 2), MergeError);
  });
});

describe('the merged report is validate\'s report', () => {
  test('shards run on mock boards merge into the report one board gives for the same samples, field for field', async () => {
    const COUNT = 90;
    const model = quantizeModel(randomFloatModel([24], 9), { images: randomImages(60, 10), count: 60 });
    const bytes = writeTflite(model);
    const images = randomImages(COUNT, 8);
    const labels = Uint8Array.from({ length: COUNT }, (_, i) => (i * 7) % 10);
    const board = async (bootLog: string[] = []) => {
      const mock = new MockDevice({ model, modelCrc32: crc32(bytes), modelBytes: bytes.length, board: 'mock-board', cpuHz: 64_000_000, bootLog });
      await mock.open();
      const link = new DeviceLink(mock);
      return { link, info: await link.handshake({ intervalMs: 5 }) };
    };
    const one = await board();
    const single = await validateOnDevice({ ...one, model, tfliteBytes: bytes, images, labels, count: COUNT, normalized: true, board: 'farm' });
    await one.link.close();

    // Two workers: w1 runs shards 0 and 2 on one link (the second counts from where the first left), w2 shard 1.
    const w1 = await board(['booted w1']);
    const w2 = await board(['booted w2']);
    const results: ShardResult[] = [];
    let mark: LinkMark | undefined;
    for (const [k, r] of shardRanges(COUNT, 3).entries()) {
      const b = k === 1 ? w2 : w1;
      const answers = await runShard({ ...b, model, tfliteBytes: bytes, images, normalized: true, first: r.first, count: r.count, since: k === 2 ? mark : undefined });
      if (k === 0) mark = markLink(w1.link);
      results.push({ ...answers, info: b.info, firmware: null, worker: k === 1 ? 'w2' : 'w1', port: 'p', attempt: 1, stalls: 0, testDataSha256: 'd', startedAt: k * 100, finishedAt: k * 100 + 90 });
    }
    await w1.link.close();
    await w2.link.close();
    assert.deepEqual(results[2]!.deviceLog, [], 'the boot line is counted once, with the first shard on the link');
    const merged = mergeReport({ results: results.reverse(), samples: COUNT, model, tfliteBytes: bytes, modelSha256: SHA, images, labels, normalized: true, board: 'farm' }).report;
    const { wallSeconds: _w, throughputSamplesPerSec: _t, link: _l, deviceLog: _d, ...same } = single;
    // Each board boots with its own id; the rest of INFO is the same.
    const noBoot = (v: unknown, key: string) => (key === 'info' ? { ...(v as object), bootId: 0 } : v);
    for (const [key, value] of Object.entries(same)) assert.deepEqual(noBoot((merged as unknown as Record<string, unknown>)[key], key), noBoot(value, key), key);
    assert.equal(merged.passed, true);
    assert.deepEqual(merged.deviceLog, ['w1: booted w1', 'w2: booted w2']);
    assert.equal(merged.wallSeconds, 0.29);
    assert.equal(merged.link.resends, 0);
    assert.deepEqual(Object.keys(merged.link), Object.keys(single.link), 'the same link fields');
  });
});

describe('worker options', () => {
  test('a worker needs a board kind or --train, not both; an unreachable Redis is one line', async () => {
    const run = (args: string[]) => execa(process.execPath, [TINYML, 'worker', ...args], { reject: false, stdin: 'ignore', timeout: 60_000 });
    const none = await run(['--redis', 'redis://127.0.0.1:1']);
    assert.equal(none.exitCode, 2);
    assert.match(none.stderr, /^error: --board is missing: .* or --train for a training worker$/);
    const both = await run(['--redis', 'redis://127.0.0.1:1', '--train', '--board', 'emulator']);
    assert.equal(both.exitCode, 2);
    assert.match(both.stderr, /^error: --train takes no --board/);
    const down = await run(['--redis', 'redis://:secret@127.0.0.1:1', '--train']);
    assert.equal(down.exitCode, 1);
    assert.match(down.stderr, /^error: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
  });
});

describe('Redis URLs', () => {
  test('redis:// and rediss:// with a password are accepted; the password is never shown', () => {
    assert.equal(parseRedisUrl('redis://127.0.0.1:6379').tls, false);
    const t = parseRedisUrl('rediss://:s3cret@farm.example:6380/2');
    assert.equal(t.tls, true);
    assert.ok(!t.display.includes('s3cret'));
    assert.equal(redactUrl('redis://user:pw@h:1'), 'redis://user:***@h:1');
    for (const bad of ['http://h:1', 'h:6379', '', 'redis://h:1/x', 'redis://:pw@']) {
      assert.throws(() => parseRedisUrl(bad), (e: Error) => e instanceof RedisUrlError && !e.message.includes('pw@'));
    }
  });
});

const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
const skip = !has('redis-server')
  ? 'needs redis-server (apt-get install redis-server)'
  : !has('arm-none-eabi-gcc') || !has('qemu-system-arm')
    ? 'needs arm-none-eabi-gcc and qemu-system-arm'
    : false;

/** Pids of the QEMUs that process `pid` started. */
function qemusOf(pid: number): number[] {
  return qemuUnder('').filter((q) => {
    try {
      return Number(readFileSync(`/proc/${q}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]) === pid;
    } catch {
      return false;
    }
  });
}

// The figures: 3,000 samples in 6 shards (about 70 s here, the single-board run it is compared
// with included). TINYML_FARM_SAMPLES changes them.
const SAMPLES = Number(process.env.TINYML_FARM_SAMPLES ?? 3000);
if (!Number.isInteger(SAMPLES) || SAMPLES < 60 || SAMPLES > 10_000) throw new Error(`TINYML_FARM_SAMPLES=${process.env.TINYML_FARM_SAMPLES}: use a whole number in 60..10000`);
/** Seconds a run of `n` samples may take at 2 samples/s (a tenth of an idle emulator's rate: load average 20 on 2 cores), at least `floor`. */
const budget = (n: number, floor: number) => Math.max(floor, Math.ceil(n / 2));
const SHARDS = 6;

describe('a farm of three emulator workers', { skip }, () => {
  let dir = '';
  let url = '';
  let local: LocalRedis | null = null;
  const workers = new Map<string, ResultPromise>();

  const startWorker = (name: string) => {
    const child = execa(
      process.execPath,
      [TINYML, 'worker', '--redis', url, '--board', 'emulator', '--name', name, '--cache-dir', join(dir, 'cache'), '--lock-ms', '8000'],
      { cwd: dir, reject: false, all: true, stdin: 'ignore' },
    );
    workers.set(name, child);
    return child;
  };

  const tinyml = (args: string[]) => execa(process.execPath, [TINYML, ...args], { cwd: dir, reject: false, stdin: 'ignore' });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinyml-farm-'));
    local = await startLocalRedis(dir);
    url = local.url;
  });

  after(async () => {
    for (const w of workers.values()) w.kill('SIGTERM');
    await Promise.all([...workers.values()].map((w) => Promise.race([w, sleep(10_000)])));
    for (const w of workers.values()) w.kill('SIGKILL');
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a worker killed mid-shard loses nothing; the merge equals one board, sample for sample; a resubmission runs nothing', { timeout: (budget(SAMPLES, 120) * 2 + 60) * 1000 }, async (t) => {
    let t0 = Date.now();
    const modelDir = join(dir, 'model');
    const { bytes } = await writeInt8ModelFolder(modelDir, [32], 11);
    const sha = sha256Hex(bytes);
    for (const name of ['w1', 'w2', 'w3']) startWorker(name);

    const redis = connect(parseRedisUrl(url));
    const shardQueue = new Queue(shardQueueName('emulator'), { connection: redis });
    const mergeQueue = new Queue(MERGE_QUEUE, { connection: redis });
    try {
      const queued = await tinyml(['submit', '--redis', url, '--model', modelDir, '--board', 'emulator', '--samples', String(SAMPLES), '--shards', String(SHARDS), '--json']);
      assert.equal(queued.exitCode, 0, queued.stderr);
      assert.equal(JSON.parse(queued.stdout).reused, false);

      // Kill the worker of the first shard that is well under way, mid-shard.
      let victim = '';
      let victimFirst = -1;
      for (let i = 0; !victim; i++) {
        assert.ok(i < 6000, 'no shard got under way within 2 minutes');
        for (const job of await shardQueue.getJobs(['active'])) {
          const p = job.progress as { done?: number; total?: number; worker?: string };
          if (p && typeof p === 'object' && p.worker && (p.done ?? 0) >= 10 && (p.done ?? 0) <= (p.total ?? 0) - 10) {
            victim = p.worker;
            victimFirst = job.data.first;
          }
        }
        await sleep(20);
      }
      t.diagnostic(`first shard under way after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const victimQemus = qemusOf(workers.get(victim)!.pid!);
      assert.equal(victimQemus.length, 1, 'the victim runs its shard on one QEMU');
      workers.get(victim)!.kill('SIGKILL');
      await workers.get(victim);
      // Nothing of the killed worker is left running: its QEMU got the parent-death signal.
      for (let i = 0; qemuUnder(dir).includes(victimQemus[0]!); i++) {
        assert.ok(i < 50, `the killed worker's QEMU ${victimQemus[0]} is still running`);
        await sleep(100);
      }

      const waited = await tinyml(['submit', '--redis', url, '--model', modelDir, '--board', 'emulator', '--samples', String(SAMPLES), '--shards', String(SHARDS), '--wait', '--json', '--timeout', String(budget(SAMPLES, 240))]);
      assert.equal(waited.exitCode, 0, `${waited.stderr}\n${waited.stdout}`);
      const report = JSON.parse(waited.stdout);
      t.diagnostic(`farm done after ${((Date.now() - t0) / 1000).toFixed(1)} s (${report.throughputSamplesPerSec.toFixed(1)} samples/s)`);
      t0 = Date.now();
      assert.equal(report.reused, true, 'the second submission found the first');
      assert.equal(report.samples, SAMPLES);
      assert.equal(report.passed, true);
      assert.equal(report.shards.length, SHARDS);
      // The killed shard ran again, elsewhere. (On a loaded machine a live worker's lock may lapse too:
      // BullMQ then reruns that shard and refuses the first run's late result, so each is still counted once.)
      const killed = report.shards.find((s: { first: number }) => s.first === victimFirst);
      assert.ok(killed.attempt > 1 || killed.stalls > 0, 'the killed shard ran again');
      assert.notEqual(killed.worker, victim, 'elsewhere');

      // The single-board run: one QEMU on the same ELF, the existing validate flow.
      const single = await singleBoardRun(join(dir, 'cache', 'emulator', `${sha}-native`, 'firmware.elf'), modelDir);
      for (const key of ['deviceAccuracy', 'referenceAccuracy', 'hostInt8Accuracy', 'exactAgreement', 'top1Agreement', 'modelCrc32', 'top1FieldMismatches', 'vsReference', 'vsTflite', 'runtime', 'cycleUnit']) {
        assert.deepEqual(report[key], (single.report as unknown as Record<string, unknown>)[key], key);
      }
      // Instruction counts vary by a few dozen between runs (UART interrupts land at different points).
      assert.ok(Math.abs(report.latencyCycles.p50 - single.report.latencyCycles.p50) <= 0.01 * single.report.latencyCycles.p50);
      t.diagnostic(`single-board run ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const merged = await Job.fromId(mergeQueue, report.jobId);
      const outputs = Buffer.from(merged!.returnvalue.outputs as string, 'base64');
      assert.equal(outputs.length, SAMPLES * 10);
      assert.ok(Buffer.from(single.outputs.buffer, single.outputs.byteOffset, single.outputs.byteLength).equals(outputs), 'per-sample outputs identical');
      assert.equal(report.outputsSha256, sha256Hex(outputs));

      // Exactly once: submitting again adds no job and runs nothing.
      const before = await shardQueue.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed');
      const again = await tinyml(['submit', '--redis', url, '--model', modelDir, '--board', 'emulator', '--samples', String(SAMPLES), '--shards', String(SHARDS), '--wait', '--json']);
      assert.equal(again.exitCode, 0, again.stderr);
      const r2 = JSON.parse(again.stdout);
      assert.equal(r2.reused, true);
      assert.equal(r2.outputsSha256, report.outputsSha256);
      assert.deepEqual(await shardQueue.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed'), before);
      assert.equal(before.completed, SHARDS);

      const status = await tinyml(['farm', 'status', '--redis', url, '--json']);
      assert.equal(status.exitCode, 0, status.stderr);
      const s = JSON.parse(status.stdout);
      const alive = s.workers.map((w: { worker: string }) => w.worker).sort();
      const ended = await Promise.all(
        [...workers.entries()]
          .filter(([name, w]) => name !== victim && (w.exitCode !== null || w.signalCode !== null))
          .map(async ([name, w]) => `${name} ended (${(await w).exitCode ?? (await w).signal}):\n${String((await w).all).split('\n').slice(-15).join('\n')}`),
      );
      assert.deepEqual(alive, ['w1', 'w2', 'w3'].filter((w) => w !== victim), ended.join('\n'));
      assert.equal(s.workers.reduce((n: number, w: { samples: number }) => n + w.samples, 0) >= SAMPLES - 100, true);
    } finally {
      await shardQueue.close();
      await mergeQueue.close();
      await redis.quit();
    }
  });

  test('a model that cannot fit the board, or a corrupt artifact, fails at once and is not retried', { timeout: 120_000 }, async (t) => {
    const t0 = Date.now();
    const redis = connect(parseRedisUrl(url));
    const shardQueue = new Queue(shardQueueName('emulator'), { connection: redis });
    try {
      // 784x1400 int8 weights alone are more than the 1 MB of flash.
      const big = join(dir, 'big');
      mkdirSync(big);
      const bigBytes = writeTflite(quantizeModel(randomFloatModel([1400], 3), { images: randomImages(4, 3), count: 4 }));
      writeFileSync(join(big, 'model_int8.tflite'), bigBytes);
      const r = await tinyml(['submit', '--redis', url, '--model', big, '--board', 'emulator', '--samples', '10', '--shards', '2', '--wait', '--timeout', '60']);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /^error: shard \d+\.\.\d+ failed: model does not fit the/m);
      const failed = await shardQueue.getJobs(['failed']);
      const mine = failed.filter((j) => j.data.modelSha256 === sha256Hex(bigBytes));
      assert.ok(mine.length >= 1 && mine.every((j) => j.attemptsMade === 1), 'not retried');

      // Corrupt artifact: the key holds other bytes than its name says (SET NX keeps them).
      const small = join(dir, 'corrupt');
      const { bytes } = await writeInt8ModelFolder(small, [16], 4);
      await redis.set(artifactKey(sha256Hex(bytes)), Buffer.from(bytes.subarray(0, bytes.length - 1)));
      await assert.rejects(getArtifact(redis, sha256Hex(bytes)), ArtifactError);
      const c = await tinyml(['submit', '--redis', url, '--model', small, '--board', 'emulator', '--samples', '4', '--wait', '--timeout', '60']);
      assert.notEqual(c.exitCode, 0);
      assert.match(c.stderr, /is corrupt: its bytes hash to/);

      // A job for a board kind this worker does not have is refused, not run.
      const wrong = await shardQueue.add('shard', { v: 1, modelSha256: sha256Hex(bytes), board: 'nano33ble', first: 0, count: 1 }, { attempts: 5 });
      for (let i = 0; !(await wrong.isFailed()); i++) {
        assert.ok(i < 300, 'the wrong-board job was not refused');
        await sleep(100);
      }
      const refused = await Job.fromId(shardQueue, wrong.id!);
      assert.match(refused!.failedReason, /is for a nano33ble; this worker drives a emulator/);
      assert.equal(refused!.attemptsMade, 1);

      // A board that is gone fails the attempt (retried with backoff elsewhere) and stops its worker.
      const nano = execa(process.execPath, [TINYML, 'worker', '--redis', url, '--board', 'nano33ble', '--port', join(dir, 'no-such-tty'), '--name', 'n1'], { cwd: dir, reject: false, stdin: 'ignore' });
      const good = join(dir, 'good');
      const { bytes: goodBytes } = await writeInt8ModelFolder(good, [16], 5);
      const q = await tinyml(['submit', '--redis', url, '--model', good, '--board', 'nano33ble', '--samples', '4']);
      assert.equal(q.exitCode, 0, q.stderr);
      const gone = await nano;
      assert.equal(gone.exitCode, 1);
      assert.match(String(gone.stderr), /^error: the nano33ble on .*no-such-tty cannot be reached/m);
      const nanoQueue = new Queue(shardQueueName('nano33ble'), { connection: redis });
      const [retry] = await nanoQueue.getJobs(['delayed', 'wait']);
      assert.equal(retry?.data.modelSha256, sha256Hex(goodBytes));
      assert.equal(retry?.attemptsMade, 1);
      await nanoQueue.close();
      t.diagnostic(`refusals took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const bad = await tinyml(['submit', '--redis', 'http://127.0.0.1:1', '--model', small, '--board', 'emulator', '--samples', '4']);
      assert.equal(bad.exitCode, 2);
      assert.match(bad.stderr, /^error: --redis .*redis:\/\/ or rediss:\/\//);
    } finally {
      await shardQueue.close();
      await redis.quit();
    }
  });

  test('workers stop on SIGTERM and leave no QEMU behind', { timeout: 60_000 }, async () => {
    const alive = [...workers.entries()].filter(([, w]) => w.exitCode === null && w.signalCode === null);
    for (const [, w] of alive) w.kill('SIGTERM');
    for (const [name, w] of alive) {
      const r = await w;
      assert.equal(r.exitCode, 0, `${name}: ${r.all}`);
      assert.match(String(r.stdout), /stopped after \d+ jobs/);
    }
    // The SIGKILLed worker's QEMU died with it; every other one was stopped by its worker.
    assert.deepEqual(qemuUnder(dir), [], 'QEMU left running');
  });
});

async function singleBoardRun(elf: string, modelDir: string) {
  const { withEmulatorLink } = await import('../src/device/emulator-link.ts');
  const { validateOnDevice } = await import('../src/validate/validate.ts');
  const { readInt8Model } = await import('../src/model/int8-file.ts');
  const { loadFashionMnist } = await import('../src/data/fashion-mnist.ts');
  const { model, bytes } = await readInt8Model(modelDir);
  const test = await loadFashionMnist({ split: 'test', limit: SAMPLES });
  return withEmulatorLink(elf, async (link) => {
    const info = await link.handshake({ timeoutMs: 15_000 });
    let outputs: Int8Array<ArrayBufferLike> = new Int8Array(0);
    const report = await validateOnDevice({
      link,
      info,
      model,
      tfliteBytes: bytes,
      images: test.images,
      labels: test.labels,
      count: SAMPLES,
      normalized: model.input.scale < 0.5,
      board: 'emulator',
      onOutputs: (o) => {
        outputs = o.device;
      },
    });
    return { report, outputs };
  });
}
