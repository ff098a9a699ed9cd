/**
 * The exercise's stages on a board farm (`tinyml exercise --redis URL`): the
 * training of each stage is a train job any `tinyml worker --train` takes, and
 * the device run is a farm submission that board workers run in shards. What
 * comes back is written into the stage folder exactly as the local steps write
 * it: model.json, weights.bin and metrics.json as `tinyml train` saves them, and
 * validation.json from validate's own validationReport over the shards' answers
 * (with the float model's accuracy, as a local `validate` has it), so the stage
 * row and report.html are those of a local run.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { UsageError } from '../errors.ts';
import { loadFashionMnist } from '../data/fashion-mnist.ts';
import type { TrainProgress } from '../train/train.ts';
import { loadFloatModel, predictFloat } from '../train/float-model.ts';
import { METRICS_JSON, MODEL_JSON, WEIGHTS_BIN } from '../train/model-store.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { modelPaths } from '../model/model-dir.ts';
import { checkLinkLimits } from '../reference/limits.ts';
import { validationReport, type ValidationReport } from '../validate/validate.ts';
import { validationDetail } from '../validate/detail.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic-write.ts';
import { connectChecked, parseRedisUrl } from '../farm/redis.ts';
import { trainOnFarm } from '../farm/train.ts';
import { awaitValidation, enqueueValidation } from '../farm/submit.ts';
import { mergeAnswers } from '../farm/merge.ts';
import type { FirmwareSizes } from '../farm/device.ts';
import type { FarmBoard } from '../farm/queues.ts';
import type { TrainJobData } from '../farm/schema.ts';
import type { StageSpec, ExerciseSettings } from './stages.ts';

export interface ExerciseFarm {
  readonly redis: Redis;
  /** Shards per device run. */
  readonly shards: number;
  /** The Redis URL without its password, for messages. */
  readonly display: string;
  close(): Promise<void>;
}

/** @throws RedisUrlError, RedisUnreachableError, UsageError for --shards */
export async function connectExerciseFarm(url: string, shards: number, samples: number): Promise<ExerciseFarm> {
  const target = parseRedisUrl(url);
  if (!Number.isInteger(shards) || shards < 1 || shards > samples) throw new UsageError(`--shards ${shards} must be a whole number in 1..${samples} (--samples)`);
  const redis = await connectChecked(target);
  return { redis, shards, display: target.display, close: async () => void (await redis.quit().catch(() => redis.disconnect())) };
}

/** The train job of a stage: its spec and the run's settings. */
export function stageTrainJob(spec: StageSpec, settings: ExerciseSettings, limitTrain: number | undefined, limitTest: number | undefined): TrainJobData {
  return {
    v: 1,
    name: spec.name,
    hidden: [...spec.hidden],
    normalize: spec.normalize,
    stopAtAccuracy: spec.stopAtAccuracy,
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    seed: settings.seed,
    limitTrain: limitTrain ?? null,
    limitTest: limitTest ?? null,
    trainDataSha256: settings.trainDataSha256,
    testDataSha256: settings.testDataSha256,
  };
}

/** Trains the stage on a train worker and writes the model folder's files into `dir`. */
export async function trainStageOnFarm(
  farm: ExerciseFarm,
  job: TrainJobData,
  dir: string,
  onProgress: (p: TrainProgress) => void,
  log: (line: string) => void,
): Promise<void> {
  const files = await trainOnFarm(farm.redis, job, { onProgress, log });
  await mkdir(dir, { recursive: true });
  // model.json last: a folder with it holds the whole model.
  await writeFileAtomic(join(dir, WEIGHTS_BIN), files[WEIGHTS_BIN]);
  await writeFileAtomic(join(dir, METRICS_JSON), files[METRICS_JSON]);
  await writeFileAtomic(join(dir, MODEL_JSON), files[MODEL_JSON]);
}

export interface FarmDeviceRun {
  readonly report: ValidationReport;
  /** The firmware's sizes as the worker's build measured them; null when no worker built it for this run. */
  readonly firmware: FirmwareSizes | null;
}

/**
 * Validates the stage's int8 model on the farm's boards of kind `board` and
 * writes DIR/validation.json as `tinyml validate` does.
 */
export async function validateStageOnFarm(
  farm: ExerciseFarm,
  input: { readonly dir: string; readonly board: FarmBoard; readonly samples: number; readonly dataDir?: string },
  onProgress: (done: number, total: number) => void,
  log: (line: string) => void,
): Promise<FarmDeviceRun> {
  const { dir, board, samples } = input;
  const { model, bytes } = await readInt8Model(dir);
  checkLinkLimits(model);
  const sub = await enqueueValidation(farm.redis, { bytes, board, samples, shards: Math.min(farm.shards, samples) });
  log(`${sub.reused ? 'already on the farm' : 'submitted to the farm'}: ${sub.shards} shard(s) of ${samples} samples on ${board} (${sub.jobId.slice(0, 40)}...)`);
  const done = await awaitValidation(farm.redis, sub, { onProgress });

  const all = await loadFashionMnist({ dataDir: input.dataDir, split: 'test' });
  if (done.shards[0]!.testDataSha256 !== all.sha256) {
    throw new UsageError(`the farm's workers validated on other test data (SHA-256 ${done.shards[0]!.testDataSha256.slice(0, 12)}) than this host's ${all.source} (${all.sha256.slice(0, 12)}): give both the same Fashion-MNIST files`);
  }
  const test = await loadFashionMnist({ dataDir: input.dataDir, split: 'test', limit: samples });
  const { tfModel, floatModel } = await loadFloatModel(dir);
  const floatTop1 = predictFloat(tfModel, test.images, floatModel.normalized).top1;
  tfModel.dispose();
  const { answers } = mergeAnswers(done.shards, samples);
  const { report, outputs } = validationReport({ answers, model, tfliteBytes: bytes, images: test.images, labels: test.labels, normalized: floatModel.normalized, floatTop1, board });
  const detail = outputs ? validationDetail({ outputs, labels: test.labels, images: test.images, inSize: model.layers[0]!.inputSize, floatTop1 }) : null;
  const farmRecord = { jobId: sub.jobId, shards: done.result.report.shards, workers: done.result.report.workers };
  await writeJsonAtomic(modelPaths(dir).validation, { ...report, testDataSha256: test.sha256, detail, farm: farmRecord });
  return { report, firmware: done.result.report.firmware };
}
