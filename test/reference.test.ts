/**
 * Tests of the TypeScript int8 reference interpreter (src/reference/).
 *
 * Expected values are either worked out by hand from the C++ (the derivation
 * is in the comment next to each) or come from deliberately naive BigInt /
 * float64 implementations written here from the definitions, not from the
 * code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  GEMMLOWP_CONSTANTS,
  INT32_MAX,
  INT32_MIN,
  expOnNegativeValues,
  frexp,
  getReciprocal,
  oneOverOnePlusXForXIn01,
  isNegativeTie,
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  quantizeMultiplierGreaterThanOne,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
  type TieRounding,
} from '../src/reference/fixed-point.ts';
import {
  effectiveOutputScale,
  fullyConnectedInt8,
  prepareFullyConnected,
} from '../src/reference/fully-connected.ts';
import { prepareSoftmaxInt8, softmaxInt8 } from '../src/reference/softmax.ts';
import {
  Int8Interpreter,
  dequantize,
  quantizeInput,
  validateInt8Model,
} from '../src/reference/int8-interpreter.ts';
import type { Int8Dense, Int8Model, QuantParams } from '../src/model/types.ts';
import { UnsupportedModelError } from '../src/errors.ts';
import { mulberry32 } from '../src/util/prng.ts';

// ---------------------------------------------------------------------------
// Helpers: a seeded PRNG and slow, obviously-correct BigInt arithmetic.
// ---------------------------------------------------------------------------
function randInt(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}
function randInt32(rnd: () => number): number {
  // Mix edge values in with uniform ones.
  const r = rnd();
  if (r < 0.05) return INT32_MIN;
  if (r < 0.1) return INT32_MAX;
  if (r < 0.3) return randInt(rnd, -70000, 70000);
  return (Math.floor(rnd() * 4294967296) | 0);
}

const B = BigInt;
/** trunc((a*b + nudge) / 2^31), saturating MIN*MIN: straight from gemmlowp's definition. */
function srdhmBig(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = B(a) * B(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n)); // BigInt division truncates, like C++
}
/** x / 2^e rounded to nearest with the given tie rule, from the definition. */
function roundDivPow2Big(x: bigint, e: number, ties: TieRounding): bigint {
  const d = 1n << B(e);
  const floor = x >= 0n ? x / d : -((-x + d - 1n) / d);
  const rem2 = (x - floor * d) * 2n; // twice the remainder, in [0, 2d)
  if (rem2 > d) return floor + 1n;
  if (rem2 < d) return floor;
  // exact tie
  if (ties === 'toward-positive') return floor + 1n;
  return x >= 0n ? floor + 1n : floor;
}
/** Independent QuantizeMultiplier: find e with 2^(e-1) <= |M| < 2^e by search, round half away. */
function slowQuantizeMultiplier(m: number): { multiplier: number; shift: number } {
  if (m === 0) return { multiplier: 0, shift: 0 };
  let e = 0;
  const abs = Math.abs(m);
  while (abs >= 2 ** e) e++;
  while (abs < 2 ** (e - 1)) e--;
  const scaled = abs * 2 ** (31 - e); // exact: power-of-two scaling
  let q = Math.floor(scaled);
  if (scaled - q >= 0.5) q += 1;
  if (q === 2 ** 31) {
    q = 2 ** 30;
    e += 1;
  }
  if (e < -31) return { multiplier: 0, shift: 0 };
  return { multiplier: m < 0 ? -q : q, shift: e };
}
/** FC from the formula, everything in BigInt, multipliers from slowQuantizeMultiplier. */
function slowFullyConnected(
  layer: Int8Dense,
  input: Int8Array,
  ties: TieRounding,
): { out: number[]; negativeTies: number } {
  const out: number[] = [];
  let negativeTies = 0;
  const f32 = Math.fround;
  for (let c = 0; c < layer.outputSize; c++) {
    let acc = B(layer.bias[c]!);
    for (let i = 0; i < layer.inputSize; i++) {
      acc += B(layer.weights[c * layer.inputSize + i]!) * B(input[i]! - layer.input.zeroPoint);
    }
    acc = BigInt.asIntN(32, acc);
    const real =
      layer.weightScales.length > 1
        ? (f32(layer.input.scale) * layer.weightScales[c]!) / f32(layer.output.scale)
        : f32(f32(layer.input.scale) * layer.weightScales[0]!) / f32(layer.output.scale);
    const { multiplier, shift } = slowQuantizeMultiplier(real);
    const left = Math.max(shift, 0);
    const right = Math.max(-shift, 0);
    const x = Number(BigInt.asIntN(32, acc << B(left)));
    const high = B(srdhmBig(x, multiplier));
    if (right > 0 && high < 0n && (-high) % (1n << B(right)) === 1n << B(right - 1)) negativeTies++;
    let v = Number(roundDivPow2Big(high, right, ties)) + layer.output.zeroPoint;
    const min = layer.activation === 'relu' ? Math.max(-128, layer.output.zeroPoint) : -128;
    v = Math.min(127, Math.max(min, v));
    out.push(v);
  }
  return { out, negativeTies };
}

function dense(p: Partial<Int8Dense> & Pick<Int8Dense, 'inputSize' | 'outputSize'>): Int8Dense {
  return {
    name: 'dense',
    weights: new Int8Array(p.inputSize * p.outputSize),
    weightScales: new Float32Array([0.01]),
    bias: new Int32Array(p.outputSize),
    input: { scale: 0.5, zeroPoint: 0 },
    output: { scale: 0.5, zeroPoint: 0 },
    activation: 'linear',
    ...p,
  };
}

// ---------------------------------------------------------------------------
// quantizeMultiplier
// ---------------------------------------------------------------------------

test('frexp matches the definition on normals, subnormals and negatives', () => {
  for (const [x, f, e] of [
    [1, 0.5, 1],
    [0.75, 0.75, 0],
    [-3, -0.75, 2],
    [2 ** -1074, 0.5, -1073],
    [Number.MAX_VALUE, 1 - 2 ** -53, 1024],
  ] as const) {
    assert.deepEqual(frexp(x), { fraction: f, exponent: e }, String(x));
  }
});

test('quantizeMultiplier: hand-checked values', () => {
  // frexp(0.5) = (0.5, 0); 0.5 * 2^31 = 2^30.
  assert.deepEqual(quantizeMultiplier(0.5), { multiplier: 2 ** 30, shift: 0 });
  // frexp(1) = (0.5, 1).
  assert.deepEqual(quantizeMultiplier(1), { multiplier: 2 ** 30, shift: 1 });
  // 0.75 * 2^31 = 1610612736.
  assert.deepEqual(quantizeMultiplier(0.75), { multiplier: 1610612736, shift: 0 });
  assert.deepEqual(quantizeMultiplier(1.5), { multiplier: 1610612736, shift: 1 });
  assert.deepEqual(quantizeMultiplier(0), { multiplier: 0, shift: 0 });
  // Negative: frexp keeps the sign, round half away from zero.
  assert.deepEqual(quantizeMultiplier(-0.5), { multiplier: -(2 ** 30), shift: 0 });
  // q*2^31 = 2^30 + 0.5 exactly: TfLiteRound rounds away from zero (banker's would give 2^30).
  assert.deepEqual(quantizeMultiplier(0.5 + 2 ** -32), { multiplier: 2 ** 30 + 1, shift: 0 });
  assert.deepEqual(quantizeMultiplier(-(0.5 + 2 ** -32)), { multiplier: -(2 ** 30 + 1), shift: 0 });
  // q = 1 - 2^-33: q*2^31 = 2^31 - 0.25 rounds to 2^31 -> halved, shift + 1.
  assert.deepEqual(quantizeMultiplier((1 - 2 ** -33) * 2 ** -3), { multiplier: 2 ** 30, shift: -2 });
  // 2^-32 = 0.5 * 2^-31: shift -31 is kept.
  assert.deepEqual(quantizeMultiplier(2 ** -32), { multiplier: 2 ** 30, shift: -31 });
  // Just below: shift -32 < -31 flushes to zero.
  assert.deepEqual(quantizeMultiplier(2 ** -33), { multiplier: 0, shift: 0 });
  assert.deepEqual(quantizeMultiplier(0.99 * 2 ** -32), { multiplier: 0, shift: 0 });
  // Rounding up into the flush boundary: (1 - 2^-40) * 2^-32 -> 2^31 -> 2^30, shift -31.
  assert.deepEqual(quantizeMultiplier((1 - 2 ** -40) * 2 ** -32), { multiplier: 2 ** 30, shift: -31 });
  assert.throws(() => quantizeMultiplier(Number.NaN), RangeError);
  assert.throws(() => quantizeMultiplier(Infinity), RangeError);
});

test('quantizeMultiplier equals a slow independent version on random doubles', () => {
  const rnd = mulberry32(1);
  for (let k = 0; k < 20000; k++) {
    const m = (rnd() < 0.5 ? -1 : 1) * rnd() * 2 ** randInt(rnd, -40, 40);
    assert.deepEqual(quantizeMultiplier(m), slowQuantizeMultiplier(m), String(m));
  }
});

test('quantizeMultiplierGreaterThanOne checks like the C++', () => {
  assert.deepEqual(quantizeMultiplierGreaterThanOne(1.5), { multiplier: 1610612736, shift: 1 });
  assert.deepEqual(quantizeMultiplierGreaterThanOne(2 ** 31 - 1), {
    multiplier: 2 ** 31 - 1,
    shift: 31,
  });
  assert.throws(() => quantizeMultiplierGreaterThanOne(1), RangeError);
  assert.throws(() => quantizeMultiplierGreaterThanOne(0.5), RangeError);
});

// ---------------------------------------------------------------------------
// SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, MultiplyByQuantizedMultiplier
// ---------------------------------------------------------------------------

test('SRDHM: hand-checked values', () => {
  assert.equal(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN), INT32_MAX);
  // (2^31-1)^2 / 2^31 = 2^31 - 2 + 2^-31, +0.5, truncated.
  assert.equal(saturatingRoundingDoublingHighMul(INT32_MAX, INT32_MAX), 2147483646);
  // -2^31 * (2^31-1) / 2^31 = -(2^31 - 1) exactly.
  assert.equal(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MAX), -2147483647);
  // 3 * 2^30 / 2^31 = 1.5 -> 2 (positive tie goes up).
  assert.equal(saturatingRoundingDoublingHighMul(3, 2 ** 30), 2);
  // -1.5: nudge 1 - 2^30, trunc((-3*2^30 + 1 - 2^30) / 2^31) = trunc(-2 + 2^-31) = -1.
  assert.equal(saturatingRoundingDoublingHighMul(-3, 2 ** 30), -1);
  // -2.5 -> -2, -2.75 -> -3: negative ties toward +inf, others to nearest.
  assert.equal(saturatingRoundingDoublingHighMul(-5, 2 ** 30), -2);
  assert.equal(saturatingRoundingDoublingHighMul(-11, 2 ** 29), -3);
  // -0.5 -> 0 (and not -0).
  assert.ok(Object.is(saturatingRoundingDoublingHighMul(-1, 2 ** 30), 0));
  assert.equal(saturatingRoundingDoublingHighMul(0, INT32_MIN), 0);
});

test('SRDHM equals the BigInt definition on random int32 pairs', () => {
  const rnd = mulberry32(2);
  for (let k = 0; k < 200000; k++) {
    const a = randInt32(rnd);
    const b = randInt32(rnd);
    assert.equal(saturatingRoundingDoublingHighMul(a, b), srdhmBig(a, b), `${a} * ${b}`);
  }
});

test('RoundingDivideByPOT: ties in both modes, hand-checked', () => {
  const away = (x: number, e: number) => roundingDivideByPOT(x, e);
  const up = (x: number, e: number) => roundingDivideByPOT(x, e, 'toward-positive');
  assert.equal(away(5, 1), 3); // 2.5
  assert.equal(up(5, 1), 3);
  assert.equal(away(-5, 1), -3); // -2.5
  assert.equal(up(-5, 1), -2);
  assert.equal(away(-6, 2), -2); // -1.5
  assert.equal(up(-6, 2), -1);
  assert.equal(away(7, 2), 2); // 1.75
  assert.equal(away(-7, 2), -2); // -1.75, not a tie
  assert.equal(up(-7, 2), -2);
  assert.equal(away(-5, 2), -1); // -1.25
  assert.equal(away(123, 0), 123);
  assert.equal(away(INT32_MIN, 31), -1);
  assert.equal(away(-(2 ** 30), 31), -1); // -0.5
  assert.equal(up(-(2 ** 30), 31), 0);
  assert.equal(away(2 ** 30, 31), 1); // 0.5
  assert.equal(away(INT32_MAX, 31), 1);
  assert.ok(isNegativeTie(-6, 2));
  assert.ok(!isNegativeTie(6, 2));
  assert.ok(!isNegativeTie(-7, 2));
  assert.ok(!isNegativeTie(-6, 0));
  assert.throws(() => away(1, 32), RangeError);
});

test('RoundingDivideByPOT equals the rounding definition on random inputs', () => {
  const rnd = mulberry32(3);
  for (let k = 0; k < 100000; k++) {
    const x = randInt32(rnd);
    const e = randInt(rnd, 0, 31);
    for (const ties of ['away-from-zero', 'toward-positive'] as const) {
      assert.equal(roundingDivideByPOT(x, e, ties), Number(roundDivPow2Big(B(x), e, ties)), `${x} ${e} ${ties}`);
    }
  }
});

test('MultiplyByQuantizedMultiplier: hand-checked values', () => {
  // 100 * 0.5 * 2^-1 = 25.
  assert.equal(multiplyByQuantizedMultiplier(100, 2 ** 30, -1), 25);
  // 3 * 0.5 * 2^2 = 6 (left shift path).
  assert.equal(multiplyByQuantizedMultiplier(3, 2 ** 30, 2), 6);
  // -12 * 0.5 = -6 exactly, then -6 / 4 = -1.5: tie.
  assert.equal(multiplyByQuantizedMultiplier(-12, 2 ** 30, -2), -2);
  assert.equal(multiplyByQuantizedMultiplier(-12, 2 ** 30, -2, 'toward-positive'), -1);
  // -10 * 0.5 / 4 = -1.25.
  assert.equal(multiplyByQuantizedMultiplier(-10, 2 ** 30, -2, 'toward-positive'), -1);
});

test('gemmlowp constants equal round(value * 2^fractional_bits), as CHECKED_FIXEDPOINT_CONSTANT asserts', () => {
  const c = GEMMLOWP_CONSTANTS;
  assert.equal(c.expMinusOneEighth, Math.round(Math.exp(-1 / 8) * 2 ** 31));
  assert.equal(c.oneThird, Math.round(2 ** 31 / 3));
  assert.equal(c.fortyEightOverSeventeen, Math.round((48 / 17) * 2 ** 29));
  assert.equal(c.minusThirtyTwoOverSeventeen, Math.round((-32 / 17) * 2 ** 29));
  assert.equal(c.expBarrel.length, 7);
  for (const [e, raw] of c.expBarrel) assert.equal(raw, Math.round(Math.exp(-(2 ** e)) * 2 ** 31), `exp(-2^${e})`);
});

test('exp_on_negative_values (Q5.26 in) and one_over_one_plus_x track float64', () => {
  // exp(0) is exactly One (the a == 0 select), by hand.
  assert.equal(expOnNegativeValues(0, 5), INT32_MAX);
  const rnd = mulberry32(8);
  for (let k = 0; k < 20000; k++) {
    const a = -Math.floor(rnd() * 32 * 2 ** 26); // (-32, 0] in Q5.26
    const got = expOnNegativeValues(a, 5) / 2 ** 31;
    // The 4th-order Taylor step around -1/8 on a 1/4-wide interval errs by up to
    // (1/8)^5 / 5! ~ 2.5e-7, so allow 2^-21.
    assert.ok(Math.abs(got - Math.exp(a / 2 ** 26)) < 2 ** -21, `exp(${a / 2 ** 26}) = ${got}`);
    const x = Math.floor(rnd() * 2 ** 31); // [0, 1) in Q0.31
    const inv = oneOverOnePlusXForXIn01(x) / 2 ** 31;
    assert.ok(Math.abs(inv - 1 / (1 + x / 2 ** 31)) < 2 ** -26, `1/(1+${x / 2 ** 31}) = ${inv}`);
  }
});

// ---------------------------------------------------------------------------
// FULLY_CONNECTED
// ---------------------------------------------------------------------------

/**
 * By hand: input scale 0.5 zp 1, weight scale 0.25 (per-tensor), output scale 0.5
 * zp -3. Real multiplier = f32(0.5 * 0.25) / 0.5 = 0.25 -> (2^30, -1).
 * x = [3, -1, 5] -> x - zp = [2, -2, 4].
 * row 0: 1*2 + 2*(-2) + 3*4 = 10, + bias 10 = 20 -> 20 * 0.25 = 5 -> 5 - 3 = 2.
 * row 1: -4*2 + 5*(-2) - 6*4 = -42, + bias -20 = -62 -> SRDHM = -31, -31/2 = -15.5:
 *        a negative tie -> -16 (TFLM) or -15 (toward +inf), -3 -> -19 / -18.
 * With ReLU the floor is the output zero point -3.
 */
const HAND_FC = dense({
  name: 'hand',
  inputSize: 3,
  outputSize: 2,
  weights: new Int8Array([1, 2, 3, -4, 5, -6]),
  weightScales: new Float32Array([0.25]),
  bias: new Int32Array([10, -20]),
  input: { scale: 0.5, zeroPoint: 1 },
  output: { scale: 0.5, zeroPoint: -3 },
});
const HAND_X = new Int8Array([3, -1, 5]);

test('fullyConnectedInt8: a tiny layer computed by hand', () => {
  const prepared = prepareFullyConnected(HAND_FC);
  assert.deepEqual([...prepared.multipliers], [2 ** 30, 2 ** 30]);
  assert.deepEqual([...prepared.shifts], [-1, -1]);
  const out = new Int8Array(2);
  assert.equal(fullyConnectedInt8(prepared, HAND_X, out), 1);
  assert.deepEqual([...out], [2, -19]);
  assert.equal(fullyConnectedInt8(prepared, HAND_X, out, 'toward-positive'), 1);
  assert.deepEqual([...out], [2, -18]);

  const relu = prepareFullyConnected({ ...HAND_FC, activation: 'relu' });
  assert.equal(relu.activationMin, -3);
  fullyConnectedInt8(relu, HAND_X, out);
  assert.deepEqual([...out], [2, -3]);

  // Per-channel scales [0.25, 0.5]: channel 1 multiplier 0.5 -> (2^30, 0), -62*0.5 = -31, -3 -> -34.
  const pc = prepareFullyConnected({ ...HAND_FC, weightScales: new Float32Array([0.25, 0.5]) });
  assert.equal(pc.perChannel, true);
  assert.equal(fullyConnectedInt8(pc, HAND_X, out), 0);
  assert.deepEqual([...out], [2, -34]);
});

test('per-tensor multiplier uses a float32 product, per-channel a double one', () => {
  // Find scales where the two formulas quantize differently (found by search
  // so the test does not depend on a magic constant), then check which one
  // prepare used.
  const rnd = mulberry32(4);
  let found = 0;
  for (let k = 0; k < 100000 && found < 5; k++) {
    const si = Math.fround(rnd() * 0.05 + 1e-4);
    const sw = Math.fround(rnd() * 0.02 + 1e-5);
    const so = Math.fround(rnd() * 0.5 + 1e-3);
    const viaFloat = quantizeMultiplier(Math.fround(si * sw) / so);
    const viaDouble = quantizeMultiplier((si * sw) / so);
    if (viaFloat.multiplier === viaDouble.multiplier) continue;
    found++;
    const layer = dense({
      inputSize: 1,
      outputSize: 2,
      weightScales: new Float32Array([sw]),
      input: { scale: si, zeroPoint: 0 },
      output: { scale: so, zeroPoint: 0 },
    });
    assert.equal(prepareFullyConnected(layer).multipliers[0], viaFloat.multiplier);
    const perChannel = prepareFullyConnected({ ...layer, weightScales: new Float32Array([sw, sw]) });
    assert.equal(perChannel.multipliers[0], viaDouble.multiplier);
    assert.equal(effectiveOutputScale(layer, 0), Math.fround(si * sw) / so);
  }
  assert.ok(found > 0, 'expected some scales where float and double products differ');
});

function randomLayer(rnd: () => number, perChannel: boolean, tieHeavy: boolean): Int8Dense {
  const inputSize = randInt(rnd, 1, tieHeavy ? 8 : 200);
  const outputSize = randInt(rnd, 2, 24);
  const weights = new Int8Array(inputSize * outputSize).map(() => randInt(rnd, -127, 127));
  const biasRange = rnd() < 0.5 ? 1000 : 2 ** 20;
  const bias = new Int32Array(outputSize).map(() => randInt(rnd, -biasRange, biasRange));
  // Power-of-two scales give multipliers of exactly 2^30 and many exact ties.
  const scale = () =>
    tieHeavy ? 2 ** randInt(rnd, -6, 0) : Math.fround(rnd() * 2 ** randInt(rnd, -12, 0) + 1e-6);
  const weightScales = new Float32Array(perChannel ? outputSize : 1).map(scale);
  return {
    name: 'random',
    inputSize,
    outputSize,
    weights,
    weightScales,
    bias,
    input: { scale: scale(), zeroPoint: randInt(rnd, -128, 127) },
    output: { scale: tieHeavy ? 2 ** randInt(rnd, -2, 6) : Math.fround(rnd() * 4 + 1e-3), zeroPoint: randInt(rnd, -128, 127) },
    activation: rnd() < 0.5 ? 'relu' : 'linear',
  };
}

test('fullyConnectedInt8 equals a slow BigInt implementation on random layers', () => {
  const rnd = mulberry32(5);
  let ties = 0;
  let differing = 0;
  for (let k = 0; k < 400; k++) {
    const layer = randomLayer(rnd, k % 2 === 1, k % 4 >= 2);
    const prepared = prepareFullyConnected(layer);
    const out = new Int8Array(layer.outputSize);
    const outUp = new Int8Array(layer.outputSize);
    for (let s = 0; s < 5; s++) {
      const x = new Int8Array(layer.inputSize).map(() => randInt(rnd, -128, 127));
      for (const ties_ of ['away-from-zero', 'toward-positive'] as const) {
        const expected = slowFullyConnected(layer, x, ties_);
        const got = fullyConnectedInt8(prepared, x, ties_ === 'away-from-zero' ? out : outUp, ties_);
        assert.deepEqual([...(ties_ === 'away-from-zero' ? out : outUp)], expected.out);
        assert.equal(got, expected.negativeTies);
        if (ties_ === 'away-from-zero') ties += got;
      }
      // The two modes differ by at most one step, and only where there were ties.
      let d = 0;
      for (let c = 0; c < out.length; c++) {
        assert.ok(outUp[c]! - out[c]! === 0 || outUp[c]! - out[c]! === 1);
        if (outUp[c] !== out[c]) d++;
      }
      differing += d;
    }
  }
  assert.ok(ties > 50, `the random layers should exercise negative ties (saw ${ties})`);
  assert.ok(differing > 0 && differing <= ties);
});

// ---------------------------------------------------------------------------
// SOFTMAX
// ---------------------------------------------------------------------------

test('softmax prepare: hand-checked multiplier, shift and diff_min', () => {
  // scale 1/16, beta 1: 2^-4 * 2^26 = 2^22 -> frexp (0.5, 23) -> (2^30, 23);
  // diff_min = -floor(31 * 2^26 / 2^23) = -248.
  assert.deepEqual(prepareSoftmaxInt8({ scale: 1 / 16, zeroPoint: 0 }, 1), {
    inputMultiplier: 2 ** 30,
    inputLeftShift: 23,
    diffMin: -248,
  });
  // Capped at 2^31 - 1: scale 64 * 2^26 = 2^32 -> (2^31 - 1, 31), diff_min = -floor(31 / 32) = 0.
  assert.deepEqual(prepareSoftmaxInt8({ scale: 64, zeroPoint: 0 }, 1), {
    inputMultiplier: 2 ** 31 - 1,
    inputLeftShift: 31,
    diffMin: -0,
  });
  assert.throws(() => prepareSoftmaxInt8({ scale: 2 ** -27, zeroPoint: 0 }, 1), UnsupportedModelError);
});

test('getReciprocal: 1/1.25 and 1/1 by hand', () => {
  // x = 10 * 2^19 (ten exp(0) terms, Q12.19): clz = 9, bits over unit = 3,
  // shifted = 5*2^29 - 2^31 = 2^29 (0.25 in Q0.31): 1/(1 + 0.25) = 0.8 -> ~1717986918.
  const r = getReciprocal(10 * 2 ** 19, 12);
  assert.equal(r.numBitsOverUnit, 3);
  assert.ok(Math.abs(r.scale - 0.8 * 2 ** 31) < 64, String(r.scale));
  const one = getReciprocal(2 ** 19, 12);
  assert.equal(one.numBitsOverUnit, 0);
  assert.ok(INT32_MAX - one.scale < 64, String(one.scale));
});

test('softmax: golden values derived by hand-following reference_ops::Softmax', () => {
  const p = prepareSoftmaxInt8({ scale: 0.1, zeroPoint: 0 }, 1);
  // f32(0.1) * 2^26 ~= 6710886.5 -> frexp exponent 23, so left shift 23 and
  // diff_min = -floor(31 * 2^26 / 2^23) = -248.
  assert.equal(p.inputLeftShift, 23);
  assert.equal(p.diffMin, -248);
  const out = new Int8Array(10);

  // Ten equal inputs: each diff 0 -> exp = One = 2^31 - 1 -> Rescale<12> = 2^19;
  // sum = 10 * 2^19 -> reciprocal ~0.8 * 2^31, num_bits_over_unit 3, exponent 3 + 23 = 26;
  // SRDHM(~0.8 * 2^31, 2^31 - 1) / 2^26 ~= 25.6 -> 26; 26 - 128 = -102.
  softmaxInt8(p, new Int8Array(10).fill(17), out);
  assert.deepEqual([...out], new Array(10).fill(-102));

  // One at 127, the rest at -128: diff -255 < diff_min -> -128 without exp;
  // sum = 2^19 -> reciprocal ~(2^31 - 1), exponent 0 + 23; 2^31 / 2^23 = 256 -> 128, clamped to 127.
  const one = new Int8Array(10).fill(-128);
  one[3] = 127;
  softmaxInt8(p, one, out);
  assert.deepEqual([...out], [-128, -128, -128, 127, -128, -128, -128, -128, -128, -128]);

  // Two at the max: sum = 2^20 -> num_bits_over_unit 1, exponent 24; 2^31 / 2^24 = 128 -> 0.
  const two = new Int8Array(10).fill(-128);
  two[0] = 50;
  two[9] = 50;
  softmaxInt8(p, two, out);
  assert.deepEqual([...out], [0, -128, -128, -128, -128, -128, -128, -128, -128, 0]);
});

test('softmax is within one step of a float64 softmax on random logits', () => {
  const rnd = mulberry32(6);
  let exactCount = 0;
  let total = 0;
  for (let k = 0; k < 3000; k++) {
    const scale = Math.fround(rnd() * 0.3 + 0.005);
    const beta = k % 5 === 0 ? Math.fround(rnd() * 2 + 0.1) : 1;
    const zp = randInt(rnd, -128, 127);
    const depth = randInt(rnd, 2, 16);
    const x = new Int8Array(depth).map(() => randInt(rnd, -128, 127));
    const out = new Int8Array(depth);
    softmaxInt8(prepareSoftmaxInt8({ scale, zeroPoint: zp }, beta), x, out);
    const max = Math.max(...x);
    const e = [...x].map((v) => Math.exp(beta * scale * (v - max)));
    const sum = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < depth; c++) {
      const expected = Math.min(127, Math.max(-128, Math.round((e[c]! / sum) * 256) - 128));
      assert.ok(Math.abs(out[c]! - expected) <= 1, `k=${k} c=${c}: ${out[c]} vs ${expected}`);
      if (out[c] === expected) exactCount++;
      total++;
    }
  }
  assert.ok(exactCount / total > 0.9, `mostly exact (${exactCount}/${total})`);
});

// ---------------------------------------------------------------------------
// Interpreter, input quantization, validation
// ---------------------------------------------------------------------------

const Q_IN: QuantParams = { scale: Math.fround(1 / 255), zeroPoint: -128 };

test('quantizeInput: a normalized model maps pixel p to exactly p - 128', () => {
  const pixels = new Uint8Array(256).map((_, i) => i);
  const q = quantizeInput(pixels, 0, Q_IN, true, 256);
  for (let p = 0; p < 256; p++) assert.equal(q[p], p - 128);
  // Default length: one 28x28 sample.
  const images = new Uint8Array(3 * 784).map((_, i) => i % 251);
  assert.deepEqual([...quantizeInput(images, 784, Q_IN, true)], [...images.subarray(784, 1568)].map((p) => p - 128));
  assert.throws(() => quantizeInput(images, 2 * 784 + 1, Q_IN, true), RangeError);
  // Offset and length select one image out of a batch.
  assert.deepEqual([...quantizeInput(pixels, 10, Q_IN, true, 3)], [-118, -117, -116]);
  // Not normalized: real = p; scale 2, zp 0: round(p / 2) half away from zero, clamp at 127.
  const raw = quantizeInput(new Uint8Array([0, 1, 3, 5, 255]), 0, { scale: 2, zeroPoint: 0 }, false, 5);
  assert.deepEqual([...raw], [0, 1, 2, 3, 127]);
  assert.throws(() => quantizeInput(pixels, 250, Q_IN, true, 10), RangeError);
});

test('dequantize is float32(scale * (q - zp))', () => {
  assert.deepEqual([...dequantize(new Int8Array([-128, 0, 127]), { scale: 0.5, zeroPoint: -128 })], [0, 64, 127.5]);
});

function handModel(softmax: boolean): Int8Model {
  const second = dense({
    name: 'second',
    inputSize: 2,
    outputSize: 2,
    weights: new Int8Array([1, 0, 0, 1]),
    weightScales: new Float32Array([1]),
    input: HAND_FC.output,
    output: HAND_FC.output,
  });
  return {
    kind: 'int8',
    name: 'hand',
    classNames: ['a', 'b'],
    inputShape: [3],
    input: HAND_FC.input,
    layers: [HAND_FC, second],
    softmax: softmax ? { output: { scale: 1 / 256, zeroPoint: -128 }, beta: 1 } : null,
  };
}

test('Int8Interpreter chains layers, counts ties, applies softmax', () => {
  // Layer 1 gives [2, -19] (one negative tie, see the hand FC test). Layer 2 is
  // identity-like: multiplier f32(0.5 * 1) / 0.5 = 1 -> (2^30, 1); input offset +3:
  // [5, -16] -> *1 -> [5, -16] - 3 = [2, -19], no ties (shift > 0).
  const it = new Int8Interpreter(handModel(false));
  const r = it.run(HAND_X);
  assert.deepEqual([...r.logits], [2, -19]);
  assert.deepEqual([...r.output], [2, -19]);
  assert.equal(r.negativeTies, 1);
  const up = new Int8Interpreter(handModel(false), { ties: 'toward-positive' }).run(HAND_X);
  assert.deepEqual([...up.logits], [2, -18]);

  const sm = new Int8Interpreter(handModel(true)).run(HAND_X);
  assert.deepEqual([...sm.logits], [2, -19]);
  // Logit diff -21 at scale 0.5 -> exp(-10.5) ~ 2.8e-5: [~1, ~0] -> [127, -128].
  assert.deepEqual([...sm.output], [127, -128]);
  // Results are copies: another run does not change them.
  it.run(new Int8Array([0, 0, 0]));
  assert.deepEqual([...r.logits], [2, -19]);
});

test('validateInt8Model rejects inconsistent models', () => {
  const good = handModel(true);
  validateInt8Model(good);
  const bad = (patch: Partial<Int8Model>) => ({ ...good, ...patch }) as Int8Model;
  assert.throws(() => validateInt8Model(bad({ inputShape: [4] })), UnsupportedModelError);
  assert.throws(() => validateInt8Model(bad({ layers: [] })), UnsupportedModelError);
  assert.throws(() => validateInt8Model(bad({ input: { scale: 1, zeroPoint: 1 } })), UnsupportedModelError);
  assert.throws(
    () => validateInt8Model(bad({ softmax: { output: { scale: 1 / 255, zeroPoint: -128 }, beta: 1 } })),
    UnsupportedModelError,
  );
  assert.throws(() => validateInt8Model(bad({ classNames: ['a'] })), UnsupportedModelError);
  const [l0, l1] = good.layers as [Int8Dense, Int8Dense];
  assert.throws(
    () => validateInt8Model(bad({ layers: [l0, { ...l1, inputSize: 3, weights: new Int8Array(6) }] })),
    UnsupportedModelError,
  );
  assert.throws(
    () => validateInt8Model(bad({ layers: [{ ...l0, weights: new Int8Array(5) }, l1] })),
    UnsupportedModelError,
  );
  assert.throws(
    () => validateInt8Model(bad({ layers: [{ ...l0, weightScales: new Float32Array(3).fill(1) }, l1] })),
    UnsupportedModelError,
  );
  assert.throws(
    () => validateInt8Model(bad({ layers: [l0, { ...l1, input: { scale: 0.25, zeroPoint: -3 } }] })),
    UnsupportedModelError,
  );
  assert.throws(
    () => validateInt8Model(bad({ layers: [{ ...l0, weights: new Int8Array([-128, 0, 0, 0, 0, 0]) }, l1] })),
    UnsupportedModelError,
  );
  assert.throws(
    () => validateInt8Model(bad({ layers: [{ ...l0, bias: [1, 2] as unknown as Int32Array }, l1] })),
    TypeError,
  );
  assert.throws(() => validateInt8Model({ kind: 'float32' } as unknown as Int8Model), TypeError);
});

test('speed: 10,000 samples of a 784-128-10 model run in seconds', () => {
  const rnd = mulberry32(7);
  const q1 = { scale: Math.fround(0.05), zeroPoint: -128 };
  const q2 = { scale: Math.fround(0.2), zeroPoint: 10 };
  const model: Int8Model = {
    kind: 'int8',
    name: 'speed',
    classNames: [],
    inputShape: [28, 28],
    input: Q_IN,
    layers: [
      dense({
        inputSize: 784,
        outputSize: 128,
        weights: new Int8Array(784 * 128).map(() => randInt(rnd, -127, 127)),
        weightScales: new Float32Array(128).map(() => Math.fround(0.001 + rnd() * 0.01)),
        input: Q_IN,
        output: q1,
        activation: 'relu',
      }),
      dense({
        inputSize: 128,
        outputSize: 10,
        weights: new Int8Array(1280).map(() => randInt(rnd, -127, 127)),
        input: q1,
        output: q2,
      }),
    ],
    softmax: { output: { scale: 1 / 256, zeroPoint: -128 }, beta: 1 },
  };
  const it = new Int8Interpreter(model);
  const pixels = new Uint8Array(784 * 10000).map(() => randInt(rnd, 0, 255));
  const x = new Int8Array(784);
  const start = performance.now();
  for (let k = 0; k < 10000; k++) it.run(quantizeInput(pixels, k * 784, Q_IN, true, 784, x));
  const ms = performance.now() - start;
  assert.ok(ms < 20000, `took ${ms.toFixed(0)} ms`);
});
