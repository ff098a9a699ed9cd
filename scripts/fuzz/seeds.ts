/**
 * Seed inputs for the fuzzers, generated (never committed as binaries): a few
 * small valid int8 .tflite files written by our writer, and a few valid frames
 * as the host sends them. Deterministic: the same bytes on every run.
 */
import { crc32 } from '../../src/protocol/crc32.ts';
import { encodeFrame } from '../../src/protocol/frames.ts';
import { writeTflite } from '../../src/tflite/writer.ts';
import type { Int8Model } from '../../src/model/types.ts';
import { randomInt8Model } from '../golden-vectors.ts';

export const FUZZ_SEED = 20261205;

/** Small models: per-tensor and per-channel, with and without softmax, 1 to 3 layers. */
export function seedModels(): Array<{ name: string; model: Int8Model; bytes: Uint8Array }> {
  const specs: Array<[string, number[], { perChannel?: boolean; softmax?: boolean }]> = [
    ['pt_16_8_4', [16, 8, 4], {}],
    ['pc_12_6_3', [12, 6, 3], { perChannel: true }],
    ['logits_10_5', [10, 5], { softmax: false }],
    ['deep_8_4_4_3', [8, 4, 4, 3], {}],
  ];
  return specs.map(([name, widths, options], i) => {
    const model = randomInt8Model(name, widths, FUZZ_SEED + i, options);
    return { name, model, bytes: writeTflite(model) };
  });
}

/** The model the frame target's device runs (app_init), so INFER frames reach the kernels. */
export function frameTargetModel(): { model: Int8Model; bytes: Uint8Array } {
  return seedModels()[0]!;
}

/** Frames as the host sends them to that device: HELLO, an input in chunks and its INFER_RUN (right and wrong), several at once. */
export function seedFrames(inputBytes: number): Array<{ name: string; bytes: Uint8Array }> {
  const input = Int8Array.from({ length: inputBytes }, (_, i) => ((i * 37) % 256) - 128);
  const raw = new Uint8Array(input.buffer, input.byteOffset, input.length);
  const hello = encodeFrame({ type: 'hello', seq: 1, nonce: 0x5eed });
  const chunks = Buffer.concat(
    Array.from({ length: Math.ceil(inputBytes / 256) }, (_, k) =>
      encodeFrame({ type: 'infer-chunk', seq: 10 + k, slot: 0, offset: 256 * k, data: raw.subarray(256 * k, 256 * k + 256) }),
    ),
  );
  const run = encodeFrame({ type: 'infer-run', seq: 2, slot: 0, encoding: 0, length: inputBytes, crc32: crc32(raw) });
  const badCrc = encodeFrame({ type: 'infer-run', seq: 3, slot: 0, encoding: 0, length: inputBytes, crc32: crc32(raw) ^ 1 });
  const error = encodeFrame({ type: 'error', seq: 4, code: 1, detail: 0 });
  return [
    { name: 'hello', bytes: hello },
    { name: 'chunks_run', bytes: Uint8Array.from([...chunks, ...run]) },
    { name: 'run_alone', bytes: run },
    { name: 'chunks_bad_crc', bytes: Uint8Array.from([...chunks, ...badCrc]) },
    { name: 'error_from_host', bytes: error },
    { name: 'hello_chunks_run_run', bytes: Uint8Array.from([...hello, ...chunks, ...run, ...run]) },
    { name: 'noise_then_hello', bytes: Uint8Array.from([0x13, 0x37, 0x00, ...hello]) },
  ];
}
