/**
 * Names the farm shares through Redis: queues, keys and job ids. One place, so
 * workers, submitters and `farm status` of the same version agree.
 *
 * Job ids are derived from the model's SHA-256 and the sample range, so adding
 * the same work twice finds the job already there (BullMQ ignores an add whose
 * id exists) and nothing runs twice.
 */
export type FarmBoard = 'emulator' | 'nano33ble';
export const FARM_BOARDS: readonly FarmBoard[] = ['emulator', 'nano33ble'];

/** Samples in the Fashion-MNIST test set, the validation data of every job. */
export const TEST_SET_SIZE = 10_000;

const PREFIX = 'tinyml';

/** Shard jobs of one board kind: only workers with such a board take them. */
export function shardQueueName(board: FarmBoard): string {
  return `${PREFIX}-shards-${board}`;
}

/** Parent jobs that merge a submission's shards; any worker takes them. */
export const MERGE_QUEUE = `${PREFIX}-merge`;

/** Model artifacts, content-addressed: the .tflite bytes under their SHA-256. */
export function artifactKey(sha256: string): string {
  return `${PREFIX}:artifact:${sha256}`;
}

/** A worker's heartbeat hash; expires when the worker stops refreshing it. */
export function heartbeatKey(workerId: string): string {
  return `${PREFIX}:worker:${workerId}`;
}
export const HEARTBEAT_PATTERN = `${PREFIX}:worker:*`;

/** Samples finished in one UTC minute (throughput for `farm status`). */
export function minuteKey(epochMinute: number): string {
  return `${PREFIX}:done:${epochMinute}`;
}

/** BullMQ refuses ':' in custom ids; the hash and numbers never hold one. */
export function shardJobId(sha256: string, board: FarmBoard, first: number, count: number): string {
  return `shard-${board}-${sha256}-${first}-${count}`;
}

export function mergeJobId(sha256: string, board: FarmBoard, samples: number, shards: number): string {
  return `merge-${board}-${sha256}-${samples}-${shards}`;
}

export interface Range {
  readonly first: number;
  readonly count: number;
}

/** Splits samples 0..n-1 into k contiguous ranges whose sizes differ by at most one. */
export function shardRanges(samples: number, shards: number): Range[] {
  const ranges: Range[] = [];
  let first = 0;
  for (let i = 0; i < shards; i++) {
    const count = Math.floor(samples / shards) + (i < samples % shards ? 1 : 0);
    ranges.push({ first, count });
    first += count;
  }
  return ranges;
}

/** Training jobs (`tinyml exercise --redis`): any `tinyml worker --train` takes them. */
export const TRAIN_QUEUE = `${PREFIX}-train`;

/** The id of a training job: the SHA-256 of its data, so the same training is asked for once. */
export function trainJobId(dataSha256: string): string {
  return `train-${dataSha256}`;
}
