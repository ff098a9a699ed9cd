/**
 * Training on the farm (`tinyml exercise --redis`): a train job holds one
 * stage's settings and the hashes of the data it must see; a `tinyml worker
 * --train` trains it exactly as `tinyml train` does and returns the model
 * folder's files: model.json and metrics.json as text, weights.bin in the
 * artifact store under its SHA-256. The job id is the hash of the job data, so
 * asking for the same training again returns the stored result.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { TinymlError } from '../errors.ts';
import type { Dataset } from '../data/fashion-mnist.ts';
import { trainModel, type TrainProgress } from '../train/train.ts';
import { METRICS_JSON, MODEL_JSON, saveModel, WEIGHTS_BIN } from '../train/model-store.ts';
import { InterruptedError } from '../device/errors.ts';
import { getArtifact, putArtifact } from './artifacts.ts';
import { FarmJobFailedError } from './errors.ts';
import { TRAIN_QUEUE, trainJobId } from './queues.ts';
import type { TrainJobData } from './schema.ts';

/** A worker's data differs from the submitter's: the job cannot run there. */
export class TrainDataMismatchError extends TinymlError {}

/** What a train job returns (BullMQ keeps it as the job's return value). */
export interface TrainJobResult {
  readonly v: 1;
  /** model.json and metrics.json, as `tinyml train` writes them. */
  readonly modelJson: string;
  readonly metricsJson: string;
  /** weights.bin is in the artifact store under this name. */
  readonly weightsSha256: string;
  readonly worker: string;
}

/** A train job's progress: every epoch so far, and the latest event. */
export interface TrainJobProgress {
  readonly epochs: readonly TrainProgress[];
  readonly current: TrainProgress;
}

/** A trained model folder's files. */
export interface TrainedFiles {
  readonly [MODEL_JSON]: string;
  readonly [WEIGHTS_BIN]: Uint8Array;
  readonly [METRICS_JSON]: string;
}

/** The job id of `data`: SHA-256 of its JSON (built in one field order by trainJobData). */
export function trainJobIdOf(data: TrainJobData): string {
  return trainJobId(createHash('sha256').update(JSON.stringify(data)).digest('hex'));
}

/**
 * Trains `data` on the given data sets (already loaded with the job's limits)
 * and returns the model folder's files.
 * @throws TrainDataMismatchError when the data sets are not the ones the job names
 */
export async function trainFiles(data: TrainJobData, train: Dataset, test: Dataset, onProgress?: (p: TrainProgress) => void): Promise<TrainedFiles> {
  for (const [what, set, want] of [['training', train, data.trainDataSha256], ['test', test, data.testDataSha256]] as const) {
    if (set.sha256 !== want) {
      throw new TrainDataMismatchError(`this worker's ${what} data (${set.count} images from ${set.source}, SHA-256 ${set.sha256.slice(0, 12)}) is not the submitter's (${want.slice(0, 12)}): give both the same Fashion-MNIST files`);
    }
  }
  const { model, metrics } = await trainModel({
    train,
    test,
    hidden: data.hidden,
    epochs: data.epochs,
    batchSize: data.batchSize,
    normalize: data.normalize,
    stopAtAccuracy: data.stopAtAccuracy ?? undefined,
    seed: data.seed,
    onProgress,
  });
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-train-job-'));
  try {
    await saveModel(model, dir, { name: data.name, ...metrics });
    const [modelJson, weights, metricsJson] = await Promise.all([
      readFile(join(dir, MODEL_JSON), 'utf8'),
      readFile(join(dir, WEIGHTS_BIN)),
      readFile(join(dir, METRICS_JSON), 'utf8'),
    ]);
    return { [MODEL_JSON]: modelJson, [WEIGHTS_BIN]: new Uint8Array(weights), [METRICS_JSON]: metricsJson };
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Stores a trained model's weights and makes the job's return value. */
export async function trainJobResult(redis: Redis, files: TrainedFiles, worker: string): Promise<TrainJobResult> {
  const weightsSha256 = await putArtifact(redis, files[WEIGHTS_BIN]);
  return { v: 1, modelJson: files[MODEL_JSON], metricsJson: files[METRICS_JSON], weightsSha256, worker };
}

export interface TrainOnFarmOptions {
  readonly onProgress?: (p: TrainProgress) => void;
  readonly log?: (line: string) => void;
  /** Tries before the training fails; default 3. */
  readonly attempts?: number;
}

/**
 * Queues the training (unless the same one is queued or done already: then
 * nothing new runs), waits for it, and returns the model folder's files.
 * Progress comes from the job's progress as the train worker reports it.
 * @throws FarmJobFailedError with the worker's reason; InterruptedError on Ctrl-C
 */
export async function trainOnFarm(redis: Redis, data: TrainJobData, options: TrainOnFarmOptions = {}): Promise<TrainedFiles> {
  const queue = new Queue(TRAIN_QUEUE, { connection: redis });
  queue.on('error', () => undefined);
  const id = trainJobIdOf(data);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let existing = await Job.fromId(queue, id);
    if (existing && (await existing.isFailed())) {
      // A training that failed (no train worker had the data, say) may be asked for again.
      await existing.remove();
      existing = undefined;
    }
    // A training done before this call shows no progress again.
    const relay = options.onProgress && !(existing && (await existing.isCompleted())) ? options.onProgress : undefined;
    if (existing) {
      options.log?.(`${data.name}: training already queued or done on the farm (${id.slice(0, 18)}...)`);
    } else {
      await queue.add('train', data, { jobId: id, attempts: options.attempts ?? 3, backoff: { type: 'exponential', delay: 2000 } });
      options.log?.(`${data.name}: training queued on the farm (${id.slice(0, 18)}...)`);
    }
    let lastProgress = '';
    let epochsRelayed = 0;
    for (;;) {
      const job = await Job.fromId<TrainJobData, TrainJobResult>(queue, id);
      if (!job) throw new FarmJobFailedError(`training job ${id} is gone from Redis (removed by hand?): run again`);
      const state = await job.getState();
      // Relayed before the state is acted on: a short training may be done before the first look.
      const p = job.progress as Partial<TrainJobProgress> | number;
      if (relay && typeof p === 'object' && Array.isArray(p.epochs) && p.current) {
        for (const e of p.epochs.slice(epochsRelayed)) relay(e);
        epochsRelayed = Math.max(epochsRelayed, p.epochs.length);
        const current = JSON.stringify(p.current);
        if (p.current.kind !== 'epoch' && current !== lastProgress) relay(p.current);
        lastProgress = current;
      }
      if (state === 'completed') {
        const r = job.returnvalue;
        const weights = await getArtifact(redis, r.weightsSha256);
        options.log?.(`${data.name}: trained by ${r.worker}`);
        return { [MODEL_JSON]: r.modelJson, [WEIGHTS_BIN]: weights, [METRICS_JSON]: r.metricsJson };
      }
      if (state === 'failed') throw new FarmJobFailedError(`training ${data.name} failed on the farm: ${job.failedReason}`);
      if (abort.signal.aborted) throw new InterruptedError('stopped waiting; the training goes on in the farm (run again to pick up the result)');
      await sleep(500);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await queue.close().catch(() => undefined);
  }
}
