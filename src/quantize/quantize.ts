/**
 * Full-integer post-training quantization of a FloatModel, following what the
 * TFLite converter does for FULLY_CONNECTED/SOFTMAX graphs with a representative
 * dataset and int8 inference input/output types:
 *
 * - activations: asymmetric int8, range from the min/max seen over the
 *   calibration samples, widened to include 0 (GetAsymmetricQuantizationParams);
 * - weights: symmetric int8 in [-127, 127], zero point 0, one scale per tensor
 *   or per output channel (quantized dimension 0);
 * - bias: int32 with scale = input scale x weight scale, zero point 0;
 * - the model input is fixed to its known range ([0, 1] normalized, [0, 255]
 *   raw), so that a normalized model takes a raw pixel p as exactly p - 128;
 * - the softmax output is fixed to scale 1/256, zero point -128.
 *
 * All scale arithmetic is done in float32 (Math.fround), as the converter's C++
 * does, so the scales we write are the scales it would write.
 */
import { UnsupportedModelError, UsageError } from '../errors.ts';
import type { FloatDense, FloatModel, Int8Dense, Int8Model, QuantParams } from '../model/types.ts';
import { forwardLayers, pixelsToFloat } from './float-forward.ts';

const f32 = Math.fround;
const INT8_MIN = -128;
const INT8_MAX = 127;
const WEIGHT_MAX = 127;

/** Fixed output quantization of an int8 SOFTMAX (what TFLM and the converter require). */
export const SOFTMAX_OUTPUT: QuantParams = { scale: f32(1 / 256), zeroPoint: -128 };

export interface CalibrationSet {
  /** Raw 0..255 pixels, `count` images back to back. */
  readonly images: Uint8Array;
  readonly count: number;
}

export interface QuantizeOptions {
  /** One weight scale per output channel instead of one per tensor. */
  readonly perChannel?: boolean;
}

/** Round half away from zero, as C's round() and TfLiteRound. */
export function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** The converter's GetAsymmetricQuantizationParams for int8, in float32. */
export function asymmetricParams(min: number, max: number): QuantParams {
  const lo = f32(Math.min(f32(min), 0));
  const hi = f32(Math.max(f32(max), 0));
  const scale = f32(f32(hi - lo) / f32(INT8_MAX - INT8_MIN));
  let zeroPointFromMin = INT8_MIN;
  if (scale !== 0) zeroPointFromMin = f32(INT8_MIN - f32(lo / scale));
  let zeroPoint: number;
  if (zeroPointFromMin < INT8_MIN) zeroPoint = INT8_MIN;
  else if (zeroPointFromMin > INT8_MAX) zeroPoint = INT8_MAX;
  else zeroPoint = roundHalfAwayFromZero(zeroPointFromMin);
  // A tensor that was all zeros still needs a usable scale.
  return { scale: scale === 0 ? 1 : scale, zeroPoint };
}

/** Per-range (tensor or channel) symmetric weight scale, max|w| / 127, in float32. */
function symmetricScale(weights: Float32Array, start: number, end: number): number {
  let maxAbs = 0;
  for (let i = start; i < end; i++) maxAbs = Math.max(maxAbs, Math.abs(weights[i]));
  const scale = f32(f32(maxAbs) / WEIGHT_MAX);
  return scale === 0 ? 1 : scale;
}

function quantizeWeights(layer: FloatDense, perChannel: boolean): { weights: Int8Array; scales: Float32Array } {
  const { inputSize, outputSize } = layer;
  const scales = perChannel
    ? Float32Array.from({ length: outputSize }, (_, o) => symmetricScale(layer.weights, o * inputSize, (o + 1) * inputSize))
    : Float32Array.of(symmetricScale(layer.weights, 0, layer.weights.length));
  const weights = new Int8Array(layer.weights.length);
  for (let o = 0; o < outputSize; o++) {
    const inv = f32(1 / scales[perChannel ? o : 0]);
    for (let i = o * inputSize; i < (o + 1) * inputSize; i++) {
      const q = roundHalfAwayFromZero(f32(layer.weights[i] * inv));
      weights[i] = Math.max(-WEIGHT_MAX, Math.min(WEIGHT_MAX, q));
    }
  }
  return { weights, scales };
}

function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): Int32Array {
  const out = new Int32Array(bias.length);
  for (let o = 0; o < bias.length; o++) {
    const scale = f32(inputScale * weightScales[weightScales.length === 1 ? 0 : o]);
    const q = roundHalfAwayFromZero(f32(bias[o] * f32(1 / scale)));
    out[o] = Math.max(-2147483648, Math.min(2147483647, q));
  }
  return out;
}

/** Min and max of every layer output over the calibration images. */
export function calibrate(model: FloatModel, set: CalibrationSet): { min: number; max: number }[] {
  const size = model.layers[0].inputSize;
  if (set.count < 1) throw new UsageError('--calibration-samples must be at least 1');
  if (set.images.length < set.count * size) {
    throw new UsageError(`calibration set holds ${Math.floor(set.images.length / size)} images, ${set.count} requested`);
  }
  const ranges = model.layers.map(() => ({ min: Infinity, max: -Infinity }));
  const x = new Float32Array(size);
  for (let n = 0; n < set.count; n++) {
    pixelsToFloat(model, set.images, n * size, x);
    forwardLayers(model, x).forEach((y, l) => {
      for (const v of y) {
        if (v < ranges[l].min) ranges[l].min = v;
        if (v > ranges[l].max) ranges[l].max = v;
      }
    });
  }
  return ranges;
}

/** Checks that the model is a chain of Dense layers this quantizer (and TFLM) can run. */
function checkQuantizable(model: FloatModel): void {
  if (model.layers.length === 0) throw new UnsupportedModelError(`model '${model.name}' has no Dense layers to quantize`);
  const inputElements = model.inputShape.reduce((a, b) => a * b, 1);
  let width = inputElements;
  model.layers.forEach((layer, i) => {
    if (layer.inputSize !== width) {
      throw new UnsupportedModelError(`layer '${layer.name}' takes ${layer.inputSize} inputs but receives ${width}`);
    }
    if (i === model.layers.length - 1 && layer.activation !== 'linear' && model.softmax) {
      throw new UnsupportedModelError(`last layer '${layer.name}' must feed the softmax without an activation`);
    }
    width = layer.outputSize;
  });
}

/** Quantizes `model` with activation ranges measured on `calibration`. Pure: no I/O. */
export function quantizeModel(model: FloatModel, calibration: CalibrationSet, options: QuantizeOptions = {}): Int8Model {
  checkQuantizable(model);
  const perChannel = options.perChannel ?? false;
  const ranges = calibrate(model, calibration);
  const input = model.normalized ? asymmetricParams(0, 1) : asymmetricParams(0, 255);
  let layerInput = input;
  const layers: Int8Dense[] = model.layers.map((layer, l) => {
    const output = asymmetricParams(ranges[l].min, ranges[l].max);
    const { weights, scales } = quantizeWeights(layer, perChannel);
    const q: Int8Dense = {
      name: layer.name,
      inputSize: layer.inputSize,
      outputSize: layer.outputSize,
      weights,
      weightScales: scales,
      bias: quantizeBias(layer.bias, layerInput.scale, scales),
      input: layerInput,
      output,
      activation: layer.activation,
    };
    layerInput = output;
    return q;
  });
  return {
    kind: 'int8',
    name: model.name,
    classNames: model.classNames,
    inputShape: model.inputShape,
    input,
    layers,
    softmax: model.softmax ? { output: SOFTMAX_OUTPUT, beta: 1 } : null,
  };
}

/** The same model without its final SOFTMAX: the int8 logits become the output. */
export function logitsOnly(model: Int8Model): Int8Model {
  return { ...model, name: `${model.name}-logits`, softmax: null };
}
