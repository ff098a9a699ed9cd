/**
 * `tinyml submit`: stores the model's .tflite in Redis under its SHA-256 and adds
 * one BullMQ flow: K shard jobs (sample ranges) under a merge job that any
 * worker runs once every shard is done. Ids come from the hash and the ranges,
 * so submitting the same work again adds nothing and, with --wait, returns the
 * stored result.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowProducer, Job, Queue } from 'bullmq';
import { UsageError } from '../errors.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { checkLinkLimits } from '../reference/limits.ts';
import { InterruptedError } from '../device/errors.ts';
import { putArtifact } from './artifacts.ts';
import { FarmJobFailedError } from './errors.ts';
import type { MergeResult } from './merge.ts';
import type { ShardResult } from './shard.ts';
import type { Redis } from 'ioredis';
import { connectChecked, parseRedisUrl } from './redis.ts';
import { FARM_BOARDS, MERGE_QUEUE, mergeJobId, shardJobId, shardQueueName, shardRanges, TEST_SET_SIZE, type FarmBoard } from './queues.ts';
import type { MergeJobData, ShardJobData } from './schema.ts';

export interface SubmitArgs {
  redis?: string;
  model?: string;
  board?: string;
  samples?: number;
  shards?: number;
  wait?: boolean;
  /** Seconds --wait waits at most; 0 for no limit. */
  timeout?: number;
  attempts?: number;
}

export interface SubmitResult {
  readonly jobId: string;
  readonly modelSha256: string;
  readonly board: FarmBoard;
  readonly samples: number;
  readonly shards: number;
  /** True when this exact submission was already in the queue (nothing new was added). */
  readonly reused: boolean;
  /** The merged result, with --wait. */
  readonly result: MergeResult | null;
}

function whole(name: string, v: number | undefined, min: number, max: number): number {
  if (v === undefined || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name} ${v} must be a whole number in ${min}..${max}`);
  return v;
}

export interface SubmitOptions {
  readonly onProgress?: (done: number, total: number) => void;
  readonly log?: (line: string) => void;
}

export async function runSubmit(args: SubmitArgs, options: SubmitOptions = {}): Promise<SubmitResult> {
  const target = parseRedisUrl(args.redis);
  if (!args.model) throw new UsageError('--model is missing: give a model folder holding model_int8.tflite');
  const board = args.board as FarmBoard;
  if (!(FARM_BOARDS as readonly string[]).includes(board)) throw new UsageError(`--board ${args.board}: use emulator or nano33ble`);
  const samples = whole('samples', args.samples, 1, TEST_SET_SIZE);
  const shards = whole('shards', args.shards ?? 1, 1, Math.min(samples, 1000));
  const attempts = whole('attempts', args.attempts ?? 5, 1, 100);
  const timeoutS = args.timeout ?? 0;
  if (!(timeoutS >= 0)) throw new UsageError(`--timeout ${args.timeout} must be a number of seconds >= 0`);
  const { model, bytes } = await readInt8Model(args.model);
  checkLinkLimits(model);

  const redis = await connectChecked(target);
  try {
    const sub = await enqueueValidation(redis, { bytes, board, samples, shards, attempts });
    options.log?.(`${sub.reused ? 'already submitted' : 'submitted'}: ${sub.jobId.slice(0, 40)}... (${shards} shards of ${samples} samples on ${board})`);
    const result = args.wait ? (await awaitValidation(redis, sub, { timeoutS, onProgress: options.onProgress })).result : null;
    return { jobId: sub.jobId, modelSha256: sub.modelSha256, board, samples, shards, reused: sub.reused, result };
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** A validation in the farm's queues. */
export interface FarmSubmission {
  readonly jobId: string;
  readonly modelSha256: string;
  readonly board: FarmBoard;
  readonly samples: number;
  readonly shards: number;
  /** The shard jobs' ids, in sample order. */
  readonly shardIds: readonly string[];
  /** True when this exact submission was already in the queue (nothing new was added). */
  readonly reused: boolean;
}

export interface ValidationRequest {
  /** The int8 .tflite (checked by the caller: readInt8Model, checkLinkLimits). */
  readonly bytes: Uint8Array;
  readonly board: FarmBoard;
  readonly samples: number;
  readonly shards: number;
  /** Tries per shard; default 5. */
  readonly attempts?: number;
}

/**
 * Stores the model and adds the flow (K shard jobs under a merge job) unless the
 * same submission is already there; a failed one is removed and added afresh.
 */
export async function enqueueValidation(redis: Redis, req: ValidationRequest): Promise<FarmSubmission> {
  const { board, samples, shards } = req;
  const sha = await putArtifact(redis, req.bytes);
  const ranges = shardRanges(samples, shards);
  const jobId = mergeJobId(sha, board, samples, shards);
  const shardIds = ranges.map((r) => shardJobId(sha, board, r.first, r.count));
  const mergeQueue = new Queue(MERGE_QUEUE, { connection: redis });
  const flows = new FlowProducer({ connection: redis });
  // Failures surface through the calls that fail; without listeners BullMQ prints each reconnect.
  mergeQueue.on('error', () => undefined);
  flows.on('error', () => undefined);
  try {
    let reused = false;
    const existing = await Job.fromId(mergeQueue, jobId);
    if (existing && (await existing.isFailed())) {
      // A failed submission may be submitted again (a fixed board, a worker added): start it afresh.
      await existing.remove({ removeChildren: true });
    } else if (existing) {
      reused = true;
    }
    if (!reused) {
      const parent: MergeJobData = { v: 1, modelSha256: sha, board, samples, shards };
      await flows.add({
        name: 'merge',
        queueName: MERGE_QUEUE,
        data: parent,
        opts: { jobId, attempts: 3, backoff: { type: 'exponential', delay: 1000 } },
        children: ranges.map((r, k) => {
          const data: ShardJobData = { v: 1, modelSha256: sha, board, first: r.first, count: r.count };
          return {
            name: 'shard',
            queueName: shardQueueName(board),
            data,
            opts: { jobId: shardIds[k], attempts: req.attempts ?? 5, backoff: { type: 'exponential', delay: 2000 }, failParentOnFailure: true },
          };
        }),
      });
    }
    return { jobId, modelSha256: sha, board, samples, shards, shardIds, reused };
  } finally {
    await flows.close().catch(() => undefined);
    await mergeQueue.close().catch(() => undefined);
  }
}

export interface AwaitOptions {
  /** Seconds to wait at most; 0 for no limit. */
  readonly timeoutS?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** The merged result and the shards' own results (each sample's answer), in sample order. */
export interface FarmValidation {
  readonly result: MergeResult;
  readonly shards: readonly ShardResult[];
}

/**
 * Waits for the merge job (polling; Ctrl-C stops waiting, not the farm).
 * @throws FarmJobFailedError with the failing shard's reason; InterruptedError on Ctrl-C
 */
export async function awaitValidation(redis: Redis, sub: FarmSubmission, options: AwaitOptions = {}): Promise<FarmValidation> {
  const mergeQueue = new Queue(MERGE_QUEUE, { connection: redis });
  const shardQueue = new Queue(shardQueueName(sub.board), { connection: redis });
  for (const q of [mergeQueue, shardQueue]) q.on('error', () => undefined);
  try {
    const w = { mergeQueue, shardQueue, jobId: sub.jobId, ids: sub.shardIds, samples: sub.samples, timeoutS: options.timeoutS ?? 0, onProgress: options.onProgress };
    const result = await waitForMerge(w);
    const shards: ShardResult[] = [];
    for (const id of sub.shardIds) {
      const job = await Job.fromId<ShardJobData, ShardResult>(shardQueue, id);
      if (!job?.returnvalue) throw new FarmJobFailedError(`shard job ${id} holds no result (removed by hand?): submit again`);
      shards.push(job.returnvalue);
    }
    return { result, shards };
  } finally {
    await mergeQueue.close().catch(() => undefined);
    await shardQueue.close().catch(() => undefined);
  }
}

interface WaitInput {
  readonly mergeQueue: Queue;
  readonly shardQueue: Queue;
  readonly jobId: string;
  readonly ids: readonly string[];
  readonly samples: number;
  readonly timeoutS: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Polls the merge job until it completes (its result) or fails (the failing shard's reason). */
async function waitForMerge(w: WaitInput): Promise<MergeResult> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const deadline = w.timeoutS > 0 ? Date.now() + w.timeoutS * 1000 : Infinity;
  try {
    for (let tick = 0; ; tick++) {
      const job = await Job.fromId<MergeJobData, MergeResult>(w.mergeQueue, w.jobId);
      if (!job) throw new FarmJobFailedError(`job ${w.jobId} is gone from Redis (removed by hand?): submit again`);
      const state = await job.getState();
      if (state === 'completed') return job.returnvalue;
      if (state === 'failed') throw new FarmJobFailedError(await failureReason(w, job.failedReason));
      if (w.onProgress && tick % 2 === 0) w.onProgress(await samplesDone(w), w.samples);
      if (abort.signal.aborted) throw new InterruptedError('stopped waiting; the jobs go on in the farm (submit again with --wait to pick up the result)');
      if (Date.now() > deadline) throw new FarmJobFailedError(`not done within --timeout ${w.timeoutS} s; the jobs go on in the farm (submit again with --wait)`);
      await sleep(500);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function samplesDone(w: WaitInput): Promise<number> {
  let done = 0;
  for (const id of w.ids) {
    const job = await Job.fromId(w.shardQueue, id);
    if (!job) continue;
    if (job.finishedOn && job.returnvalue) done += (job.returnvalue as { count: number }).count;
    else if (typeof job.progress === 'object' && job.progress && 'done' in job.progress) done += Number((job.progress as { done: number }).done) || 0;
  }
  return done;
}

async function failureReason(w: WaitInput, parentReason: string): Promise<string> {
  for (const id of w.ids) {
    const job = await Job.fromId(w.shardQueue, id);
    if (job && (await job.isFailed())) return `shard ${job.data.first}..${job.data.first + job.data.count - 1} failed: ${job.failedReason}`;
  }
  return `the merge failed: ${parentReason}`;
}
