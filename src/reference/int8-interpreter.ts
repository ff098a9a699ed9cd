/**
 * A TypeScript int8 interpreter for our Int8Model (FULLY_CONNECTED layers and
 * an optional int8 SOFTMAX), bit-exact with TFLite Micro's reference kernels.
 * It is the oracle the firmware and the host TFLite runs are compared against.
 *
 * Input/output helpers reproduce TFLite's affine quantization:
 * reference_ops::AffineQuantize (q = clamp(TfLiteRound(real / scale) + zp), in
 * float32) and Dequantize (float(double(scale) * (q - zp))).
 */
import type { Int8Dense, Int8Model, QuantParams } from '../model/types.ts';
import { UnsupportedModelError } from '../errors.ts';
import { checkInt8ModelLimits } from './limits.ts';
import { tfliteRound, type TieRounding } from './fixed-point.ts';
import {
  fullyConnectedInt8,
  prepareFullyConnected,
  type PreparedFullyConnected,
} from './fully-connected.ts';
import { prepareSoftmaxInt8, softmaxInt8, type PreparedSoftmaxInt8 } from './softmax.ts';

export interface Int8InterpreterOptions {
  /** Tie rounding of the FC requantization; default 'away-from-zero' (TFLM). */
  readonly ties?: TieRounding;
}

export interface Int8RunResult {
  /** Softmax output (scale 1/256, zp -128), or the last FC output for logits-only models. */
  readonly output: Int8Array;
  /** The last FULLY_CONNECTED output. */
  readonly logits: Int8Array;
  /** FC outputs (over all layers) whose final rounding shift hit an exact negative tie. */
  readonly negativeTies: number;
}

/**
 * Runs an Int8Model one sample at a time. All multipliers are computed once in
 * the constructor; run() reuses internal buffers and returns fresh copies, so
 * results stay valid after later runs.
 */
export class Int8Interpreter {
  readonly model: Int8Model;
  readonly ties: TieRounding;
  readonly layers: readonly PreparedFullyConnected[];
  readonly softmax: PreparedSoftmaxInt8 | null;
  private readonly buffers: Int8Array[];
  private readonly softmaxBuffer: Int8Array | null;

  /** @throws UnsupportedModelError / TypeError when the model is inconsistent */
  constructor(model: Int8Model, options: Int8InterpreterOptions = {}) {
    validateInt8Model(model);
    this.model = model;
    this.ties = options.ties ?? 'away-from-zero';
    this.layers = model.layers.map(prepareFullyConnected);
    this.buffers = model.layers.map((layer) => new Int8Array(layer.outputSize));
    const last = model.layers[model.layers.length - 1]!;
    this.softmax = model.softmax ? prepareSoftmaxInt8(last.output, model.softmax.beta) : null;
    this.softmaxBuffer = model.softmax ? new Int8Array(last.outputSize) : null;
  }

  /** Number of int8 values run() expects. */
  get inputSize(): number {
    return this.layers[0]!.inputSize;
  }

  /**
   * @param input one quantized sample, length inputSize (see quantizeInput)
   */
  run(input: Int8Array): Int8RunResult {
    let negativeTies = 0;
    let current = input;
    for (let l = 0; l < this.layers.length; l++) {
      const out = this.buffers[l]!;
      negativeTies += fullyConnectedInt8(this.layers[l]!, current, out, this.ties);
      current = out;
    }
    const logits = current.slice();
    if (this.softmax && this.softmaxBuffer) {
      softmaxInt8(this.softmax, current, this.softmaxBuffer);
      return { output: this.softmaxBuffer.slice(), logits, negativeTies };
    }
    return { output: logits.slice(), logits, negativeTies };
  }
}

/** Pixels in one Fashion-MNIST sample (28 x 28): quantizeInput's default length. */
export const DEFAULT_SAMPLE_SIZE = 28 * 28;

/**
 * Quantizes `length` raw pixels starting at `pixels[offset]` to the model input.
 * real = p / 255 (as float32) when `normalized`, else p; then
 * q = clamp(TfLiteRound(float32(real / scale)) + zeroPoint, -128, 127).
 * For a normalized model quantized with scale float32(1/255) and zero point
 * -128 this is exactly p - 128 (checked for every p in the tests).
 *
 * @param pixels     raw 0..255 pixels, e.g. a whole dataset of samples back to back
 * @param offset     index of the sample's first pixel (sample index * length)
 * @param length     pixels per sample; defaults to one 28x28 image (DEFAULT_SAMPLE_SIZE)
 * @param out        optional destination (length `length`), returned when given
 * @throws RangeError when [offset, offset + length) is not inside `pixels`
 */
export function quantizeInput(
  pixels: Uint8Array,
  offset: number,
  input: QuantParams,
  normalized: boolean,
  length: number = DEFAULT_SAMPLE_SIZE,
  out: Int8Array = new Int8Array(length),
): Int8Array {
  if (offset < 0 || length < 0 || offset + length > pixels.length) {
    throw new RangeError(
      `quantizeInput: [${offset}, ${offset + length}) outside pixels of length ${pixels.length}`,
    );
  }
  if (out.length !== length) throw new RangeError(`quantizeInput: out length ${out.length} != ${length}`);
  const scale = Math.fround(input.scale);
  const zp = input.zeroPoint;
  // A 256-entry table: every pixel value maps the same way.
  const table = new Int8Array(256);
  for (let p = 0; p < 256; p++) {
    const real = normalized ? Math.fround(p / 255) : p;
    const q = tfliteRound(Math.fround(real / scale)) + zp;
    table[p] = q < -128 ? -128 : q > 127 ? 127 : q;
  }
  for (let i = 0; i < length; i++) out[i] = table[pixels[offset + i]!]!;
  return out;
}

/** Dequantize: float32(scale * (q - zeroPoint)), the product taken in double as TFLite does. */
export function dequantize(values: Int8Array, params: QuantParams): Float32Array {
  const out = new Float32Array(values.length);
  const scale = Math.fround(params.scale);
  for (let i = 0; i < values.length; i++) out[i] = scale * (values[i]! - params.zeroPoint);
  return out;
}

function sameQuant(a: QuantParams, b: QuantParams): boolean {
  return Math.fround(a.scale) === Math.fround(b.scale) && a.zeroPoint === b.zeroPoint;
}

function checkQuant(where: string, q: QuantParams): void {
  if (typeof q !== 'object' || q === null) throw new TypeError(`${where}: missing quantization`);
  if (typeof q.scale !== 'number' || !Number.isFinite(q.scale) || !(Math.fround(q.scale) > 0)) {
    throw new UnsupportedModelError(`${where}: scale ${q.scale} must be a positive finite float32`);
  }
  if (!Number.isInteger(q.zeroPoint) || q.zeroPoint < -128 || q.zeroPoint > 127) {
    throw new UnsupportedModelError(`${where}: zero point ${q.zeroPoint} must be an int8`);
  }
}

function checkLayer(layer: Int8Dense, index: number): void {
  const where = `layer ${index} (${layer.name})`;
  if (!(layer.weights instanceof Int8Array)) throw new TypeError(`${where}: weights must be an Int8Array`);
  if (!(layer.weightScales instanceof Float32Array)) {
    throw new TypeError(`${where}: weightScales must be a Float32Array`);
  }
  if (!(layer.bias instanceof Int32Array)) throw new TypeError(`${where}: bias must be an Int32Array`);
  const { inputSize, outputSize } = layer;
  if (!Number.isInteger(inputSize) || inputSize <= 0 || !Number.isInteger(outputSize) || outputSize <= 0) {
    throw new UnsupportedModelError(`${where}: sizes ${inputSize}x${outputSize} must be positive integers`);
  }
  if (layer.weights.length !== inputSize * outputSize) {
    throw new UnsupportedModelError(
      `${where}: ${layer.weights.length} weights, expected ${outputSize}x${inputSize}`,
    );
  }
  for (let i = 0; i < layer.weights.length; i++) {
    if (layer.weights[i] === -128) {
      throw new UnsupportedModelError(`${where}: weight ${i} is -128; symmetric int8 weights are in [-127, 127]`);
    }
  }
  if (layer.weightScales.length !== 1 && layer.weightScales.length !== outputSize) {
    throw new UnsupportedModelError(
      `${where}: ${layer.weightScales.length} weight scales, expected 1 or ${outputSize}`,
    );
  }
  for (const s of layer.weightScales) {
    if (!Number.isFinite(s) || !(s > 0)) {
      throw new UnsupportedModelError(`${where}: weight scale ${s} must be positive and finite`);
    }
  }
  if (layer.bias.length !== outputSize) {
    throw new UnsupportedModelError(`${where}: ${layer.bias.length} biases, expected ${outputSize}`);
  }
  if (layer.activation !== 'relu' && layer.activation !== 'linear') {
    throw new UnsupportedModelError(`${where}: activation '${String(layer.activation)}' is not supported`);
  }
  checkQuant(`${where} input`, layer.input);
  checkQuant(`${where} output`, layer.output);
}

/**
 * Checks that an Int8Model is internally consistent and runnable by TFLM's
 * int8 kernels. Throws TypeError for values of the wrong JS type,
 * UnsupportedModelError for inconsistent shapes or quantization, and its
 * subclass ModelLimitError past the kernels' bounds (limits.ts).
 */
export function validateInt8Model(model: Int8Model): void {
  if (typeof model !== 'object' || model === null || model.kind !== 'int8') {
    throw new TypeError('validateInt8Model: not an int8 model');
  }
  if (!Array.isArray(model.layers) || model.layers.length === 0) {
    throw new UnsupportedModelError(`model ${model.name}: has no FULLY_CONNECTED layers`);
  }
  model.layers.forEach(checkLayer);
  const first = model.layers[0]!;
  checkQuant('model input', model.input);
  if (!sameQuant(model.input, first.input)) {
    throw new UnsupportedModelError(`model ${model.name}: input quantization differs from layer 0 input`);
  }
  const flat = model.inputShape.reduce((a, b) => a * b, 1);
  if (!model.inputShape.every((d) => Number.isInteger(d) && d > 0) || flat !== first.inputSize) {
    throw new UnsupportedModelError(
      `model ${model.name}: input shape [${model.inputShape.join(', ')}] does not flatten to ${first.inputSize}`,
    );
  }
  for (let l = 1; l < model.layers.length; l++) {
    const prev = model.layers[l - 1]!;
    const cur = model.layers[l]!;
    if (prev.outputSize !== cur.inputSize) {
      throw new UnsupportedModelError(
        `layer ${l} (${cur.name}): input size ${cur.inputSize} != previous output size ${prev.outputSize}`,
      );
    }
    if (!sameQuant(prev.output, cur.input)) {
      throw new UnsupportedModelError(
        `layer ${l} (${cur.name}): input quantization differs from previous layer's output`,
      );
    }
  }
  const last = model.layers[model.layers.length - 1]!;
  if (model.classNames.length !== 0 && model.classNames.length !== last.outputSize) {
    throw new UnsupportedModelError(
      `model ${model.name}: ${model.classNames.length} class names for ${last.outputSize} outputs`,
    );
  }
  if (model.softmax !== null) {
    const { output, beta } = model.softmax;
    // softmax_common.cc: TF_LITE_ENSURE(output->params.scale == 1.f / 256), zero point -128.
    if (Math.fround(output.scale) !== 1 / 256 || output.zeroPoint !== -128) {
      throw new UnsupportedModelError(
        `model ${model.name}: softmax output must be scale 1/256, zero point -128 ` +
          `(got ${output.scale}, ${output.zeroPoint})`,
      );
    }
    if (!Number.isFinite(beta) || !(beta > 0)) {
      throw new UnsupportedModelError(`model ${model.name}: softmax beta ${beta} must be positive`);
    }
  }
  checkInt8ModelLimits(model);
}
