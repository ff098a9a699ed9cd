/**
 * Seed inputs for the fuzzers, generated (never committed as binaries): a few
 * small valid int8 .tflite files written by our writer, and a few valid frames
 * as the host sends them. Deterministic: the same bytes on every run.
 */
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

/** Frames as the host sends them to that device: HELLO, INFER (right and wrong sizes), several at once. */
export function seedFrames(inputBytes: number): Array<{ name: string; bytes: Uint8Array }> {
  const input = Int8Array.from({ length: inputBytes }, (_, i) => ((i * 37) % 256) - 128);
  const hello = encodeFrame({ type: 'hello', seq: 1 });
  const infer = encodeFrame({ type: 'infer', seq: 2, input });
  const short = encodeFrame({ type: 'infer', seq: 3, input: input.subarray(0, inputBytes - 1) });
  const error = encodeFrame({ type: 'error', seq: 4, code: 1, detail: 0 });
  return [
    { name: 'hello', bytes: hello },
    { name: 'infer', bytes: infer },
    { name: 'infer_short', bytes: short },
    { name: 'error_from_host', bytes: error },
    { name: 'hello_infer_infer', bytes: Uint8Array.from([...hello, ...infer, ...infer]) },
    { name: 'noise_then_hello', bytes: Uint8Array.from([0x13, 0x37, 0x00, ...hello]) },
  ];
}
