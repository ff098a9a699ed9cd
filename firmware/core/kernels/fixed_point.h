/* Integer fixed-point helpers shared by the int8 kernels, bit-exact with
 * TFLite Micro's reference kernels and with src/reference/fixed-point.ts:
 *
 * - tensorflow/lite/kernels/internal/common.{h,cc}: MultiplyByQuantizedMultiplier
 *   (double-rounding path, TFLITE_SINGLE_ROUNDING off, TFLM's default),
 *   MultiplyByQuantizedMultiplierGreaterThanOne, GetReciprocal.
 * - tensorflow/lite/kernels/internal/quantization_util.cc: QuantizeMultiplier,
 *   QuantizeMultiplierGreaterThanOne (run once at prepare time, never per MAC).
 * - gemmlowp fixedpoint/fixedpoint.h: SaturatingRoundingDoublingHighMul,
 *   RoundingDivideByPOT, SaturatingRoundingMultiplyByPOT, RoundingHalfSum,
 *   exp_on_negative_values, one_over_one_plus_x_for_x_in_0_1.
 *
 * Where the C++ relies on int32 wrap-around (gemmlowp Add/Sub, x * (1 << s)),
 * these use uint32 arithmetic so the wrap is defined behaviour in C. Right
 * shifts of negative values are arithmetic (GCC and Clang guarantee it).
 *
 * Header-only (static inline) so the kernels stay one function per file. */
#ifndef TINYML_KERNELS_FIXED_POINT_H
#define TINYML_KERNELS_FIXED_POINT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TML_INT32_MIN ((int32_t)(-2147483647 - 1))
#define TML_INT32_MAX ((int32_t)2147483647)

static inline int32_t tml_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t tml_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
/* x * 2^shift modulo 2^32, shift in [0, 31]. */
static inline int32_t tml_wrap_shl(int32_t x, int shift) { return (int32_t)((uint32_t)x << shift); }

/* gemmlowp SaturatingRoundingDoublingHighMul (= ARM VQRDMULH): round(a*b / 2^31),
 * ties toward +inf via the nudge; INT32_MIN * INT32_MIN saturates to INT32_MAX. */
static inline int32_t tml_srdhm(int32_t a, int32_t b) {
  if (a == TML_INT32_MIN && b == TML_INT32_MIN) return TML_INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, ties away from zero; exponent in [0, 31]. */
static inline int32_t tml_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier(x, multiplier, shift): shift > 0 is a left
 * shift before the high multiply, shift <= 0 a rounding right shift after it.
 * shift in [-31, 31]. */
static inline int32_t tml_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return tml_rounding_divide_by_pot(tml_srdhm(tml_wrap_shl(x, left_shift), multiplier), right_shift);
}

/* MultiplyByQuantizedMultiplierGreaterThanOne: SRDHM(x * 2^left_shift, multiplier). */
static inline int32_t tml_multiply_by_quantized_multiplier_gt_one(int32_t x, int32_t multiplier, int left_shift) {
  return tml_srdhm(tml_wrap_shl(x, left_shift), multiplier);
}

/* QuantizeMultiplier (quantization_util.cc): real ~= multiplier * 2^(shift - 31),
 * multiplier in [2^30, 2^31 - 1] or 0. Returns false for NaN / infinity.
 *
 * TFLM takes frexp(real) = f * 2^shift and round(f * 2^31) (half away from
 * zero). Both are exact operations on the double's fields, so this reads them
 * from its bits: f = m / 2^53 with m the 53-bit significand, round(f * 2^31) =
 * (m + 2^21) >> 22. The same result, without frexp, round and the soft-float
 * conversions they pull in on a Cortex-M4 (about 0.4 KB of flash). Zero and
 * subnormals (below 2^-1022, so shift < -31) give (0, 0), as TFLM's flush does. */
static inline bool tml_quantize_multiplier(double real, int32_t *multiplier, int *shift) {
  uint64_t bits;
  memcpy(&bits, &real, sizeof bits);
  const int biased = (int)(bits >> 52) & 0x7ff;
  if (biased == 0x7ff) return false;
  *multiplier = 0;
  *shift = 0;
  if (biased == 0) return true;
  int exponent = biased - 1022;
  const uint64_t significand = (bits & 0xFFFFFFFFFFFFFull) | (1ull << 52);
  const int64_t rounded = (int64_t)((significand + (1ull << 21)) >> 22);
  int64_t q_fixed = (bits >> 63) != 0 ? -rounded : rounded;
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    ++exponent;
  }
  if (exponent < -31) return true;
  *multiplier = (int32_t)q_fixed;
  *shift = exponent;
  return true;
}

/* QuantizeMultiplierGreaterThanOne: real must be > 1 (then shift >= 0). The
 * comparison reads the bits too (positive doubles order as their bits), so no
 * soft-float compare is linked. */
static inline bool tml_quantize_multiplier_gt_one(double real, int32_t *multiplier, int *left_shift) {
  uint64_t bits;
  memcpy(&bits, &real, sizeof bits);
  if ((bits >> 63) != 0 || bits <= 0x3FF0000000000000ull) return false; /* !(real > 1.0); NaN fails below */
  return tml_quantize_multiplier(real, multiplier, left_shift) && *left_shift >= 0;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>, exponent in [-31, 31]. */
static inline int32_t tml_saturating_rounding_mul_by_pot(int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return tml_rounding_divide_by_pot(x, -exponent);
  const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) return TML_INT32_MAX;
  if (x < -threshold) return TML_INT32_MIN;
  return tml_wrap_shl(x, exponent);
}

/* gemmlowp Rescale<dst_bits>(FixedPoint<int32, src_bits>). */
static inline int32_t tml_rescale(int32_t x, int src_integer_bits, int dst_integer_bits) {
  return tml_saturating_rounding_mul_by_pot(x, src_integer_bits - dst_integer_bits);
}

/* gemmlowp RoundingHalfSum: (a + b + sign) / 2 in int64, truncating. */
static inline int32_t tml_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  const int64_t sign = sum >= 0 ? 1 : -1;
  return (int32_t)((sum + sign) / 2);
}

/* gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl (Q0.31). */
static inline int32_t tml_exp_on_interval_neg_quarter_to_0(int32_t a) {
  const int32_t constant_term = 1895147668;     /* exp(-1/8), Q0.31 */
  const int32_t constant_1_over_3 = 715827883;  /* 1/3, Q0.31 */
  const int32_t x = tml_wrap_add(a, 1 << 28);   /* a + 1/8 */
  const int32_t x2 = tml_srdhm(x, x);
  const int32_t x3 = tml_srdhm(x2, x);
  const int32_t x4 = tml_srdhm(x2, x2);
  const int32_t x4_over_4 = tml_saturating_rounding_mul_by_pot(x4, -2);
  const int32_t poly = tml_saturating_rounding_mul_by_pot(
      tml_wrap_add(tml_srdhm(tml_wrap_add(x4_over_4, x3), constant_1_over_3), x2), -1);
  return tml_wrap_add(constant_term, tml_srdhm(constant_term, tml_wrap_add(x, poly)));
}

/* gemmlowp exp_on_negative_values for FixedPoint<int32, integer_bits>, a <= 0,
 * integer_bits in [1, 5] as softmax uses it (5). Result in Q0.31. */
static inline int32_t tml_exp_on_negative_values(int32_t a, int integer_bits) {
  static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = tml_wrap_sub(a & mask, one_quarter);
  int32_t result =
      tml_exp_on_interval_neg_quarter_to_0(tml_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
  const int32_t remainder = tml_wrap_sub(a_mod_quarter_minus_one_quarter, a);
  for (int e = -2; e <= 4; ++e) {
    if (integer_bits > e) {
      const int shift_amount = fractional_bits + e;
      if (shift_amount >= 0 && shift_amount <= 31 && (remainder & (int32_t)((uint32_t)1 << shift_amount)) != 0) {
        result = tml_srdhm(result, barrel[e + 2]);
      }
    }
  }
  if (integer_bits > 5) {
    const int32_t clamp = -(int32_t)((uint32_t)1 << (36 - integer_bits)); /* -32.0 */
    if (a < clamp) result = 0;
  }
  if (a == 0) result = TML_INT32_MAX;
  return result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0.31 in and out). */
static inline int32_t tml_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = tml_rounding_half_sum(a, TML_INT32_MAX);
  const int32_t constant_48_over_17 = 1515870810;       /* Q2.29 */
  const int32_t constant_neg_32_over_17 = -1010580540;  /* Q2.29 */
  const int32_t f2_one = 1 << 29;
  int32_t x = tml_wrap_add(constant_48_over_17, tml_srdhm(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = tml_srdhm(half_denominator, x);
    const int32_t one_minus = tml_wrap_sub(f2_one, half_denominator_times_x);
    x = tml_wrap_add(x, tml_rescale(tml_srdhm(x, one_minus), 4, 2));
  }
  return tml_rescale(x, 1, 0);
}

/* GetReciprocal (common.h): for x > 0 with x_integer_digits integer bits,
 * 1/x ~= return value (Q0.31) * 2^-(*num_bits_over_unit). */
static inline int32_t tml_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
  const int headroom_plus_one = __builtin_clz((uint32_t)x);
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  const uint32_t shifted = (uint32_t)x << headroom_plus_one;
  const int32_t shifted_minus_one = (int32_t)(shifted - 0x80000000u);
  return tml_one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

#endif
