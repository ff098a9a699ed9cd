/**
 * int8 -> int8 SOFTMAX, bit-exact with TFLM's reference kernel.
 *
 * Reproduces (tensorflow/tflite-micro):
 * - prepare: tensorflow/lite/micro/kernels/softmax_common.cc CalculateSoftmaxParams
 *   (int8 in, int8 out), which calls PreprocessSoftmaxScaling and
 *   CalculateInputRadius from tensorflow/lite/kernels/internal/quantization_util.cc
 *   with kScaledDiffIntegerBits = 5.
 * - eval: tensorflow/lite/kernels/internal/reference/softmax.h, the quantized
 *   Softmax<int8_t, int8_t> template (gemmlowp fixed point, Q5.26 diffs,
 *   Q12.19 accumulator, GetReciprocal).
 *
 * CMSIS-NN arm_softmax_s8 (ARM-software/CMSIS-NN Source/SoftmaxFunctions/
 * arm_softmax_s8.c; on cores without MVE, e.g. Cortex-M4, it calls
 * arm_nn_softmax_common_s8.c) performs the same integer operations in the same
 * order with helpers from Include/arm_nnsupportfunctions.h that equal gemmlowp's
 * (arm_nn_doubling_high_mult = SRDHM, arm_nn_divide_by_power_of_two =
 * RoundingDivideByPOT, arm_nn_exp_on_negative_values, arm_nn_mult_by_power_of_two,
 * arm_nn_one_over_one_plus_x_for_x_in_0_1), and TFLM's cmsis_nn/softmax.cc feeds
 * it the multiplier, shift and diff_min from the same CalculateSoftmaxParams.
 * So it is bit-exact with this reference for int8 -> int8 (checked by reading
 * the source of CMSIS-NN main and of the copy in tflite-micro-arduino-examples).
 *
 * The x86 host TFLite interpreter does NOT run this algorithm for int8 softmax:
 * tensorflow/lite/kernels/activations.cc uses optimized_ops::Softmax with a
 * float lookup table (PopulateSoftmaxLookupTable), so host softmax outputs may
 * differ from TFLM's by a step; compare logits for bit-exactness.
 *
 * Float subtleties: beta and input_scale are float32 in the model; the C++
 * widens both to double and computes beta * scale * 2^26 in double, which is
 * exact (a product of two floats fits in 53 bits), then clamps it to 2^31 - 1.
 */
import type { QuantParams } from '../model/types.ts';
import { UnsupportedModelError } from '../errors.ts';
import {
  expOnNegativeValues,
  getReciprocal,
  multiplyByQuantizedMultiplierGreaterThanOne,
  quantizeMultiplierGreaterThanOne,
  rescale,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
  wrappingAdd,
} from './fixed-point.ts';

/** The only output quantization TFLM accepts for int8 softmax. */
export const SOFTMAX_INT8_OUTPUT: QuantParams = { scale: 1 / 256, zeroPoint: -128 };

const SCALED_DIFF_INTEGER_BITS = 5;
const ACCUMULATION_INTEGER_BITS = 12;

export interface PreparedSoftmaxInt8 {
  /** SoftmaxParams.input_multiplier (Q0.31). */
  readonly inputMultiplier: number;
  /** SoftmaxParams.input_left_shift (>= 0). */
  readonly inputLeftShift: number;
  /** SoftmaxParams.diff_min: inputs further than this below the row max give -128. */
  readonly diffMin: number;
}

/**
 * PreprocessSoftmaxScaling: min(beta * input_scale * 2^(31 - 5), 2^31 - 1) as
 * a double, then QuantizeMultiplierGreaterThanOne.
 */
export function preprocessSoftmaxScaling(
  beta: number,
  inputScale: number,
  inputIntegerBits: number,
): { multiplier: number; leftShift: number } {
  const maxRealMultiplier = 2147483647; // (1LL << 31) - 1.0 (double rounding build)
  const real = Math.min(beta * inputScale * 2 ** (31 - inputIntegerBits), maxRealMultiplier);
  const q = quantizeMultiplierGreaterThanOne(real);
  return { multiplier: q.multiplier, leftShift: q.shift };
}

/**
 * CalculateInputRadius (non-TFLITE_EMULATE_FLOAT):
 * floor((2^bits - 1) * 2^(total - bits) / 2^leftShift), in double.
 */
export function calculateInputRadius(
  inputIntegerBits: number,
  inputLeftShift: number,
  totalSignedBits = 31,
): number {
  const maxInputRescaled =
    (1.0 * (2 ** inputIntegerBits - 1) * 2 ** (totalSignedBits - inputIntegerBits)) /
    2 ** inputLeftShift;
  return Math.floor(maxInputRescaled);
}

/**
 * Prepare-time data for an int8 -> int8 softmax.
 * @param inputParams quantization of the softmax input (the logits)
 * @param beta        SoftmaxOptions.beta (stored as float32; rounded here)
 * @throws UnsupportedModelError where TFLM's prepare would fail (beta * scale too small)
 */
export function prepareSoftmaxInt8(inputParams: QuantParams, beta: number): PreparedSoftmaxInt8 {
  const scale = Math.fround(inputParams.scale);
  const betaF = Math.fround(beta);
  let scaling: { multiplier: number; leftShift: number };
  try {
    scaling = preprocessSoftmaxScaling(betaF, scale, SCALED_DIFF_INTEGER_BITS);
  } catch (error) {
    throw new UnsupportedModelError(
      `softmax: beta ${betaF} times input scale ${scale} is too small for TFLM's int8 softmax ` +
        '(beta * scale * 2^26 must exceed 1)',
      { cause: error },
    );
  }
  const diffMin = -1.0 * calculateInputRadius(SCALED_DIFF_INTEGER_BITS, scaling.leftShift);
  return { inputMultiplier: scaling.multiplier, inputLeftShift: scaling.leftShift, diffMin };
}

/**
 * reference_ops::Softmax<int8_t, int8_t> on one row: `input` and `output` have
 * the same length (the class count). Output is quantized with scale 1/256 and
 * zero point -128.
 */
export function softmaxInt8(
  prepared: PreparedSoftmaxInt8,
  input: Int8Array,
  output: Int8Array,
): void {
  const depth = input.length;
  if (output.length !== depth) {
    throw new RangeError(`softmax: output length ${output.length} != input length ${depth}`);
  }
  if (depth === 0) return;
  const { inputMultiplier, inputLeftShift, diffMin } = prepared;

  let maxInRow = -128;
  for (let c = 0; c < depth; c++) if (input[c]! > maxInRow) maxInRow = input[c]!;

  // exp(beta * scale * (x - max)) in Q0.31 for the inputs within diffMin of the
  // max (the rest contribute nothing); TFLM computes it twice, once per loop.
  const exps = new Int32Array(depth);
  let sumOfExps = 0; // Q12.19
  for (let c = 0; c < depth; c++) {
    const inputDiff = input[c]! - maxInRow;
    if (inputDiff >= diffMin) {
      const scaledDiff = multiplyByQuantizedMultiplierGreaterThanOne(
        inputDiff,
        inputMultiplier,
        inputLeftShift,
      ); // Q5.26
      exps[c] = expOnNegativeValues(scaledDiff, SCALED_DIFF_INTEGER_BITS);
      sumOfExps = wrappingAdd(sumOfExps, rescale(exps[c]!, 0, ACCUMULATION_INTEGER_BITS));
    }
  }

  const { scale: shiftedScale, numBitsOverUnit } = getReciprocal(
    sumOfExps,
    ACCUMULATION_INTEGER_BITS,
  );
  const exponent = numBitsOverUnit + 31 - 8;
  if (!(exponent >= 0 && exponent <= 31)) {
    throw new RangeError(`softmax: exponent ${exponent} outside [0, 31]`);
  }

  for (let c = 0; c < depth; c++) {
    const inputDiff = input[c]! - maxInRow;
    if (inputDiff >= diffMin) {
      const unsat = roundingDivideByPOT(saturatingRoundingDoublingHighMul(shiftedScale, exps[c]!), exponent);
      const shifted = unsat - 128;
      output[c] = shifted > 127 ? 127 : shifted < -128 ? -128 : shifted;
    } else {
      output[c] = -128;
    }
  }
}
