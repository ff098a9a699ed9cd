/**
 * Runs one int8 model three ways over the same samples and says how they agree:
 * our TypeScript reference (TFLM's arithmetic), the real TFLite interpreter, and
 * (through the caller) the float model.
 *
 * FULLY_CONNECTED: TFLite 2.9 on x86 rounds an exact negative tie in the last
 * rounding shift toward +infinity where TFLM rounds it away from zero. Rather
 * than loosen the comparison, we run the reference a second time with TFLite's
 * tie rule: its logits must equal TFLite's exactly, and every sample whose
 * logits differ under TFLM's rule must have hit such a tie.
 *
 * SOFTMAX: TFLite's host kernel uses a float lookup table where TFLM uses
 * gemmlowp fixed point, so the two may differ by a step even on equal logits;
 * we report how often and by how much, and the reference follows TFLM.
 */
import type { Int8Model } from '../model/types.ts';
import { Int8Interpreter, quantizeInput } from '../reference/int8-interpreter.ts';
import type { TieRounding } from '../reference/fixed-point.ts';
import { TfliteInterpreter, tfliteVersion } from '../tflite/tflite-runtime.ts';
import { writeTflite } from '../tflite/writer.ts';
import { logitsOnly } from '../quantize/quantize.ts';
import { accuracy, compareOutputs, top1All, type OutputComparison } from './compare.ts';

export interface EvaluationInput {
  readonly model: Int8Model;
  /** The .tflite bytes of `model` (what the TFLite interpreter loads). */
  readonly tflite: Uint8Array;
  /** Raw 0..255 pixels, `count` images back to back. */
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
  /** True when the model expects pixels / 255. */
  readonly normalized: boolean;
  /** Top-1 classes of the float model for the same samples, when known. */
  readonly floatTop1?: Uint8Array;
}

export interface TieProof {
  /** FULLY_CONNECTED outputs (over all layers and samples) that were an exact negative tie. */
  readonly negativeTies: number;
  /** Samples in which at least one such tie occurred. */
  readonly samplesWithTies: number;
  /** Samples whose TFLM logits differ from TFLite's although no tie occurred (must be 0). */
  readonly unexplainedLogitDiffs: number;
  /** Fraction of samples whose logits, computed by the reference with TFLite's tie rule, equal TFLite's exactly. */
  readonly tfliteRuleLogitsAgreement: number;
  /** Samples with equal logits but a different softmax output (TFLite's lookup-table softmax vs TFLM's). */
  readonly softmaxOnlyDiffs: number;
}

export interface EvaluationReport {
  readonly samples: number;
  readonly floatAccuracy: number | null;
  /** Accuracy of the TypeScript reference, i.e. of TFLM on a board. */
  readonly int8Accuracy: number;
  /** The TFLite figures are null when TFLite cannot check the model (see `tfliteSkipped`). */
  readonly tfliteAccuracy: number | null;
  /** Reference vs TFLite on the model output (softmax). */
  readonly top1Agreement: number | null;
  readonly exactAgreement: number | null;
  readonly maxAbsDiff: number | null;
  readonly output: OutputComparison | null;
  /** Reference vs TFLite on the logits-only variant of the model (FULLY_CONNECTED arithmetic alone). */
  readonly logits: OutputComparison | null;
  readonly ties: TieProof | null;
  /** Why TFLite was not compared, or null when it was. */
  readonly tfliteSkipped: string | null;
  /** Top-1 agreement between the float model and the int8 reference. */
  readonly floatInt8Top1Agreement: number | null;
  readonly tfliteVersion: string;
}

/** Why the host TFLite cannot serve as the oracle for this model, or null when it can. */
export function tfliteLimitation(model: Int8Model): string | null {
  return model.layers.some((l) => l.weightScales.length > 1)
    ? 'TFLite 2.9 FULLY_CONNECTED ignores per-channel weight scales, so it cannot check a --per-channel model'
    : null;
}

interface RunOutputs {
  readonly output: Int8Array;
  readonly logits: Int8Array;
}

/** Runs the reference over all samples; `ties` collects the per-sample negative-tie counts. */
function runReference(input: EvaluationInput, rule: TieRounding, ties?: Uint32Array): RunOutputs {
  const { model, count, images } = input;
  const inSize = model.layers[0].inputSize;
  const width = model.layers[model.layers.length - 1].outputSize;
  const interp = new Int8Interpreter(model, { ties: rule });
  const output = new Int8Array(count * width);
  const logits = new Int8Array(count * width);
  for (let s = 0; s < count; s++) {
    const r = interp.run(quantizeInput(images, s * inSize, model.input, input.normalized, inSize));
    output.set(r.output, s * width);
    logits.set(r.logits, s * width);
    if (ties) ties[s] = r.negativeTies;
  }
  return { output, logits };
}

function quantizeAll(input: EvaluationInput): Int8Array {
  const inSize = input.model.layers[0].inputSize;
  const all = new Int8Array(input.count * inSize);
  for (let s = 0; s < input.count; s++) {
    all.set(quantizeInput(input.images, s * inSize, input.model.input, input.normalized, inSize), s * inSize);
  }
  return all;
}

function runTflite(bytes: Uint8Array, inputs: Int8Array): { outputs: Int8Array; version: string } {
  const interp = TfliteInterpreter.load(bytes, { threads: 1 });
  try {
    return { outputs: interp.runBatch(inputs), version: interp.version };
  } finally {
    interp.close();
  }
}

export function evaluateInt8(input: EvaluationInput): EvaluationReport {
  const { model, count, images, labels } = input;
  const inSize = model.layers[0].inputSize;
  const width = model.layers[model.layers.length - 1].outputSize;
  if (images.length < count * inSize || labels.length < count) {
    throw new RangeError(`evaluateInt8: ${count} samples requested, data holds fewer`);
  }
  const label = labels.subarray(0, count);
  const ties = new Uint32Array(count);
  const tflm = runReference(input, 'away-from-zero', ties);
  const int8Top1 = top1All(tflm.output, count, width);
  let floatAgree: number | null = null;
  if (input.floatTop1) {
    let same = 0;
    for (let s = 0; s < count; s++) if (input.floatTop1[s] === int8Top1[s]) same++;
    floatAgree = count ? same / count : 0;
  }
  const host = {
    samples: count,
    floatAccuracy: input.floatTop1 ? accuracy(input.floatTop1.subarray(0, count), label) : null,
    int8Accuracy: accuracy(int8Top1, label),
    floatInt8Top1Agreement: floatAgree,
  };

  const skipped = tfliteLimitation(model);
  if (skipped) {
    return {
      ...host,
      tfliteAccuracy: null,
      top1Agreement: null,
      exactAgreement: null,
      maxAbsDiff: null,
      output: null,
      logits: null,
      ties: null,
      tfliteSkipped: skipped,
      tfliteVersion: tfliteVersion(),
    };
  }

  const quantized = quantizeAll(input);
  const tflite = runTflite(input.tflite, quantized);
  const tfliteLogits = runTflite(writeTflite(logitsOnly(model)), quantized).outputs;
  const rule = runReference(input, 'toward-positive');
  const hasSoftmax = model.softmax !== null;

  const output = compareOutputs(tflm.output, tflite.outputs, count, width);
  const logits = compareOutputs(tflm.logits, tfliteLogits, count, width);
  let negativeTies = 0;
  let samplesWithTies = 0;
  let unexplained = 0;
  let ruleExact = 0;
  let softmaxOnly = 0;
  for (let s = 0; s < count; s++) {
    negativeTies += ties[s];
    if (ties[s] > 0) samplesWithTies++;
    const lo = s * width;
    const hi = lo + width;
    const logitsEqual = sameRange(tflm.logits, tfliteLogits, lo, hi);
    if (ties[s] === 0 && !logitsEqual) unexplained++;
    if (sameRange(rule.logits, tfliteLogits, lo, hi)) ruleExact++;
    if (hasSoftmax && logitsEqual && !sameRange(tflm.output, tflite.outputs, lo, hi)) softmaxOnly++;
  }
  return {
    ...host,
    tfliteAccuracy: accuracy(top1All(tflite.outputs, count, width), label),
    top1Agreement: output.top1Agreement,
    exactAgreement: output.exactAgreement,
    maxAbsDiff: output.maxAbsDiff,
    output,
    logits,
    ties: {
      negativeTies,
      samplesWithTies,
      unexplainedLogitDiffs: unexplained,
      tfliteRuleLogitsAgreement: count ? ruleExact / count : 0,
      softmaxOnlyDiffs: softmaxOnly,
    },
    tfliteSkipped: null,
    tfliteVersion: tflite.version,
  };
}

function sameRange(a: Int8Array, b: Int8Array, lo: number, hi: number): boolean {
  for (let i = lo; i < hi; i++) if (a[i] !== b[i]) return false;
  return true;
}
