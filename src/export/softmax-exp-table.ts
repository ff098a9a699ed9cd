/**
 * The int8 softmax's exponentials, computed at export time so that the
 * Cortex-M4 firmware reads them from flash beside the model array
 * (`g_model_softmax_exp` in model_data.cc) instead of building a 1 KB table in
 * static RAM at init. They depend only on the softmax's prepared input
 * multiplier and shift, which the table records so that the firmware can check
 * that it belongs to the model it loads.
 *
 * Entry k is exp_on_negative_values(MultiplyByQuantizedMultiplierGreaterThanOne(-k))
 * in Q0.31 (the exponential of an input k steps below its row's max), exactly
 * as TFLM's reference Softmax<int8_t, int8_t> computes it, for k = 0 .. count - 1
 * with count <= min(256, 1 - diff_min) (an int8 row has at most 256 distinct
 * differences from its max; beyond -diff_min the kernel gives -128). Trailing
 * entries below 2^11 are left out: they add (e + 2^11) >> 12 = 0 to the Q12.19
 * sum, and their output, RoundingDivideByPOT(SRDHM(scale, e), exponent) with
 * exponent >= 23, is 0 - 128, both exactly what an out-of-range difference
 * gives.
 *
 * Layout (int32 words): tables one after the other, each
 * [input_multiplier, input_left_shift, count, e_0 .. e_count-1], ended by
 * [0, 0, 0]. The firmware's model array has one (none without softmax); a
 * program that loads models at run time (the golden runner) is built with the
 * tables of every model it will load, and the kernel takes the one whose
 * multiplier and shift are its model's.
 */
import type { Int8Model } from '../model/types.ts';
import { expOnNegativeValues, multiplyByQuantizedMultiplierGreaterThanOne } from '../reference/fixed-point.ts';
import { prepareSoftmaxInt8, type PreparedSoftmaxInt8 } from '../reference/softmax.ts';

/** gemmlowp's integer bits of the scaled differences (softmax_common.cc kScaledDiffIntegerBits). */
const SCALED_DIFF_INTEGER_BITS = 5;
/** An exponential below this adds nothing to the Q12.19 sum and rounds to output -128. */
const SMALLEST_KEPT = 2 ** 11;

export interface SoftmaxExpTable {
  readonly inputMultiplier: number;
  readonly inputLeftShift: number;
  /** Q0.31 exponentials, entry k for a difference of k below the row max. */
  readonly exps: Int32Array;
}

/** The table for one prepared softmax (see the module comment). */
export function softmaxExpTable(prepared: PreparedSoftmaxInt8): SoftmaxExpTable {
  const span = Math.min(256, 1 - prepared.diffMin);
  const all = new Int32Array(span);
  let count = 0;
  for (let k = 0; k < span; k++) {
    const scaled = multiplyByQuantizedMultiplierGreaterThanOne(-k, prepared.inputMultiplier, prepared.inputLeftShift);
    all[k] = expOnNegativeValues(scaled, SCALED_DIFF_INTEGER_BITS);
    if (all[k]! >= SMALLEST_KEPT) count = k + 1;
  }
  return { inputMultiplier: prepared.inputMultiplier, inputLeftShift: prepared.inputLeftShift, exps: all.slice(0, count) };
}

/** The table of `model`'s softmax, or null when it ends without one. */
export function modelSoftmaxExpTable(model: Int8Model): SoftmaxExpTable | null {
  if (model.softmax === null) return null;
  const logits = model.layers[model.layers.length - 1]!.output;
  return softmaxExpTable(prepareSoftmaxInt8(logits, model.softmax.beta));
}

/** The int32 words the firmware reads (see the module comment): each table once, then [0, 0, 0]. */
export function softmaxExpTableWords(tables: readonly (SoftmaxExpTable | null)[]): Int32Array {
  const words: number[] = [];
  const seen = new Set<string>();
  for (const t of tables) {
    if (t === null || seen.has(`${t.inputMultiplier}/${t.inputLeftShift}`)) continue;
    seen.add(`${t.inputMultiplier}/${t.inputLeftShift}`);
    words.push(t.inputMultiplier, t.inputLeftShift, t.exps.length, ...t.exps);
  }
  return Int32Array.from([...words, 0, 0, 0]);
}
