/**
 * int8 FULLY_CONNECTED, bit-exact with TFLM's reference kernel.
 *
 * Reproduces (tensorflow/tflite-micro):
 * - prepare: tensorflow/lite/micro/kernels/fully_connected_common.cc
 *   CalculateOpDataFullyConnected, with GetQuantizedConvolutionMultipler and
 *   CalculateActivationRangeQuantized from tensorflow/lite/kernels/kernel_util.cc.
 * - eval: tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h
 *   FullyConnected (per-tensor) and FullyConnectedPerChannel (the overload
 *   taking per-channel multiplier/shift arrays, which micro/kernels/fully_connected.cc uses).
 *
 * Float subtleties of the prepare step (scales are float32 in the model):
 * - per-tensor: input_scale * filter_scale is multiplied in FLOAT and then
 *   widened to double; the division by output_scale is in double.
 * - per-channel: double(input_scale) * double(filter_scale[c]) / double(output_scale),
 *   all in double (the product of two floats is exact in a double).
 * The two can give different multipliers for the same scales.
 */
import type { DenseActivation, Int8Dense } from '../model/types.ts';
import {
  quantizeMultiplier,
  saturatingRoundingDoublingHighMul,
  type TieRounding,
} from './fixed-point.ts';

/** Everything the eval loop needs, computed once from an Int8Dense. */
export interface PreparedFullyConnected {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  /** [outputSize][inputSize] row-major, int8. */
  readonly weights: Int8Array;
  readonly bias: Int32Array;
  /** -input zero point. */
  readonly inputOffset: number;
  /** Output zero point. */
  readonly outputOffset: number;
  readonly activation: DenseActivation;
  /** Clamp range after adding outputOffset (CalculateActivationRangeQuantized). */
  readonly activationMin: number;
  readonly activationMax: number;
  readonly perChannel: boolean;
  /** One per output (per-tensor values repeated), QuantizeMultiplier results. */
  readonly multipliers: Int32Array;
  readonly shifts: Int32Array;
  /** The real multipliers the above were quantized from (for diagnostics). */
  readonly realMultipliers: Float64Array;
}

/**
 * The real output multiplier for output channel `channel`, computed as TFLM's
 * prepare does (see the module comment for float vs double).
 */
export function effectiveOutputScale(layer: Int8Dense, channel: number): number {
  const inputScale = Math.fround(layer.input.scale);
  const outputScale = Math.fround(layer.output.scale);
  if (layer.weightScales.length > 1) {
    // FullyConnected per-channel: all in double.
    return (inputScale * layer.weightScales[channel]!) / outputScale;
  }
  // GetQuantizedConvolutionMultipler: float product, widened, double division.
  return Math.fround(inputScale * layer.weightScales[0]!) / outputScale;
}

/**
 * Quantize(scale, zero_point, 0.0) in kernel_util.cc is zero_point +
 * TfLiteRound(0.0f / scale) = zero_point, so a fused ReLU clamps at
 * max(-128, zero_point); 'linear' uses the full int8 range.
 */
export function activationRange(
  activation: DenseActivation,
  outputZeroPoint: number,
): { min: number; max: number } {
  if (activation === 'relu') return { min: Math.max(-128, outputZeroPoint), max: 127 };
  return { min: -128, max: 127 };
}

/** Prepare-time work for one layer: multipliers, shifts, offsets, clamp range. */
export function prepareFullyConnected(layer: Int8Dense): PreparedFullyConnected {
  const n = layer.outputSize;
  const perChannel = layer.weightScales.length > 1;
  const multipliers = new Int32Array(n);
  const shifts = new Int32Array(n);
  const realMultipliers = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const real = effectiveOutputScale(layer, perChannel ? c : 0);
    const q = quantizeMultiplier(real);
    realMultipliers[c] = real;
    multipliers[c] = q.multiplier;
    shifts[c] = q.shift;
  }
  const range = activationRange(layer.activation, layer.output.zeroPoint);
  return {
    name: layer.name,
    inputSize: layer.inputSize,
    outputSize: n,
    weights: layer.weights,
    bias: layer.bias,
    inputOffset: -layer.input.zeroPoint,
    outputOffset: layer.output.zeroPoint,
    activation: layer.activation,
    activationMin: range.min,
    activationMax: range.max,
    perChannel,
    multipliers,
    shifts,
    realMultipliers,
  };
}

/**
 * Runs one int8 FULLY_CONNECTED for a single input vector.
 *
 * For each output c: acc = bias[c] + sum_i w[c][i] * (x[i] + inputOffset) in
 * int32 (wrapping), then MultiplyByQuantizedMultiplier(acc, m[c], s[c]) with
 * the given tie rounding, + outputOffset, clamped to the activation range.
 *
 * @param input  length inputSize; read only
 * @param output length outputSize; overwritten
 * @param ties   rounding of exact ties in the final shift (TFLM: 'away-from-zero')
 * @returns how many outputs hit an exact negative tie in that final shift
 *          (the only place the two tie modes can differ), counted whatever `ties` is
 */
export function fullyConnectedInt8(
  prepared: PreparedFullyConnected,
  input: Int8Array,
  output: Int8Array,
  ties: TieRounding = 'away-from-zero',
): number {
  const { inputSize, outputSize, weights, bias, inputOffset, outputOffset } = prepared;
  const { activationMin, activationMax, multipliers, shifts } = prepared;
  if (input.length !== inputSize) {
    throw new RangeError(`${prepared.name}: input length ${input.length} != ${inputSize}`);
  }
  if (output.length !== outputSize) {
    throw new RangeError(`${prepared.name}: output length ${output.length} != ${outputSize}`);
  }
  const awayFromZero = ties === 'away-from-zero';
  let negativeTies = 0;
  for (let c = 0; c < outputSize; c++) {
    // Each term is at most 127 * 255 in magnitude, so the double sum stays an
    // exact integer; `| 0` then gives the C++ int32 (wrapping) accumulator.
    let acc = 0;
    const row = c * inputSize;
    let i = 0;
    for (; i + 3 < inputSize; i += 4) {
      acc +=
        weights[row + i]! * (input[i]! + inputOffset) +
        weights[row + i + 1]! * (input[i + 1]! + inputOffset) +
        weights[row + i + 2]! * (input[i + 2]! + inputOffset) +
        weights[row + i + 3]! * (input[i + 3]! + inputOffset);
    }
    for (; i < inputSize; i++) acc += weights[row + i]! * (input[i]! + inputOffset);
    acc = (acc + bias[c]!) | 0;

    // MultiplyByQuantizedMultiplier, inlined so the tie can be observed.
    const shift = shifts[c]!;
    const leftShift = shift > 0 ? shift : 0;
    const rightShift = shift > 0 ? 0 : -shift;
    const high = saturatingRoundingDoublingHighMul(
      leftShift > 0 ? Math.imul(acc, 1 << leftShift) : acc,
      multipliers[c]!,
    );
    let scaled = high;
    if (rightShift > 0) {
      const mask = (2 ** rightShift - 1) | 0;
      const half = 2 ** (rightShift - 1);
      const remainder = high & mask;
      const negative = high < 0;
      if (negative && remainder === half) negativeTies++;
      const threshold = (mask >> 1) + (negative && awayFromZero ? 1 : 0);
      scaled = (high >> rightShift) + (remainder > threshold ? 1 : 0);
    }
    scaled += outputOffset;
    if (scaled < activationMin) scaled = activationMin;
    if (scaled > activationMax) scaled = activationMax;
    output[c] = scaled;
  }
  return negativeTies;
}
