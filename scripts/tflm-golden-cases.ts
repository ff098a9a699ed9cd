/**
 * The cases scripts/tflm-golden.ts runs on real TensorFlow Lite Micro, as int8
 * models (our .tflite writer) with inputs. Pure and deterministic: everything
 * comes from mulberry32 seeds, so test/tflm-golden.test.ts can regenerate the
 * large models from their seed instead of committing them.
 *
 * - fc: one FULLY_CONNECTED (logits out) over random shapes (1..300 inputs,
 *   1..40 outputs, odd sizes included), zero points, fused ReLU or not, and
 *   scales from ordinary to extreme: real multipliers from 2^-40 (flushed to
 *   zero by QuantizeMultiplier) to 2^12, input scales from 2^-70 to 2^20, a
 *   subnormal float product of scales, biases that wrap the int32 accumulator.
 * - fc-tie: accumulators placed exactly on a tie of the final rounding shift
 *   of MultiplyByQuantizedMultiplier (and of its doubling high multiply),
 *   positive and negative, for several multipliers and shifts.
 * - softmax: an identity FULLY_CONNECTED (weights 1 on the diagonal, weight
 *   scale 1, output quantization = input quantization, so its output is its
 *   input exactly) feeding an int8 SOFTMAX, over depths 1..100, input scales
 *   from just above TFLM's lower bound to the clamped multiplier, several betas,
 *   and rows built to hit the edges (constant, one-hot, all -128, near diff_min).
 * - fc-refused: a bias scale TFLM's prepare rejects (see FC_REFUSED).
 * - softmax-refused: beta * input_scale * 2^26 <= 1, where TFLM's
 *   QuantizeMultiplierGreaterThanOne CHECK aborts.
 * - model: the exercise's 784-H-10 shapes (H = 20, 128, 1024, and 512-512) with
 *   RANDOM int8 weights and biases (not trained), output scales calibrated on
 *   the case's own inputs, fused ReLU on the hidden layers, SOFTMAX out.
 */
import type { DenseActivation, Int8Dense, Int8Model, QuantParams } from '../src/model/types.ts';
import { SOFTMAX_INT8_OUTPUT } from '../src/reference/softmax.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { mulberry32 } from '../src/util/prng.ts';

export const CASES_SEED = 20261205;

export type CaseKind = 'fc' | 'fc-refused' | 'fc-tie' | 'softmax' | 'softmax-refused' | 'model';

export interface GoldenCase {
  readonly id: string;
  readonly kind: CaseKind;
  readonly description: string;
  readonly model: Int8Model;
  readonly inputs: readonly Int8Array[];
  /** For 'model' cases: what regenerates the model (modelCase(hidden, seed)). */
  readonly generate?: { readonly hidden: readonly number[]; readonly seed: number };
  /** For 'fc-tie': per input, per output, which tie the accumulator was put on. */
  readonly ties?: ReadonlyArray<ReadonlyArray<TieKind>>;
}

/** 'final+'/'final-': a tie of the final rounding right shift; 'srdhm+'/'srdhm-': of the doubling high multiply. */
export type TieKind = 'none' | 'final+' | 'final-' | 'srdhm+' | 'srdhm-';

type Rand = () => number;
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(rand: Rand, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const pow2 = (e: number): number => Math.fround(2 ** e);

function randomInt8(rand: Rand, n: number): Int8Array {
  return Int8Array.from({ length: n }, () => int(rand, -128, 127));
}

function int8Model(id: string, layers: Int8Dense[], softmax: Int8Model['softmax']): Int8Model {
  const classes = layers.at(-1)!.outputSize;
  return {
    kind: 'int8',
    name: id,
    classNames: Array.from({ length: classes }, (_, i) => `c${i}`),
    inputShape: [layers[0]!.inputSize],
    input: layers[0]!.input,
    layers,
    softmax,
  };
}

function dense(
  name: string, inputSize: number, outputSize: number, weights: Int8Array, bias: Int32Array,
  weightScale: number, input: QuantParams, output: QuantParams, activation: DenseActivation,
): Int8Dense {
  return { name, inputSize, outputSize, weights, weightScales: Float32Array.of(weightScale), bias, input, output, activation };
}

// ------------------------------------------------------------ FULLY_CONNECTED

interface FcSpec {
  /** Exact scales (else 2^inputScaleLog2, 2^weightScaleLog2). */
  readonly inputScale?: number;
  readonly weightScale?: number;
  readonly inputScaleLog2?: number;
  readonly weightScaleLog2?: number;
  /** log2 of the real multiplier input_scale * weight_scale / output_scale. */
  readonly realLog2?: number;
  readonly biasRange?: number;
  /** Biases this close to INT32_MIN / INT32_MAX, so the accumulator wraps. */
  readonly wrapBias?: boolean;
  readonly note: string;
}

/** The extreme corners, then ordinary random ones. */
const FC_SPECS: readonly FcSpec[] = [
  { realLog2: -40, note: 'real multiplier 2^-40: QuantizeMultiplier flushes it to 0, outputs = zero point' },
  { realLog2: -31.9, note: 'real multiplier just above 2^-32: shift -31, the smallest kept' },
  { realLog2: -32.1, note: 'real multiplier just below 2^-32: flushed to 0' },
  { realLog2: -24, note: 'tiny real multiplier 2^-24' },
  { realLog2: 0, note: 'real multiplier exactly 1' },
  { realLog2: 3.3, note: 'real multiplier > 1 (left shift)' },
  { realLog2: 12, note: 'real multiplier 2^12: the accumulator is shifted left 13 bits and wraps' },
  { inputScaleLog2: -70, weightScaleLog2: -70, note: 'input x weight scale 2^-140 is a subnormal float32' },
  { inputScaleLog2: 20, weightScaleLog2: -2, note: 'huge input scale 2^20' },
  { inputScaleLog2: -40, weightScaleLog2: -30, note: 'tiny scales 2^-40 and 2^-30' },
  { wrapBias: true, note: 'biases near INT32_MIN/INT32_MAX: the int32 accumulator wraps' },
  { biasRange: 2 ** 30, note: 'large biases (|b| <= 2^30)' },
  { inputScale: Math.fround(0.1), weightScale: Math.fround(0.3), realLog2: 18, note: 'real multiplier 2^18 with an inexact float product: the bias scale is off by 0.004 output steps, which TFLM accepts' },
];

/**
 * What TFLM refuses in a FULLY_CONNECTED our writer can produce: kernel_util.cc
 * GetQuantizedConvolutionMultipler requires |double(input_scale) *
 * double(weight_scale) - bias_scale| / output_scale <= 0.02, and our writer
 * stores bias_scale = float(input_scale * weight_scale), so a real multiplier
 * near 2^24 with an inexact product breaks it.
 */
const FC_REFUSED: readonly FcSpec[] = [
  { inputScale: Math.fround(0.1), weightScale: Math.fround(0.3), realLog2: 24, note: 'real multiplier 2^24 with an inexact float product: the bias scale is off by 0.25 output steps, over TFLM\'s 0.02' },
];
const FC_RANDOM = 28;
const FC_INPUTS = 6;
const FC_SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 100, 127, 255, 256, 300];

function fcCase(index: number, spec: FcSpec, rand: Rand, refused = false): GoldenCase {
  const id = refused ? `fc-refused-${index}` : `fc-${String(index).padStart(2, '0')}`;
  const inputSize = pick(rand, FC_SIZES);
  const outputSize = int(rand, 1, 40);
  const relu = rand() < 0.5;
  const inScale = spec.inputScale ?? pow2(spec.inputScaleLog2 ?? -12 + rand() * 16);
  const wScale = spec.weightScale ?? pow2(spec.weightScaleLog2 ?? -12 + rand() * 12);
  // Ordinary cases: aim the accumulator's spread (~73 * 74 * sqrt(n)) at the int8 range.
  const realLog2 = spec.realLog2 ?? Math.log2(64 / (73 * 74 * Math.sqrt(inputSize))) + (rand() * 4 - 2);
  const outScale = Math.fround(Math.fround(inScale * wScale) / 2 ** realLog2);
  const inZp = int(rand, -128, 127);
  const outZp = int(rand, -128, 127);
  const weights = Int8Array.from({ length: inputSize * outputSize }, () => int(rand, -127, 127));
  const range = spec.biasRange ?? 1 << 16;
  const bias = Int32Array.from({ length: outputSize }, () =>
    spec.wrapBias ? (rand() < 0.5 ? -2147483648 + int(rand, 0, 20000) : 2147483647 - int(rand, 0, 20000)) : int(rand, -range, range),
  );
  const layer = dense('fc', inputSize, outputSize, weights, bias, wScale, { scale: inScale, zeroPoint: inZp }, { scale: outScale, zeroPoint: outZp }, relu ? 'relu' : 'linear');
  const inputs = Array.from({ length: FC_INPUTS }, (_, i) =>
    i === 0 ? new Int8Array(inputSize).fill(-128) : i === 1 ? new Int8Array(inputSize).fill(127) : randomInt8(rand, inputSize),
  );
  return {
    id,
    kind: refused ? 'fc-refused' : 'fc',
    description: `${inputSize} -> ${outputSize}${relu ? ' relu' : ''}, input zp ${inZp}, output zp ${outZp}; ${spec.note}`,
    model: int8Model(id, [layer], null),
    inputs,
  };
}

interface TieSpec {
  /** The real multiplier is fraction * 2^-exponent, exact in float32 and double. */
  readonly fraction: number;
  readonly numerator: number;
  readonly log2Denominator: number;
  readonly exponent: number;
}

const TIE_SPECS: readonly TieSpec[] = [
  { fraction: 0.5, numerator: 1, log2Denominator: 1, exponent: 1 },
  { fraction: 0.5, numerator: 1, log2Denominator: 1, exponent: 4 },
  { fraction: 0.75, numerator: 3, log2Denominator: 2, exponent: 2 },
  { fraction: 0.75, numerator: 3, log2Denominator: 2, exponent: 9 },
  { fraction: 0.625, numerator: 5, log2Denominator: 3, exponent: 6 },
  { fraction: 0.5, numerator: 1, log2Denominator: 1, exponent: 15 },
  { fraction: 0.875, numerator: 7, log2Denominator: 3, exponent: 20 },
  { fraction: 0.5, numerator: 1, log2Denominator: 1, exponent: 27 },
];
const TIE_OUTPUTS = 16;

/**
 * MultiplyByQuantizedMultiplier(acc, f * 2^31, -e) with f = p / 2^q (p odd):
 * the doubling high multiply gives acc * f exactly when that is an integer, and
 * the final RoundingDivideByPOT(., e) meets a tie when acc * f = p (2t + 1) 2^(e-1),
 * i.e. acc = (2t + 1) 2^(e - 1 + q). With f = 1/2 and acc odd, the high
 * multiply itself meets a tie (acc / 2).
 */
function tieCase(index: number, spec: TieSpec, rand: Rand): GoldenCase {
  const id = `tie-${String(index).padStart(2, '0')}`;
  const inputSize = pick(rand, [3, 8, 17, 64]);
  const inScale = pow2(-int(rand, 0, 10));
  const wScale = Math.fround(spec.fraction * 2 ** -int(rand, 0, 10));
  const outScale = Math.fround((inScale * wScale) / spec.fraction * 2 ** spec.exponent);
  const real = Math.fround(inScale * wScale) / outScale;
  if (real !== spec.fraction * 2 ** -spec.exponent) throw new Error(`${id}: scales are not exact`);
  const inZp = int(rand, -128, 127);
  const weights = Int8Array.from({ length: inputSize * TIE_OUTPUTS }, () => int(rand, -127, 127));
  const input = randomInt8(rand, inputSize);
  const bias = new Int32Array(TIE_OUTPUTS);
  const kinds: TieKind[] = [];
  // |acc| < 2^31, and the rounded output p (2t + 1) / 2 stays inside int8 so the clamp cannot hide the tie.
  const fitsAcc = Math.floor((2 ** 31 / 2 ** (spec.exponent - 1 + spec.log2Denominator) - 1) / 2) - 1;
  const fitsInt8 = Math.floor((238 / spec.numerator - 1) / 2);
  const maxT = Math.max(0, Math.min(fitsAcc, fitsInt8));
  for (let c = 0; c < TIE_OUTPUTS; c++) {
    const negative = c % 2 === 1;
    const srdhm = spec.numerator === 1 && spec.exponent <= 4 && c >= TIE_OUTPUTS - 8;
    const t = int(rand, 0, maxT);
    const magnitude = srdhm ? 2 * int(rand, 0, 100) + 1 : (2 * t + 1) * 2 ** (spec.exponent - 1 + spec.log2Denominator);
    const acc = negative ? -magnitude : magnitude;
    let sum = 0;
    for (let i = 0; i < inputSize; i++) sum += weights[c * inputSize + i]! * (input[i]! - inZp);
    bias[c] = acc - sum;
    kinds.push(`${srdhm ? 'srdhm' : 'final'}${negative ? '-' : '+'}`);
  }
  const layer = dense('fc', inputSize, TIE_OUTPUTS, weights, bias, wScale, { scale: inScale, zeroPoint: inZp }, { scale: outScale, zeroPoint: 0 }, 'linear');
  const extra = [randomInt8(rand, inputSize), randomInt8(rand, inputSize)];
  return {
    id,
    kind: 'fc-tie',
    description: `${inputSize} -> ${TIE_OUTPUTS}, real multiplier ${spec.fraction} * 2^-${spec.exponent}; input 0 puts every accumulator on a tie (even outputs positive, odd negative), inputs 1-2 random`,
    model: int8Model(id, [layer], null),
    inputs: [input, ...extra],
    ties: [kinds, kinds.map(() => 'none' as const), kinds.map(() => 'none' as const)],
  };
}

// ------------------------------------------------------------------- SOFTMAX

interface SoftmaxSpec {
  readonly scale?: number;
  readonly beta?: number;
  readonly depth?: number;
  readonly note: string;
}

const SOFTMAX_SPECS: readonly SoftmaxSpec[] = [
  { scale: Math.fround(2 ** -26 * 1.0000002), beta: 1, note: 'beta * scale * 2^26 just above 1, the smallest TFLM accepts' },
  { scale: 2 ** -20, beta: 1, note: 'tiny input scale 2^-20' },
  { scale: 1 / 16, beta: 1, note: 'input scale 1/16' },
  { scale: 31.99, beta: 1, note: 'input scale just under 32: multiplier just under 2^31' },
  { scale: 32, beta: 1, note: 'input scale 32: multiplier clamped to 2^31 - 1' },
  { scale: 1000, beta: 1, note: 'input scale 1000: clamped multiplier' },
  { scale: 0.01, beta: 100, note: 'beta 100' },
  { scale: 4, beta: 1e-3, note: 'beta 0.001' },
  { scale: 0.1, beta: 1, depth: 1, note: 'depth 1' },
  { scale: 0.2, beta: 1, depth: 2, note: 'depth 2' },
  { scale: 0.05, beta: 1, depth: 100, note: 'depth 100' },
];
const SOFTMAX_RANDOM = 14;
const SOFTMAX_REFUSED: readonly SoftmaxSpec[] = [
  { scale: 2 ** -26, beta: 1, note: 'beta * scale * 2^26 = 1 exactly: QuantizeMultiplierGreaterThanOne requires > 1' },
  { scale: 2 ** -30, beta: 1, note: 'beta * scale * 2^26 = 1/16' },
  { scale: 1e-3, beta: 1e-6, note: 'beta 1e-6 with scale 1e-3' },
];

function softmaxRows(rand: Rand, depth: number, zp: number): Int8Array[] {
  const rows: Int8Array[] = [];
  rows.push(randomInt8(rand, depth));
  rows.push(new Int8Array(depth).fill(int(rand, -128, 127))); // all equal
  rows.push(new Int8Array(depth).fill(-128)); // all at the bottom
  const hot = new Int8Array(depth).fill(-128);
  hot[int(rand, 0, depth - 1)] = 127;
  rows.push(hot);
  const center = int(rand, -100, 100);
  rows.push(Int8Array.from({ length: depth }, () => Math.max(-128, Math.min(127, center + int(rand, -3, 3)))));
  rows.push(Int8Array.from({ length: depth }, () => Math.max(-128, Math.min(127, zp + int(rand, -40, 40)))));
  rows.push(Int8Array.from({ length: depth }, (_, i) => Math.round((i * 255) / Math.max(1, depth - 1)) - 128));
  rows.push(randomInt8(rand, depth));
  return rows;
}

function softmaxCase(id: string, kind: 'softmax' | 'softmax-refused', spec: SoftmaxSpec, rand: Rand): GoldenCase {
  const depth = spec.depth ?? pick(rand, [3, 4, 5, 8, 10, 10, 16, 31, 64]);
  const scale = Math.fround(spec.scale ?? 2 ** (-12 + rand() * 16));
  const beta = Math.fround(spec.beta ?? (rand() < 0.5 ? 1 : 2 ** (rand() * 4 - 2)));
  const zp = int(rand, -128, 127);
  const q = { scale, zeroPoint: zp };
  const identity = new Int8Array(depth * depth);
  for (let i = 0; i < depth; i++) identity[i * depth + i] = 1;
  const layer = dense('identity', depth, depth, identity, new Int32Array(depth), 1, q, q, 'linear');
  return {
    id,
    kind,
    description: `depth ${depth}, input scale ${scale}, zero point ${zp}, beta ${beta}; ${spec.note}`,
    model: int8Model(id, [layer], { output: SOFTMAX_INT8_OUTPUT, beta }),
    inputs: softmaxRows(rand, depth, zp),
  };
}

// -------------------------------------------------------------------- models

/** The exercise's shapes; `inputs` per model. */
export const MODEL_SPECS: ReadonlyArray<{ readonly hidden: readonly number[]; readonly seed: number }> = [
  { hidden: [20], seed: CASES_SEED + 1 },
  { hidden: [128], seed: CASES_SEED + 2 },
  { hidden: [1024], seed: CASES_SEED + 3 },
  { hidden: [512, 512], seed: CASES_SEED + 4 },
];
const MODEL_INPUTS = 5;
const PIXEL_INPUT: QuantParams = { scale: Math.fround(1 / 255), zeroPoint: -128 };

/** Image-like inputs: about half the pixels 0, the rest uniform, as int8 p - 128. */
function imageInputs(rand: Rand, count: number): Int8Array[] {
  return Array.from({ length: count }, () => Int8Array.from({ length: 784 }, () => (rand() < 0.5 ? 0 : int(rand, 0, 255)) - 128));
}

/**
 * A 784-hidden-10 int8 model with random weights (uniform int8), random biases
 * and output scales calibrated on its own inputs: each layer's output range is
 * the min/max of its real-valued accumulators over the inputs, widened to 0, as
 * the quantizer does. Deterministic in (hidden, seed).
 */
export function modelCase(hidden: readonly number[], seed: number): GoldenCase {
  const rand = mulberry32(seed);
  const inputs = imageInputs(rand, MODEL_INPUTS);
  const sizes = [784, ...hidden, 10];
  const layers: Int8Dense[] = [];
  let input = PIXEL_INPUT;
  let activations = inputs.map((x) => Array.from(x, (v) => v));
  for (let l = 0; l + 1 < sizes.length; l++) {
    const n = sizes[l]!;
    const m = sizes[l + 1]!;
    const relu = l + 2 < sizes.length;
    const weights = Int8Array.from({ length: n * m }, () => int(rand, -127, 127));
    const wScale = Math.fround(0.5 / 127 / Math.sqrt(n));
    const accScale = Math.fround(input.scale * wScale);
    const bias = Int32Array.from({ length: m }, () => Math.round(((rand() * 2 - 1) * 0.1) / accScale));
    const reals = activations.map((x) =>
      Array.from({ length: m }, (_, c) => {
        let acc = bias[c]!;
        for (let i = 0; i < n; i++) acc += weights[c * n + i]! * (x[i]! - input.zeroPoint);
        return acc * accScale;
      }),
    );
    const flat = reals.flat();
    const lo = Math.min(0, ...flat.map((v) => (relu ? Math.max(0, v) : v)));
    const hi = Math.max(0, ...flat.map((v) => (relu ? Math.max(0, v) : v)));
    const scale = Math.fround((hi - lo) / 255 || 1);
    const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
    const output = { scale, zeroPoint };
    layers.push(dense(`dense${l === 0 ? '' : `_${l}`}`, n, m, weights, bias, wScale, input, output, relu ? 'relu' : 'linear'));
    activations = reals.map((row) => row.map((v) => Math.max(-128, Math.min(127, Math.round((relu ? Math.max(0, v) : v) / scale) + zeroPoint))));
    input = output;
  }
  const id = `model-784-${hidden.join('-')}-10`;
  const model = { ...int8Model(id, layers, { output: SOFTMAX_INT8_OUTPUT, beta: 1 }), inputShape: [28, 28] };
  return {
    id,
    kind: 'model',
    description: `784-${hidden.join('-')}-10 with RANDOM int8 weights (not trained), ReLU hidden layers, SOFTMAX out; ${MODEL_INPUTS} image-like inputs`,
    model,
    inputs,
    generate: { hidden: [...hidden], seed },
  };
}

// ----------------------------------------------------------------- all cases

/** Every case except the models, from CASES_SEED. */
export function kernelCases(): GoldenCase[] {
  const rand = mulberry32(CASES_SEED);
  const cases: GoldenCase[] = [];
  const fcSpecs = [...FC_SPECS, ...Array.from({ length: FC_RANDOM }, () => ({ note: 'random' }))];
  fcSpecs.forEach((spec, i) => cases.push(fcCase(i, spec, rand)));
  FC_REFUSED.forEach((spec, i) => cases.push(fcCase(i, spec, rand, true)));
  TIE_SPECS.forEach((spec, i) => cases.push(tieCase(i, spec, rand)));
  const smSpecs = [...SOFTMAX_SPECS, ...Array.from({ length: SOFTMAX_RANDOM }, () => ({ note: 'random' }))];
  smSpecs.forEach((spec, i) => cases.push(softmaxCase(`softmax-${String(i).padStart(2, '0')}`, 'softmax', spec, rand)));
  SOFTMAX_REFUSED.forEach((spec, i) => cases.push(softmaxCase(`softmax-refused-${i}`, 'softmax-refused', spec, rand)));
  return cases;
}

export function allCases(): GoldenCase[] {
  return [...kernelCases(), ...MODEL_SPECS.map((s) => modelCase(s.hidden, s.seed))];
}

/** The .tflite bytes TFLM runs for a case. */
export function caseTflite(c: GoldenCase): Uint8Array {
  return writeTflite(c.model);
}
