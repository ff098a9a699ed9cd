/**
 * `tinyml worker`: one process per attached board or emulator instance. It takes
 * shard jobs from its board kind's queue (and merge jobs from the shared merge
 * queue), flashes only when a job's model differs from what the board runs, runs
 * the range through the device link, and keeps a heartbeat hash in Redis for
 * `tinyml farm status`. With --train it is a training worker instead
 * (train-worker.ts).
 *
 * Exactly once is BullMQ's: a job is locked while a worker holds it; a worker
 * that dies stops renewing the lock and the stalled-job check hands the job to
 * another worker; a result is the job's return value, written once on completion.
 * Errors that no retry can fix (bad job data, a corrupt artifact, a model the
 * board cannot hold) are UnrecoverableError: failed at once, never retried.
 */
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { TinymlError, UsageError } from '../errors.ts';
import { loadFashionMnist, type Dataset } from '../data/fashion-mnist.ts';
import { readTflite } from '../tflite/reader.ts';
import { checkLinkLimits } from '../reference/limits.ts';
import { checkBudget, RUNTIME_KINDS, type RuntimeKind } from '../firmware-build/budget.ts';
import { budgetBoard } from '../deploy/targets.ts';
import { crc32Hex } from '../protocol/crc32.ts';
import type { Int8Model } from '../model/types.ts';
import type { DeviceLink } from '../device/link.ts';
import { BoardDevice } from './device.ts';
import { runTrainWorker } from './train-worker.ts';
import { getArtifact } from './artifacts.ts';
import { connectChecked, parseRedisUrl, type RedisTarget } from './redis.ts';
import { HEARTBEAT_EVERY_MS, writeHeartbeat } from './heartbeat.ts';
import { FARM_BOARDS, heartbeatKey, MERGE_QUEUE, minuteKey, shardQueueName, type FarmBoard } from './queues.ts';
import { BoardGoneError } from './errors.ts';
import { parseMergeJobData, parseShardJobData, type ShardJobData } from './schema.ts';
import { markLink, runShard, type LinkMark, type ShardResult } from './shard.ts';
import { mergeReport, type MergeResult } from './merge.ts';

export interface WorkerArgs {
  redis?: string;
  /** Take training jobs instead of driving a board. */
  train?: boolean;
  board?: string;
  port?: string;
  runtime?: string;
  name?: string;
  'tflm-dir'?: string;
  'cache-dir'?: string;
  'data-dir'?: string;
  /** How long a job stays locked without renewal before the stalled check hands it on, ms. */
  'lock-ms'?: number;
  window?: number;
}

export interface WorkerSummary {
  readonly worker: string;
  readonly jobs: number;
  readonly samples: number;
}


/** Quantize fixes the input to [0, 1] (scale 1/255) or raw [0, 255] (scale 1). */
export function inputNormalized(model: Int8Model): boolean {
  return model.input.scale < 0.5;
}

/** The int8 model in an artifact, or an UnrecoverableError saying why it can never run on `board`. */
function modelFor(bytes: Uint8Array, sha: string, board: FarmBoard, runtime: RuntimeKind): Int8Model {
  try {
    const model = readTflite(bytes);
    if (model.kind !== 'int8') throw new UsageError(`model ${sha.slice(0, 12)} is a float32 .tflite: submit model_int8.tflite`);
    checkLinkLimits(model);
    checkBudget({ model, modelBytes: bytes.length, runtime, board: budgetBoard(board) });
    return model;
  } catch (err) {
    if (err instanceof TinymlError) throw new UnrecoverableError(err.message);
    throw err;
  }
}

function checkArgs(args: WorkerArgs): { target: RedisTarget; board: FarmBoard; runtime: RuntimeKind } {
  const target = parseRedisUrl(args.redis);
  const board = args.board as FarmBoard;
  if (!args.board) throw new UsageError('--board is missing: give the kind of board this worker drives (emulator or nano33ble), or --train for a training worker');
  if (!(FARM_BOARDS as readonly string[]).includes(board)) throw new UsageError(`--board ${args.board}: use emulator or nano33ble`);
  if (board === 'nano33ble' && !args.port) throw new UsageError('--board nano33ble needs --port, the serial port of the board this worker drives');
  if (board === 'emulator' && args.port) throw new UsageError('--port is for a nano33ble: an emulator worker boots its own QEMU');
  const runtime = (args.runtime ?? (board === 'nano33ble' ? 'tflm' : 'native')) as RuntimeKind;
  if (!RUNTIME_KINDS.includes(runtime)) throw new UsageError(`--runtime ${args.runtime}: use native or tflm`);
  if (board === 'emulator' && runtime === 'tflm' && !args['tflm-dir']) throw new UsageError('--runtime tflm on the emulator needs --tflm-dir');
  const lockMs = args['lock-ms'] ?? 30_000;
  if (!Number.isInteger(lockMs) || lockMs < 1000) throw new UsageError(`--lock-ms ${args['lock-ms']} must be a whole number of at least 1000`);
  return { target, board, runtime };
}

/**
 * Runs until SIGINT or SIGTERM: then the job in hand is handed back to the queue
 * (not counted as a failed attempt), QEMU is stopped, and it resolves.
 */
export async function runWorker(args: WorkerArgs, log: (line: string) => void = () => undefined): Promise<WorkerSummary> {
  if (args.train) return runTrainWorker(args, log);
  const { target, board, runtime } = checkArgs(args);
  const lockMs = args['lock-ms'] ?? 30_000;
  const id = args.name ?? `${hostname()}-${board}-${process.pid}`;
  const redis = await connectChecked(target);
  const closers: (() => Promise<unknown>)[] = [async () => redis.quit().catch(() => redis.disconnect())];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const test = await loadFashionMnist({ dataDir: args['data-dir'], split: 'test' });
    const device = new BoardDevice({ board, runtime, port: args.port, cacheDir: args['cache-dir'], tflmDir: args['tflm-dir'], log });
    closers.push(() => device.close());
    return await serve({ id, redis, target, board, runtime, device, test, lockMs, window: args.window, log, closers });
  } finally {
    await closeAll();
  }
}

interface ServeInput {
  readonly id: string;
  readonly redis: Redis;
  readonly target: RedisTarget;
  readonly board: FarmBoard;
  readonly runtime: RuntimeKind;
  readonly device: BoardDevice;
  readonly test: Dataset;
  readonly lockMs: number;
  readonly window?: number;
  readonly log: (line: string) => void;
  readonly closers: (() => Promise<unknown>)[];
}

async function serve(s: ServeInput): Promise<WorkerSummary> {
  const { id, redis, device, board, runtime, log } = s;
  const models = new Map<string, { bytes: Uint8Array; model: Int8Model }>();
  /** Where each link's counters stood after its last shard, so a shard reports its own share. */
  const marks = new WeakMap<DeviceLink, LinkMark>();
  const stats = { jobs: 0, samples: 0, busyMs: 0, current: '' as string, modelSha: '' };
  let stopping = false;
  let current: AbortController | null = null;
  /** Set when the board is gone: the worker stops rather than fail every job it would take. */
  let gone: BoardGoneError | null = null;
  let stop = () => undefined as void;

  const beat = () => {
    const crc = device.modelCrc32;
    return writeHeartbeat(redis, id, {
      board,
      runtime,
      port: device.where,
      modelCrc32: crc === null ? '' : crc32Hex(crc),
      modelSha256: stats.modelSha,
      job: stats.current,
      jobs: stats.jobs,
      samples: stats.samples,
      busyMs: stats.busyMs,
    });
  };
  const beatSafe = () => void beat().catch((err: unknown) => log(`heartbeat failed: ${(err as Error).message}`));
  await beat();
  const timer = setInterval(beatSafe, HEARTBEAT_EVERY_MS);
  s.closers.push(async () => {
    clearInterval(timer);
    await redis.del(heartbeatKey(id));
  });

  const loadModel = async (sha: string) => {
    const hit = models.get(sha);
    if (hit) return hit;
    let bytes: Uint8Array;
    try {
      bytes = await getArtifact(redis, sha);
    } catch (err) {
      if (err instanceof TinymlError) throw new UnrecoverableError(err.message);
      throw err;
    }
    const entry = { bytes, model: modelFor(bytes, sha, board, runtime) };
    models.set(sha, entry);
    return entry;
  };

  const processShard = async (job: Job, token?: string): Promise<ShardResult> => {
    let data: ShardJobData;
    try {
      data = parseShardJobData(job.data, `job ${job.id}`);
    } catch (err) {
      throw new UnrecoverableError((err as Error).message);
    }
    if (data.board !== board) throw new UnrecoverableError(`job ${job.id} is for a ${data.board}; this worker drives a ${board}`);
    const { bytes, model } = await loadModel(data.modelSha256);
    const abort = new AbortController();
    current = abort;
    stats.current = `${job.id}`;
    stats.modelSha = data.modelSha256;
    let startedAt = Date.now();
    let loading = true;
    try {
      if (stopping) throw new HandBack();
      const loaded = await device.load(data.modelSha256, bytes, model, abort.signal);
      loading = false;
      // Time on the link only: building and booting are not the board's throughput.
      startedAt = Date.now();
      if (loaded.flashed) log(`${board} on ${device.where} runs model ${data.modelSha256.slice(0, 12)} (CRC-32 ${crc32Hex(loaded.info.modelCrc32)})`);
      beatSafe();
      log(`job ${job.id}: samples ${data.first}..${data.first + data.count - 1}`);
      let lastProgress = 0;
      const answers = await runShard({
        link: loaded.link,
        info: loaded.info,
        model,
        tfliteBytes: bytes,
        images: s.test.images,
        normalized: inputNormalized(model),
        first: data.first,
        count: data.count,
        window: s.window,
        signal: abort.signal,
        onProgress: (done, total) => {
          if (Date.now() - lastProgress < 1000 && done < total) return;
          lastProgress = Date.now();
          void job.updateProgress({ done, total, worker: id }).catch(() => undefined);
        },
        since: marks.get(loaded.link),
      });
      marks.set(loaded.link, markLink(loaded.link));
      const finishedAt = Date.now();
      stats.jobs++;
      stats.samples += data.count;
      stats.busyMs += finishedAt - startedAt;
      const minute = minuteKey(Math.floor(finishedAt / 60_000));
      await redis.multi().incrby(minute, data.count).expire(minute, 3600).exec();
      return {
        ...answers,
        info: loaded.info,
        firmware: loaded.firmware,
        worker: id,
        port: device.where,
        attempt: job.attemptsMade + 1,
        stalls: job.stalledCounter ?? 0,
        testDataSha256: s.test.sha256,
        startedAt,
        finishedAt,
      };
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      if (stopping) {
        // Shutting down: give the job back untouched; another worker (or this one, later) runs it.
        await device.reset();
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      // The board failed (QEMU died, the port vanished, answers stopped): forget its state, so the
      // next job reboots or reconnects; this attempt fails and BullMQ retries it with backoff.
      log(`job ${job.id} failed on ${device.where}: ${(err as Error).message}`);
      await device.reset();
      if (loading && board === 'nano33ble') {
        gone = new BoardGoneError(`the nano33ble on ${device.where} cannot be reached (${(err as Error).message}): reconnect it and start the worker again`, { cause: err });
        stop();
      }
      throw err;
    } finally {
      current = null;
      stats.current = '';
      beatSafe();
    }
  };

  const processMerge = async (job: Job): Promise<MergeResult> => {
    let data;
    try {
      data = parseMergeJobData(job.data, `job ${job.id}`);
    } catch (err) {
      throw new UnrecoverableError((err as Error).message);
    }
    const values = Object.values(await job.getChildrenValues<ShardResult>());
    const bytes = await getArtifact(redis, data.modelSha256).catch((err: unknown) => {
      throw new UnrecoverableError((err as Error).message);
    });
    const model = readTflite(bytes);
    if (model.kind !== 'int8') throw new UnrecoverableError(`model ${data.modelSha256.slice(0, 12)} is not int8`);
    if (values.length !== data.shards) throw new UnrecoverableError(`job ${job.id} has ${values.length} shard results, expected ${data.shards}`);
    try {
      return mergeReport({
        results: values,
        samples: data.samples,
        model,
        tfliteBytes: bytes,
        modelSha256: data.modelSha256,
        images: s.test.images,
        labels: s.test.labels,
        normalized: inputNormalized(model),
        board: data.board,
      });
    } catch (err) {
      if (err instanceof TinymlError) throw new UnrecoverableError(err.message);
      throw err;
    }
  };

  const common = {
    connection: redis,
    concurrency: 1,
    lockDuration: s.lockMs,
    stalledInterval: s.lockMs,
    maxStalledCount: 2,
  };
  const shardWorker = new Worker(shardQueueName(board), processShard, common);
  const mergeWorker = new Worker(MERGE_QUEUE, processMerge, common);
  for (const w of [shardWorker, mergeWorker]) {
    w.on('error', (err) => log(`queue error: ${err.message}`));
    w.on('failed', (job, err) => {
      if (job && !(err instanceof DelayedError) && err.name !== 'DelayedError') log(`job ${job.id} failed: ${err.message}`);
    });
  }
  log(`worker ${id}: ${board} (${runtime} runtime) on ${s.target.display}, taking ${shardQueueName(board)} and ${MERGE_QUEUE}`);

  await new Promise<void>((resolveStop) => {
    stop = () => {
      stopping = true;
      resolveStop();
    };
    const onSignal = () => {
      // A second Ctrl-C does not wait for the hand-back.
      if (stopping) process.exit(130);
      stopping = true;
      log(`worker ${id}: stopping (handing back the job in hand)`);
      current?.abort();
      resolveStop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    s.closers.push(async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
  });
  await shardWorker.close();
  await mergeWorker.close();
  if (gone) throw gone;
  return { worker: id, jobs: stats.jobs, samples: stats.samples };
}

/** Thrown inside a job when the worker is stopping before the job started on the board. */
class HandBack extends Error {}

