/**
 * The per-sample evidence of a validation, kept small enough for validation.json:
 * labels and top-1 classes (device, host int8, float) for confusion matrices and
 * per-class accuracy, cycles for a latency histogram, and the first samples whose
 * device outputs differ from the host's, with their pixels, to look at.
 */
import { argmax } from '../evaluate/compare.ts';
import type { SampleOutputs } from './validate.ts';

export interface SampleExample {
  readonly index: number;
  readonly label: number;
  /** The device's int8 outputs, and the host int8 model's (TFLite, else the reference). */
  readonly device: readonly number[];
  readonly host: readonly number[];
  /** 28x28 raw pixels, base64. */
  readonly pixels: string;
}

export interface ValidationDetail {
  /** Which host int8 run `hostTop1` and the examples' `host` come from. */
  readonly host: 'tflite' | 'reference';
  readonly labels: readonly number[];
  readonly deviceTop1: readonly number[];
  readonly hostTop1: readonly number[];
  readonly floatTop1: readonly number[] | null;
  readonly cycles: readonly number[];
  /** First samples whose device outputs differ from the host's in any byte. */
  readonly differing: readonly SampleExample[];
  /** First samples the device classifies wrongly. */
  readonly misclassified: readonly SampleExample[];
}

export interface DetailInput {
  readonly outputs: SampleOutputs;
  readonly labels: Uint8Array;
  /** Raw pixels, `inSize` per sample. */
  readonly images: Uint8Array;
  readonly inSize: number;
  readonly floatTop1?: Uint8Array;
  /** How many examples of each kind to keep (default 8). */
  readonly examples?: number;
}

export function validationDetail(input: DetailInput): ValidationDetail {
  const { count, width, device, cycles } = input.outputs;
  const hostOutputs = input.outputs.tflite ?? input.outputs.reference;
  const keep = input.examples ?? 8;
  const row = (a: Int8Array, s: number) => Array.from(a.subarray(s * width, (s + 1) * width));
  const example = (s: number): SampleExample => ({
    index: s,
    label: input.labels[s]!,
    device: row(device, s),
    host: row(hostOutputs, s),
    pixels: Buffer.from(input.images.subarray(s * input.inSize, (s + 1) * input.inSize)).toString('base64'),
  });
  const deviceTop1: number[] = [];
  const hostTop1: number[] = [];
  const differing: SampleExample[] = [];
  const misclassified: SampleExample[] = [];
  for (let s = 0; s < count; s++) {
    const d = argmax(device, s * width, width);
    deviceTop1.push(d);
    hostTop1.push(argmax(hostOutputs, s * width, width));
    if (differing.length < keep && row(device, s).some((v, k) => v !== hostOutputs[s * width + k])) differing.push(example(s));
    if (misclassified.length < keep && d !== input.labels[s]) misclassified.push(example(s));
  }
  return {
    host: input.outputs.tflite ? 'tflite' : 'reference',
    labels: Array.from(input.labels.subarray(0, count)),
    deviceTop1,
    hostTop1,
    floatTop1: input.floatTop1 ? Array.from(input.floatTop1.subarray(0, count)) : null,
    cycles: Array.from(cycles.subarray(0, count)),
    differing,
    misclassified,
  };
}
