/**
 * Exact int32 fixed-point arithmetic as TFLite / TFLite Micro (TFLM) do it.
 *
 * Every function here reproduces one C++ function bit for bit; the doc comment
 * names it. Sources (read, not copied):
 * - tensorflow/tflite-micro: tensorflow/lite/kernels/internal/quantization_util.cc
 *   (QuantizeMultiplier, QuantizeMultiplierGreaterThanOne) and
 *   tensorflow/lite/kernels/internal/common.cc / common.h
 *   (MultiplyByQuantizedMultiplier, the default double-rounding path, i.e.
 *   TFLITE_SINGLE_ROUNDING off; MultiplyByQuantizedMultiplierGreaterThanOne;
 *   GetReciprocal).
 * - google/gemmlowp: fixedpoint/fixedpoint.h (SaturatingRoundingDoublingHighMul,
 *   RoundingDivideByPOT, SaturatingRoundingMultiplyByPOT, Rescale,
 *   RoundingHalfSum, exp_on_negative_values,
 *   exp_on_interval_between_negative_one_quarter_and_0_excl,
 *   one_over_one_plus_x_for_x_in_0_1).
 *
 * Values are JS numbers holding int32s. Where C++ relies on int32 wrap-around
 * (gemmlowp's Add/Sub, `x * (1 << shift)`), we wrap too (`| 0`, Math.imul).
 * Products of two int32s (up to 2^62) are computed exactly by splitting one
 * operand into 16-bit halves, so no BigInt is needed on the hot path.
 */

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

/**
 * How an exact tie (a remainder of exactly one half) is rounded in the final
 * rounding right shift of MultiplyByQuantizedMultiplier.
 * - 'away-from-zero': gemmlowp RoundingDivideByPOT, as TFLM reference kernels
 *   and CMSIS-NN (arm_nn_divide_by_power_of_two) do. The default.
 * - 'toward-positive': ties go to +infinity (-2.5 -> -2), which is what the x86
 *   host TFLite 2.9 (libtensorflowlite_c, our oracle) does for negative ties.
 *   Positive ties round up in both modes, so the two differ only on exact
 *   negative ties.
 */
export type TieRounding = 'away-from-zero' | 'toward-positive';

/** A real multiplier M as TFLite stores it: M ~= multiplier * 2^(shift - 31). */
export interface QuantizedMultiplier {
  /** Q0.31 significand, in [2^30, 2^31 - 1] (or its negation), or 0. */
  readonly multiplier: number;
  /** Power-of-two exponent; positive means a left shift. */
  readonly shift: number;
}

const TWO_POW_31 = 2147483648;

/** TfLiteRound (std::round): round half away from zero. */
export function tfliteRound(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * std::frexp for a finite non-zero double: x = fraction * 2^exponent with
 * |fraction| in [0.5, 1). Exact (scaling by a power of two never rounds here).
 */
export function frexp(x: number): { fraction: number; exponent: number } {
  if (x === 0 || !Number.isFinite(x)) return { fraction: x, exponent: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  let biased = (view.getUint16(0) >>> 4) & 0x7ff;
  let extra = 0;
  if (biased === 0) {
    // Subnormal: normalize first.
    view.setFloat64(0, x * 2 ** 64);
    biased = (view.getUint16(0) >>> 4) & 0x7ff;
    extra = -64;
  }
  const exponent = biased - 1022 + extra;
  // Set the exponent field to 1022 (values in [0.5, 1)), keep sign and mantissa.
  const hi = view.getUint16(0);
  view.setUint16(0, (hi & 0x800f) | (1022 << 4));
  return { fraction: view.getFloat64(0), exponent };
}

/**
 * QuantizeMultiplier (quantization_util.cc, the non-TFLITE_EMULATE_FLOAT and
 * non-TFLITE_SINGLE_ROUNDING build that TFLM uses by default):
 * q = frexp(M); q_fixed = TfLiteRound(q * 2^31); if q_fixed == 2^31 halve it
 * and bump the shift; a shift below -31 flushes to {0, 0}.
 * @throws RangeError for NaN or infinity (TFLITE_CHECK would abort).
 */
export function quantizeMultiplier(realMultiplier: number): QuantizedMultiplier {
  if (!Number.isFinite(realMultiplier)) {
    throw new RangeError(`quantizeMultiplier: multiplier ${realMultiplier} is not finite`);
  }
  if (realMultiplier === 0) return { multiplier: 0, shift: 0 };
  const { fraction, exponent } = frexp(realMultiplier);
  let shift = exponent;
  let qFixed = tfliteRound(fraction * TWO_POW_31);
  if (qFixed === TWO_POW_31) {
    qFixed /= 2;
    shift += 1;
  }
  // (q_fixed == -2^31 is allowed through, as in the C++ which only checks <= INT32_MAX.)
  if (shift < -31) {
    shift = 0;
    qFixed = 0;
  }
  return { multiplier: qFixed, shift };
}

/**
 * QuantizeMultiplierGreaterThanOne: TFLITE_CHECK_GT(M, 1.0), then
 * QuantizeMultiplier, then TFLITE_CHECK_GE(shift, 0).
 * @throws RangeError where the C++ CHECKs would abort.
 */
export function quantizeMultiplierGreaterThanOne(realMultiplier: number): QuantizedMultiplier {
  if (!(realMultiplier > 1)) {
    throw new RangeError(
      `quantizeMultiplierGreaterThanOne: multiplier ${realMultiplier} must be > 1`,
    );
  }
  const q = quantizeMultiplier(realMultiplier);
  if (q.shift < 0) throw new RangeError(`quantizeMultiplierGreaterThanOne: negative shift`);
  return q;
}

/**
 * gemmlowp SaturatingRoundingDoublingHighMul<int32> (= ARM VQRDMULH):
 * trunc((a*b + nudge) / 2^31) with nudge = 2^30 if a*b >= 0 else 1 - 2^30,
 * and INT32_MIN * INT32_MIN saturating to INT32_MAX. Net effect: round to
 * nearest with ties toward +infinity. Exact for all int32 a, b.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const productNonNegative = a === 0 || b === 0 || a < 0 === b < 0;
  const nudge = productNonNegative ? 1073741824 : -1073741823;
  // a*b + nudge == hi * 2^16 + lo, every partial product exact in a double.
  const bHigh = b >> 16; // signed upper half
  const bLow = b & 0xffff;
  const hi = a * bHigh; // |hi| <= 2^46
  const lo = a * bLow + nudge; // |lo| < 2^48
  const carry = Math.floor(lo / 65536);
  const rem16 = lo - carry * 65536; // in [0, 2^16)
  const h = hi + carry; // value == h * 2^16 + rem16
  const floorQ = Math.floor(h / 32768); // floor(value / 2^31)
  const exact = rem16 === 0 && h - floorQ * 32768 === 0;
  // C++ integer division truncates toward zero; value < 0 iff h < 0.
  const q = h < 0 && !exact ? floorQ + 1 : floorQ;
  return q | 0;
}

/**
 * gemmlowp RoundingDivideByPOT<int32>: x / 2^exponent rounded to nearest,
 * ties away from zero; with ties 'toward-positive', ties go up instead.
 * @param exponent 0..31
 */
export function roundingDivideByPOT(
  x: number,
  exponent: number,
  ties: TieRounding = 'away-from-zero',
): number {
  if (!(exponent >= 0 && exponent <= 31)) {
    throw new RangeError(`roundingDivideByPOT: exponent ${exponent} outside [0, 31]`);
  }
  const mask = (2 ** exponent - 1) | 0;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 && ties === 'away-from-zero' ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** True when x / 2^exponent is exactly halfway between two integers and x < 0. */
export function isNegativeTie(x: number, exponent: number): boolean {
  if (exponent <= 0 || x >= 0) return false;
  const mask = (2 ** exponent - 1) | 0;
  return (x & mask) === 2 ** (exponent - 1);
}

/**
 * MultiplyByQuantizedMultiplier(int32 x, int32 multiplier, int shift), common.cc,
 * double-rounding path (TFLITE_SINGLE_ROUNDING off, TFLM's default):
 * RoundingDivideByPOT(SRDHM(x * (1 << left_shift), multiplier), right_shift).
 * `x * (1 << left_shift)` wraps like the C++ does in practice.
 */
export function multiplyByQuantizedMultiplier(
  x: number,
  multiplier: number,
  shift: number,
  ties: TieRounding = 'away-from-zero',
): number {
  const leftShift = shift > 0 ? shift : 0;
  const rightShift = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(
    saturatingRoundingDoublingHighMul(Math.imul(x, 1 << leftShift), multiplier),
    rightShift,
    ties,
  );
}

/**
 * MultiplyByQuantizedMultiplierGreaterThanOne (common.h, double rounding):
 * SRDHM(x * (1 << leftShift), multiplier); no final rounding shift.
 */
export function multiplyByQuantizedMultiplierGreaterThanOne(
  x: number,
  multiplier: number,
  leftShift: number,
): number {
  return saturatingRoundingDoublingHighMul(Math.imul(x, 1 << leftShift), multiplier);
}

// ---------------------------------------------------------------------------
// gemmlowp FixedPoint<int32, IntegerBits> helpers. A fixed-point value is its
// raw int32; IntegerBits is tracked by the caller (kFractionalBits = 31 - bits).
// `fixedMul(a, b)` is FixedPoint operator* (integer bits add up).
// ---------------------------------------------------------------------------

/** gemmlowp Add / Sub on int32: plain, wrapping. */
export function wrappingAdd(a: number, b: number): number {
  return (a + b) | 0;
}
export function wrappingSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** gemmlowp FixedPoint operator*: SRDHM of the raws. */
export const fixedMul = saturatingRoundingDoublingHighMul;

/**
 * gemmlowp SaturatingRoundingMultiplyByPOT<exponent>(int32): a saturating left
 * shift for exponent > 0 (x > 2^(31-e) - 1 -> INT32_MAX, x < -(2^(31-e) - 1)
 * -> INT32_MIN), RoundingDivideByPOT for exponent < 0, identity for 0.
 */
export function saturatingRoundingMultiplyByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  if (exponent < 0) return roundingDivideByPOT(x, -exponent);
  const threshold = 2 ** (31 - exponent) - 1;
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return x * 2 ** exponent; // exact and in range here
}

/** gemmlowp Rescale<dstIntegerBits>(FixedPoint<int32, srcIntegerBits>). */
export function rescale(x: number, srcIntegerBits: number, dstIntegerBits: number): number {
  return saturatingRoundingMultiplyByPOT(x, srcIntegerBits - dstIntegerBits);
}

/** gemmlowp RoundingHalfSum<int32>: (a + b + sign) / 2 in int64, truncating. */
export function roundingHalfSum(a: number, b: number): number {
  const sum = a + b; // exact: |sum| <= 2^32
  const sign = sum >= 0 ? 1 : -1;
  return Math.trunc((sum + sign) / 2) | 0;
}

/** FixedPoint<int32, 0>::One() — the largest Q0.31 value, INT32_MAX. */
export const Q0_ONE = INT32_MAX;

/**
 * gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl (Q0.31 in
 * and out): Taylor expansion of exp around -1/8.
 */
export function expOnIntervalBetweenNegativeOneQuarterAnd0Excl(a: number): number {
  const constantTerm = GEMMLOWP_CONSTANTS.expMinusOneEighth;
  const constantOneOverThree = GEMMLOWP_CONSTANTS.oneThird;
  const x = wrappingAdd(a, 1 << 28); // a + 1/8
  const x2 = fixedMul(x, x);
  const x3 = fixedMul(x2, x);
  const x4 = fixedMul(x2, x2);
  const x4Over4 = saturatingRoundingMultiplyByPOT(x4, -2);
  const x4Over24PlusX3Over6PlusX2Over2 = saturatingRoundingMultiplyByPOT(
    wrappingAdd(fixedMul(wrappingAdd(x4Over4, x3), constantOneOverThree), x2),
    -1,
  );
  return wrappingAdd(
    constantTerm,
    fixedMul(constantTerm, wrappingAdd(x, x4Over24PlusX3Over6PlusX2Over2)),
  );
}

/**
 * The raw constants gemmlowp writes with GEMMLOWP_CHECKED_FIXEDPOINT_CONSTANT,
 * which (with checks on) asserts raw == FromDouble(value) = round(value * 2^fractionalBits).
 */
export const GEMMLOWP_CONSTANTS = {
  /** exp(-1/8), Q0.31 */
  expMinusOneEighth: 1895147668,
  /** 1/3, Q0.31 */
  oneThird: 715827883,
  /** 48/17, Q2.29 */
  fortyEightOverSeventeen: 1515870810,
  /** -32/17, Q2.29 */
  minusThirtyTwoOverSeventeen: -1010580540,
  /** exp_on_negative_values barrel shifter: [e, exp(-2^e) in Q0.31] */
  expBarrel: [
    [-2, 1672461947],
    [-1, 1302514674],
    [0, 790015084],
    [1, 290630308],
    [2, 39332535],
    [3, 720401],
    [4, 242],
  ] as ReadonlyArray<readonly [exponent: number, multiplier: number]>,
} as const;
const EXP_BARREL = GEMMLOWP_CONSTANTS.expBarrel;

/**
 * gemmlowp exp_on_negative_values(FixedPoint<int32, integerBits> a) -> Q0.31.
 * @param a raw value with `integerBits` integer bits, a <= 0
 */
export function expOnNegativeValues(a: number, integerBits: number): number {
  const fractionalBits = 31 - integerBits;
  const oneQuarter = 2 ** (fractionalBits - 2); // ConstantPOT<-2>
  const mask = oneQuarter - 1;
  const aModQuarterMinusOneQuarter = wrappingSub(a & mask, oneQuarter);
  let result = expOnIntervalBetweenNegativeOneQuarterAnd0Excl(
    rescale(aModQuarterMinusOneQuarter, integerBits, 0),
  );
  const remainder = wrappingSub(aModQuarterMinusOneQuarter, a);
  for (const [exponent, multiplier] of EXP_BARREL) {
    if (integerBits > exponent) {
      const shiftAmount = fractionalBits + exponent;
      if ((remainder & (2 ** shiftAmount | 0)) !== 0) result = fixedMul(result, multiplier);
    }
  }
  if (integerBits > 5) {
    const clamp = -(2 ** (36 - integerBits)); // -32.0
    if (a < clamp) result = 0;
  }
  if (a === 0) result = Q0_ONE;
  return result;
}

/**
 * gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0.31 in and out): 1 / (1 + a)
 * by three Newton-Raphson steps in Q2.29.
 */
export function oneOverOnePlusXForXIn01(a: number): number {
  const halfDenominator = roundingHalfSum(a, Q0_ONE); // Q0.31
  const constant48Over17 = GEMMLOWP_CONSTANTS.fortyEightOverSeventeen;
  const constantNeg32Over17 = GEMMLOWP_CONSTANTS.minusThirtyTwoOverSeventeen;
  const f2One = 1 << 29;
  let x = wrappingAdd(constant48Over17, fixedMul(halfDenominator, constantNeg32Over17));
  for (let i = 0; i < 3; i++) {
    const halfDenominatorTimesX = fixedMul(halfDenominator, x); // Q2.29
    const oneMinusHalfDenominatorTimesX = wrappingSub(f2One, halfDenominatorTimesX);
    // Q2 * Q2 = Q4, Rescale<2> back to Q2.
    x = wrappingAdd(x, rescale(fixedMul(x, oneMinusHalfDenominatorTimesX), 4, 2));
  }
  // ExactMulByPot<-1>: Q2.29 raw reinterpreted as Q1.30, then Rescale<0>.
  return rescale(x, 1, 0);
}

/**
 * GetReciprocal (common.h): for x > 0 with `xIntegerDigits` integer bits,
 * returns a Q0.31 scale and numBitsOverUnit such that
 * 1/x ~= scale * 2^-numBitsOverUnit.
 */
export function getReciprocal(
  x: number,
  xIntegerDigits: number,
): { scale: number; numBitsOverUnit: number } {
  if (x === 0) throw new RangeError('getReciprocal: x must be non-zero');
  const headroomPlusOne = Math.clz32(x);
  const numBitsOverUnit = xIntegerDigits - headroomPlusOne;
  const shifted = (x << headroomPlusOne) >>> 0; // uint32 shift
  const shiftedSumMinusOne = (shifted - TWO_POW_31) | 0;
  return { scale: oneOverOnePlusXForXIn01(shiftedSumMinusOne), numBitsOverUnit };
}
