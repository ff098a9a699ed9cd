/**
 * Validation of job data read back from Redis (pure). Anything in Redis may have
 * been written by another version or by hand, so a worker checks every field's
 * type and range before it acts, and refuses board kinds it does not have.
 */
import { FarmJobDataError } from './errors.ts';
import { FARM_BOARDS, TEST_SET_SIZE, type FarmBoard } from './queues.ts';

export interface ShardJobData {
  readonly v: 1;
  /** SHA-256 of the .tflite, 64 lowercase hex digits: the artifact's name. */
  readonly modelSha256: string;
  readonly board: FarmBoard;
  /** First test-set sample index of the range. */
  readonly first: number;
  readonly count: number;
}

export interface MergeJobData {
  readonly v: 1;
  readonly modelSha256: string;
  readonly board: FarmBoard;
  readonly samples: number;
  readonly shards: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

function record(data: unknown, what: string): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new FarmJobDataError(`${what}: job data is not an object`);
  return data as Record<string, unknown>;
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new FarmJobDataError(`${what}: ${key} ${JSON.stringify(v)} is not a whole number in ${min}..${max}`);
  }
  return v;
}

export function checkSha256(v: unknown, what: string): string {
  if (typeof v !== 'string' || !SHA256.test(v)) throw new FarmJobDataError(`${what}: modelSha256 is not 64 lowercase hex digits`);
  return v;
}

export function checkBoardKind(v: unknown, what: string): FarmBoard {
  if (typeof v !== 'string' || !(FARM_BOARDS as readonly string[]).includes(v)) {
    throw new FarmJobDataError(`${what}: board ${JSON.stringify(v)} is not one of ${FARM_BOARDS.join(', ')}`);
  }
  return v as FarmBoard;
}

function version(o: Record<string, unknown>, what: string): 1 {
  if (o.v !== 1) throw new FarmJobDataError(`${what}: job data version ${JSON.stringify(o.v)} is not 1 (submitted by another tinyml version?)`);
  return 1;
}

/** @throws FarmJobDataError naming the bad field */
export function parseShardJobData(data: unknown, what = 'shard job'): ShardJobData {
  const o = record(data, what);
  const first = int(o, 'first', 0, TEST_SET_SIZE - 1, what);
  const count = int(o, 'count', 1, TEST_SET_SIZE, what);
  if (first + count > TEST_SET_SIZE) throw new FarmJobDataError(`${what}: samples ${first}..${first + count - 1} run past the ${TEST_SET_SIZE} test samples`);
  return { v: version(o, what), modelSha256: checkSha256(o.modelSha256, what), board: checkBoardKind(o.board, what), first, count };
}

/** @throws FarmJobDataError naming the bad field */
export function parseMergeJobData(data: unknown, what = 'merge job'): MergeJobData {
  const o = record(data, what);
  const samples = int(o, 'samples', 1, TEST_SET_SIZE, what);
  const shards = int(o, 'shards', 1, samples, what);
  return { v: version(o, what), modelSha256: checkSha256(o.modelSha256, what), board: checkBoardKind(o.board, what), samples, shards };
}

/** A training run: one stage of the exercise, on data both sides identify by hash. */
export interface TrainJobData {
  readonly v: 1;
  /** The stage's name, for logs and metrics.json. */
  readonly name: string;
  readonly hidden: readonly number[];
  readonly normalize: boolean;
  /** Stop once training accuracy passes this (never before epoch 2 ends); null to run every epoch. */
  readonly stopAtAccuracy: number | null;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  /** The first N training / test images, or all (null). */
  readonly limitTrain: number | null;
  readonly limitTest: number | null;
  /** SHA-256 of those images and labels: a worker whose data differs refuses the job. */
  readonly trainDataSha256: string;
  readonly testDataSha256: string;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

function sha(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !SHA256.test(v)) throw new FarmJobDataError(`${what}: ${key} is not 64 lowercase hex digits`);
  return v;
}

function intOrNull(o: Record<string, unknown>, key: string, min: number, max: number, what: string): number | null {
  return o[key] === null ? null : int(o, key, min, max, what);
}

/** @throws FarmJobDataError naming the bad field */
export function parseTrainJobData(data: unknown, what = 'train job'): TrainJobData {
  const o = record(data, what);
  if (typeof o.name !== 'string' || !NAME.test(o.name)) throw new FarmJobDataError(`${what}: name ${JSON.stringify(o.name)} is not 1 to 32 of a-z, 0-9 and -`);
  const hidden = o.hidden;
  if (!Array.isArray(hidden) || hidden.length < 1 || hidden.length > 8) throw new FarmJobDataError(`${what}: hidden is not a list of 1 to 8 layer sizes`);
  hidden.forEach((_, i) => int(hidden as unknown as Record<string, unknown>, String(i), 1, 4096, `${what}: hidden`));
  if (typeof o.normalize !== 'boolean') throw new FarmJobDataError(`${what}: normalize is not true or false`);
  const stop = o.stopAtAccuracy;
  if (stop !== null && (typeof stop !== 'number' || !(stop > 0 && stop <= 1))) throw new FarmJobDataError(`${what}: stopAtAccuracy ${JSON.stringify(stop)} is not null or a number in (0, 1]`);
  return {
    v: version(o, what),
    name: o.name,
    hidden: [...(hidden as number[])],
    normalize: o.normalize,
    stopAtAccuracy: stop as number | null,
    epochs: int(o, 'epochs', 1, 1000, what),
    batchSize: int(o, 'batchSize', 1, 4096, what),
    seed: int(o, 'seed', 0, Number.MAX_SAFE_INTEGER, what),
    limitTrain: intOrNull(o, 'limitTrain', 1, 60_000, what),
    limitTest: intOrNull(o, 'limitTest', 1, TEST_SET_SIZE, what),
    trainDataSha256: sha(o, 'trainDataSha256', what),
    testDataSha256: sha(o, 'testDataSha256', what),
  };
}
