/**
 * One shard on one board: the range's test images quantized exactly as the
 * reference does (validateOnDevice's way), sent through the existing DeviceLink,
 * and the raw answers encoded for Redis. The report is computed once, when the
 * shards are merged (merge.ts), from these answers.
 */
import { quantizeInput } from '../reference/int8-interpreter.ts';
import { checkDeviceInfo } from '../validate/validate.ts';
import type { DeviceLink } from '../device/link.ts';
import type { Int8Model } from '../model/types.ts';
import type { DeviceInfo } from '../protocol/frames.ts';

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
  readonly resends: number;
  /** Of those, resends for a NAK or a damaged answer naming the request (protocol v3). */
  readonly nakResends: number;
  readonly staleAnswers: number;
  readonly badFrames: number;
  readonly deviceBadFrames: number;
  readonly info: DeviceInfo;
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
}

export type ShardAnswers = Pick<ShardResult, 'first' | 'count' | 'width' | 'outputs' | 'top1' | 'cycles' | 'wallMs' | 'resends' | 'nakResends' | 'staleAnswers'>;

export async function runShard(input: RunShardInput): Promise<ShardAnswers> {
  const { model, first, count } = input;
  checkDeviceInfo(input.info, model, input.tfliteBytes, `the device on ${input.link.transport.description}`);
  const inSize = model.layers[0]!.inputSize;
  if (input.images.length < (first + count) * inSize) throw new RangeError(`runShard: samples ${first}..${first + count - 1} are past the data`);
  const quantized = new Int8Array(count * inSize);
  const samples: Int8Array[] = [];
  for (let s = 0; s < count; s++) {
    const view = quantized.subarray(s * inSize, (s + 1) * inSize);
    quantizeInput(input.images, (first + s) * inSize, model.input, input.normalized, inSize, view);
    samples.push(view);
  }
  const r = await input.link.infer(samples, { window: input.window, signal: input.signal, onProgress: input.onProgress });
  return {
    first,
    count,
    width: r.width,
    outputs: toBase64(r.outputs),
    top1: toBase64(r.top1),
    cycles: toBase64(littleEndian(r.cycles)),
    wallMs: r.wallMs,
    resends: r.resends,
    nakResends: r.nakResends,
    staleAnswers: r.staleAnswers,
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
