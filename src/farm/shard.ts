/**
 * One shard on one board: the range's test images sent through the device link
 * by validate's own collectAnswers, and the raw answers encoded for Redis. The
 * report is computed once, when the shards are merged (merge.ts), by validate's
 * validationReport from these answers.
 */
import { collectAnswers, type LinkCounts } from '../validate/validate.ts';
import { InterruptedError } from '../device/errors.ts';
import type { DeviceLink, LinkStats } from '../device/link.ts';
import type { Int8Model } from '../model/types.ts';
import type { DeviceInfo } from '../protocol/frames.ts';
import type { FirmwareSizes } from './device.ts';

/** What a shard job returns (BullMQ stores it as the job's return value, once). */
export interface ShardResult {
  readonly first: number;
  readonly count: number;
  readonly width: number;
  /** count*width int8 outputs, base64. */
  readonly outputs: string;
  /** RESULT top-1 fields, count bytes, base64. */
  readonly top1: string;
  /** Cycles per sample, count little-endian uint32, base64. */
  readonly cycles: string;
  readonly wallMs: number;
  /** This shard's share of the link's record (a worker's link serves many shards). */
  readonly link: LinkCounts;
  /** Device log lines received during this shard (on a fresh link, its boot lines too). */
  readonly deviceLog: readonly string[];
  readonly info: DeviceInfo;
  /** The firmware's flash and RAM, when the worker built it (null: the board already ran the model). */
  readonly firmware: FirmwareSizes | null;
  readonly worker: string;
  readonly port: string;
  /** Which attempt produced this result (1 = first), and how often the job stalled before. */
  readonly attempt: number;
  readonly stalls: number;
  /** SHA-256 of the worker's test set (images then labels), so a merge can refuse mixed data. */
  readonly testDataSha256: string;
  readonly startedAt: number;
  readonly finishedAt: number;
}

/** A link's lifetime counters and log length at some point: the next shard on it counts from there. */
export interface LinkMark {
  readonly stats: Readonly<LinkStats>;
  readonly logLines: number;
}

export function markLink(link: DeviceLink): LinkMark {
  return { stats: { ...link.stats }, logLines: link.deviceLog.length };
}

export interface RunShardInput {
  readonly link: DeviceLink;
  readonly info: DeviceInfo;
  readonly model: Int8Model;
  readonly tfliteBytes: Uint8Array;
  /** The whole test set's raw pixels; the shard reads [first, first+count). */
  readonly images: Uint8Array;
  readonly normalized: boolean;
  readonly first: number;
  readonly count: number;
  readonly window?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
  /** Where the previous shard on this link left its counters; none for a fresh link. */
  readonly since?: LinkMark;
}

export type ShardAnswers = Pick<ShardResult, 'first' | 'count' | 'width' | 'outputs' | 'top1' | 'cycles' | 'wallMs' | 'link' | 'deviceLog'>;

/**
 * @throws InterruptedError when `signal` stops it (a shard is all or nothing);
 *         DeviceModelError and the link's errors
 */
export async function runShard(input: RunShardInput): Promise<ShardAnswers> {
  const { model, first, count } = input;
  const inSize = model.layers[0]!.inputSize;
  if (input.images.length < (first + count) * inSize) throw new RangeError(`runShard: samples ${first}..${first + count - 1} are past the data`);
  const a = await collectAnswers({
    link: input.link,
    info: input.info,
    model,
    tfliteBytes: input.tfliteBytes,
    images: input.images.subarray(first * inSize, (first + count) * inSize),
    count,
    normalized: input.normalized,
    window: input.window,
    signal: input.signal,
    onProgress: input.onProgress,
  });
  if (a.interrupted) throw new InterruptedError(`shard ${first}..${first + count - 1} interrupted`);
  const was = input.since?.stats;
  return {
    first,
    count,
    width: a.width,
    outputs: toBase64(a.outputs),
    top1: toBase64(a.top1),
    cycles: toBase64(littleEndian(a.cycles)),
    wallMs: a.wallMs,
    link: {
      ...a.link,
      badFrames: a.link.badFrames - (was?.badFrames ?? 0),
      deviceBadFrames: a.link.deviceBadFrames - (was?.deviceBadFrames ?? 0),
      deviceBadFramesUnnamed: a.link.deviceBadFramesUnnamed - (was?.deviceBadFramesUnnamed ?? 0),
      deviceLogLinesLost: a.link.deviceLogLinesLost - (was?.logLinesLost ?? 0),
    },
    deviceLog: a.deviceLog.slice(input.since?.logLines ?? 0),
  };
}

function toBase64(a: ArrayBufferView): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function littleEndian(values: Uint32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v, true));
  return out;
}

export function decodeInt8(b64: string): Int8Array {
  const b = Buffer.from(b64, 'base64');
  return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function decodeUint8(b64: string): Uint8Array {
  const b = Buffer.from(b64, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function decodeUint32(b64: string): Uint32Array {
  const b = Buffer.from(b64, 'base64');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Uint32Array.from({ length: b.byteLength / 4 }, (_, i) => view.getUint32(i * 4, true));
}
