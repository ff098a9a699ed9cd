/**
 * Merging a submission's shard results into one validation report. The shards'
 * raw answers are put back in sample order (every sample exactly once, or a
 * MergeError), and the report is validate's own validationReport over them, so
 * it is computed by the same code, field for field, as a single-board `validate`.
 */
import { createHash } from 'node:crypto';
import type { Int8Model } from '../model/types.ts';
import { percentiles, validationReport, type DeviceAnswers, type Percentiles, type ValidationReport } from '../validate/validate.ts';
import { MergeError } from './errors.ts';
import type { FirmwareSizes } from './device.ts';
import { decodeInt8, decodeUint32, decodeUint8, type ShardResult } from './shard.ts';

export interface ShardSummary {
  readonly first: number;
  readonly count: number;
  readonly worker: string;
  readonly attempt: number;
  readonly stalls: number;
  readonly wallSeconds: number;
}

/** One worker's share: its board, and latency over the samples it ran. */
export interface WorkerSummary {
  readonly worker: string;
  readonly port: string;
  readonly runtime: string;
  readonly board: string;
  readonly shards: number;
  readonly samples: number;
  readonly samplesPerSec: number;
  readonly latencyCycles: Percentiles;
}

export interface FarmReport extends ValidationReport {
  readonly modelSha256: string;
  readonly testDataSha256: string;
  /** SHA-256 of every sample's device outputs in sample order (equal runs, equal hash). */
  readonly outputsSha256: string;
  readonly shards: readonly ShardSummary[];
  readonly workers: readonly WorkerSummary[];
  /** The firmware's flash and RAM as a worker's build measured them; null when no worker built it for this run. */
  readonly firmware: FirmwareSizes | null;
}

/** What the merge job returns: the report and the per-sample device outputs (base64). */
export interface MergeResult {
  readonly report: FarmReport;
  readonly outputs: string;
}

export interface MergedShards {
  /** Every sample's answer, as one board's run would have them. */
  readonly answers: DeviceAnswers;
  /** The shards in sample order. */
  readonly shards: readonly ShardResult[];
}

/**
 * Puts shard answers in sample order and adds up their link records. Pure.
 * The wall time is the farm's span (first shard's start to last one's end);
 * a board's dropped serial bytes count once per worker (its INFO counts since boot);
 * log lines are prefixed with the worker that received them.
 * @throws MergeError when the shards overlap, leave a gap, disagree on width,
 *         test data or model, or do not cover exactly `samples` samples
 */
export function mergeAnswers(results: readonly ShardResult[], samples: number): MergedShards {
  if (results.length === 0) throw new MergeError('no shard results to merge');
  const shards = [...results].sort((a, b) => a.first - b.first);
  const width = shards[0]!.width;
  const outputs = new Int8Array(samples * width);
  const top1 = new Uint8Array(samples);
  const cycles = new Uint32Array(samples);
  let next = 0;
  for (const s of shards) {
    if (s.first !== next) throw new MergeError(s.first < next ? `shards overlap at sample ${s.first}` : `samples ${next}..${s.first - 1} are in no shard`);
    if (s.width !== width) throw new MergeError(`shard at ${s.first} has ${s.width} outputs per sample, the first ${width}`);
    if (s.testDataSha256 !== shards[0]!.testDataSha256) throw new MergeError(`shard at ${s.first} ran on other test data than shard at ${shards[0]!.first}`);
    if (s.info.modelCrc32 !== shards[0]!.info.modelCrc32) throw new MergeError(`shard at ${s.first} ran another model`);
    const o = decodeInt8(s.outputs);
    const t = decodeUint8(s.top1);
    const c = decodeUint32(s.cycles);
    if (o.length !== s.count * width || t.length !== s.count || c.length !== s.count) throw new MergeError(`shard at ${s.first} holds a truncated result`);
    outputs.set(o, s.first * width);
    top1.set(t, s.first);
    cycles.set(c, s.first);
    next += s.count;
  }
  if (next !== samples) throw new MergeError(`the shards cover ${next} samples, the submission ${samples}`);
  const sum = (f: (s: ShardResult) => number) => shards.reduce((acc, s) => acc + f(s), 0);
  const dropped = new Map<string, number>();
  for (const s of shards) dropped.set(s.worker, Math.max(dropped.get(s.worker) ?? 0, s.link.deviceTxDroppedBytes));
  return {
    answers: {
      count: samples,
      width,
      answered: new Uint8Array(samples).fill(1),
      outputs,
      top1,
      cycles,
      sent: samples,
      wallMs: Math.max(...shards.map((s) => s.finishedAt)) - Math.min(...shards.map((s) => s.startedAt)),
      interrupted: false,
      info: shards[0]!.info,
      link: {
        window: Math.max(...shards.map((s) => s.link.window)),
        resends: sum((s) => s.link.resends),
        nakResends: sum((s) => s.link.nakResends),
        staleAnswers: sum((s) => s.link.staleAnswers),
        badFrames: sum((s) => s.link.badFrames),
        deviceBadFrames: sum((s) => s.link.deviceBadFrames),
        deviceBadFramesUnnamed: sum((s) => s.link.deviceBadFramesUnnamed),
        reconnects: sum((s) => s.link.reconnects),
        deviceTxDroppedBytes: [...dropped.values()].reduce((a, b) => a + b, 0),
        deviceLogLinesLost: sum((s) => s.link.deviceLogLinesLost),
      },
      deviceLog: shards.flatMap((s) => s.deviceLog.map((line) => `${s.worker}: ${line}`)),
    },
    shards,
  };
}

export interface MergeReportInput {
  readonly results: readonly ShardResult[];
  readonly samples: number;
  readonly model: Int8Model;
  readonly tfliteBytes: Uint8Array;
  readonly modelSha256: string;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly normalized: boolean;
  readonly board: string;
}

/** The merged report: validate's report over every shard's answers, plus the farm's own figures. */
export function mergeReport(input: MergeReportInput): MergeResult {
  const { answers, shards } = mergeAnswers(input.results, input.samples);
  const { report } = validationReport({
    answers,
    model: input.model,
    tfliteBytes: input.tfliteBytes,
    images: input.images,
    labels: input.labels,
    normalized: input.normalized,
    board: input.board,
  });
  return {
    report: {
      ...report,
      modelSha256: input.modelSha256,
      testDataSha256: shards[0]!.testDataSha256,
      outputsSha256: createHash('sha256').update(answers.outputs).digest('hex'),
      shards: shards.map((s) => ({
        first: s.first,
        count: s.count,
        worker: s.worker,
        attempt: s.attempt,
        stalls: s.stalls,
        wallSeconds: s.wallMs / 1000,
      })),
      workers: workerSummaries(shards, answers.cycles),
      firmware: shards.find((s) => s.firmware)?.firmware ?? null,
    },
    outputs: Buffer.from(answers.outputs.buffer, answers.outputs.byteOffset, answers.outputs.byteLength).toString('base64'),
  };
}

function workerSummaries(shards: readonly ShardResult[], cycles: Uint32Array): WorkerSummary[] {
  const byWorker = new Map<string, ShardResult[]>();
  for (const s of shards) byWorker.set(s.worker, [...(byWorker.get(s.worker) ?? []), s]);
  return [...byWorker.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([worker, list]) => {
      const samples = list.reduce((n, s) => n + s.count, 0);
      const wallMs = list.reduce((n, s) => n + s.wallMs, 0);
      const own = new Uint32Array(samples);
      let at = 0;
      for (const s of list) {
        own.set(cycles.subarray(s.first, s.first + s.count), at);
        at += s.count;
      }
      return {
        worker,
        port: list[0]!.port,
        runtime: list[0]!.info.runtime,
        board: list[0]!.info.board,
        shards: list.length,
        samples,
        samplesPerSec: wallMs > 0 ? samples / (wallMs / 1000) : 0,
        latencyCycles: percentiles(own),
      };
    });
}
