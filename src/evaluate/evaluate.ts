/**
 * Runs one int8 model three ways over the same samples and says how they agree:
 * our TypeScript reference (TFLM's arithmetic), the real TFLite interpreter, and
 * (through the caller) the float model.
 *
 * TFLite 2.9 on x86 rounds an exact negative tie in the last rounding shift of a
 * FULLY_CONNECTED output toward +infinity where TFLM rounds it away from zero.
 * Rather than loosen the comparison, we run the reference a second time with
 * TFLite's tie rule: that run must equal TFLite exactly on every output, and
 * every sample where TFLM's rule gives other logits must have hit such a tie.
 */
import type { Int8Model } from '../model/types.ts';
import { Int8Interpreter, quantizeInput } from '../reference/interpreter.ts';
import { TfliteInterpreter } from '../tflite/interpreter.ts';
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
  /** Fraction of samples where the reference with TFLite's tie rule equals TFLite exactly (logits and output). */
  readonly tfliteRuleExactAgreement: number;
}

export interface EvaluationReport {
  readonly samples: number;
  readonly floatAccuracy: number | null;
  /** Accuracy of the TypeScript reference, i.e. of TFLM on a board. */
  readonly int8Accuracy: number;
  readonly tfliteAccuracy: number;
  /** Reference vs TFLite on the model output (softmax). */
  readonly top1Agreement: number;
  readonly exactAgreement: number;
  readonly maxAbsDiff: number;
  readonly output: OutputComparison;
  /** Reference vs TFLite on the logits-only variant of the model (FULLY_CONNECTED arithmetic alone). */
  readonly logits: OutputComparison;
  readonly ties: TieProof;
  /** Top-1 agreement between the float model and the int8 reference. */
  readonly floatInt8Top1Agreement: number | null;
  readonly tfliteVersion: string;
}

export function evaluateInt8(input: EvaluationInput): EvaluationReport {
  const { model, count, images, labels } = input;
  const inSize = model.layers[0].inputSize;
  const width = model.layers[model.layers.length - 1].outputSize;
  if (images.length < count * inSize || labels.length < count) {
    throw new RangeError(`evaluateInt8: ${count} samples requested, data holds fewer`);
  }

  const tflm = new Int8Interpreter(model, { ties: 'away-from-zero' });
  const tfliteRule = new Int8Interpreter(model, { ties: 'toward-positive' });
  const tflite = TfliteInterpreter.load(input.tflite, { threads: 1 });
  const tfliteLogits = TfliteInterpreter.load(writeTflite(logitsOnly(model)), { threads: 1 });
  try {
    const out = {
      tflm: new Int8Array(count * width),
      tflmLogits: new Int8Array(count * width),
      rule: new Int8Array(count * width),
      ruleLogits: new Int8Array(count * width),
      tflite: new Int8Array(count * width),
      tfliteLogits: new Int8Array(count * width),
    };
    const ties = new Uint32Array(count);
    for (let s = 0; s < count; s++) {
      const q = quantizeInput(images, s * inSize, model.input, input.normalized);
      const a = tflm.run(q);
      out.tflm.set(a.output, s * width);
      out.tflmLogits.set(a.logits, s * width);
      ties[s] = a.negativeTies;
      const b = tfliteRule.run(q);
      out.rule.set(b.output, s * width);
      out.ruleLogits.set(b.logits, s * width);
      out.tflite.set(tflite.run(q) as Int8Array, s * width);
      out.tfliteLogits.set(tfliteLogits.run(q) as Int8Array, s * width);
    }

    const output = compareOutputs(out.tflm, out.tflite, count, width);
    const logits = compareOutputs(out.tflmLogits, out.tfliteLogits, count, width);
    let negativeTies = 0;
    let samplesWithTies = 0;
    let unexplained = 0;
    let ruleExact = 0;
    for (let s = 0; s < count; s++) {
      negativeTies += ties[s];
      if (ties[s] > 0) samplesWithTies++;
      const lo = s * width;
      const hi = lo + width;
      if (ties[s] === 0 && !sameRange(out.tflmLogits, out.tfliteLogits, lo, hi)) unexplained++;
      if (sameRange(out.rule, out.tflite, lo, hi) && sameRange(out.ruleLogits, out.tfliteLogits, lo, hi)) ruleExact++;
    }

    const int8Top1 = top1All(out.tflm, count, width);
    const label = labels.subarray(0, count);
    let floatAgree: number | null = null;
    if (input.floatTop1) {
      let same = 0;
      for (let s = 0; s < count; s++) if (input.floatTop1[s] === int8Top1[s]) same++;
      floatAgree = count ? same / count : 0;
    }
    return {
      samples: count,
      floatAccuracy: input.floatTop1 ? accuracy(input.floatTop1.subarray(0, count), label) : null,
      int8Accuracy: accuracy(int8Top1, label),
      tfliteAccuracy: accuracy(top1All(out.tflite, count, width), label),
      top1Agreement: output.top1Agreement,
      exactAgreement: output.exactAgreement,
      maxAbsDiff: output.maxAbsDiff,
      output,
      logits,
      ties: {
        negativeTies,
        samplesWithTies,
        unexplainedLogitDiffs: unexplained,
        tfliteRuleExactAgreement: count ? ruleExact / count : 0,
      },
      floatInt8Top1Agreement: floatAgree,
      tfliteVersion: tflite.version,
    };
  } finally {
    tflite.close();
    tfliteLogits.close();
  }
}

function sameRange(a: Int8Array, b: Int8Array, lo: number, hi: number): boolean {
  for (let i = lo; i < hi; i++) if (a[i] !== b[i]) return false;
  return true;
}
