/* Exact double-precision steps on IEEE-754 bits (see the header). A value is
 * handled as m * 2^e with an integer m; pack() rounds such a value, plus a
 * sticky "and a little more" bit, to the nearest double, ties to even. */
#include "exact_f64.h"

#include <string.h>

#define F64_FRACTION_MASK 0xFFFFFFFFFFFFFull /* 52 bits */

/* m * 2^e (m != 0), plus a nonzero fraction of 2^e when sticky, to the nearest double. */
static tml_f64_t pack(uint64_t m, int e, int sticky) {
  const int s = __builtin_clzll(m);
  m <<= s; /* m in [2^63, 2^64) */
  e -= s;
  /* The low 11 bits are below the 53-bit significand. A left shift by s moves a
   * sticky fraction to at most 2^s units, all below a multiple of 2^s, so it
   * never crosses the halfway point 0x400, a multiple of 2^s while s <= 10
   * (callers passing a sticky bit have s <= 9; the others are exact). */
  uint64_t mant = m >> 11;
  const uint32_t low = (uint32_t)m & 0x7FFu;
  if (low > 0x400u || (low == 0x400u && (sticky || (mant & 1u) != 0u))) {
    ++mant;
    if (mant == (1ull << 53)) {
      mant >>= 1;
      ++e;
    }
  }
  return (uint64_t)(e + 11 + 52 + 1023) << 52 | (mant & F64_FRACTION_MASK);
}

/* a = m * 2^e with m's top bit at 52 (a is a positive normal double). */
static uint64_t unpack(tml_f64_t a, int *e) {
  *e = (int)(a >> 52) - 1023 - 52;
  return (a & F64_FRACTION_MASK) | (1ull << 52);
}

/* A finite f >= 0 as m * 2^e (m = 0 for zero). */
static uint32_t unpack_f32(float f, int *e) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  const uint32_t biased = (bits >> 23) & 0xFFu;
  const uint32_t fraction = bits & 0x7FFFFFu;
  *e = biased == 0u ? -149 : (int)biased - 150;
  return biased == 0u ? fraction : fraction | 0x800000u;
}

tml_f64_t tml_f64_from_f32(float f) {
  int e;
  const uint32_t m = unpack_f32(f, &e);
  return m == 0u ? 0u : pack(m, e, 0);
}

tml_f64_t tml_f64_mul_f32(float a, float b) {
  int ea, eb;
  const uint64_t m = (uint64_t)unpack_f32(a, &ea) * unpack_f32(b, &eb);
  return m == 0u ? 0u : pack(m, ea + eb, 0);
}

tml_f64_t tml_f64_div(tml_f64_t a, tml_f64_t b) {
  if (a == 0u) return 0u;
  int ea, eb;
  /* Both significands at bit 62: the quotient is in (1/2, 2). 56 quotient bits
   * (55 or 56 significant) leave 2 or more below the 53 kept, and the
   * remainder is the sticky bit. */
  uint64_t num = unpack(a, &ea) << 10;
  const uint64_t den = unpack(b, &eb) << 10;
  uint64_t q = 0;
  for (int i = 0; i < 56; ++i) {
    q <<= 1;
    if (num >= den) {
      num -= den;
      q |= 1u;
    }
    num <<= 1;
  }
  return pack(q, ea - eb - 55, num != 0u);
}

tml_f64_t tml_f64_sum(tml_f64_t a, tml_f64_t b, bool subtract) {
  if (a < b) {
    const tml_f64_t t = a;
    a = b;
    b = t;
  }
  if (b == 0u) return a;
  if (subtract && a == b) return 0u;
  int ea, eb;
  const uint64_t big = unpack(a, &ea) << 10; /* top bit at 62: a sum fits */
  uint64_t small = unpack(b, &eb) << 10;
  const int d = ea - eb; /* >= 0: a >= b */
  int sticky = 0;
  if (d >= 64) {
    sticky = 1;
    small = 0;
  } else if (d > 0) {
    sticky = (small & ((1ull << d) - 1u)) != 0u;
    small >>= d;
  }
  /* With a sticky fraction f in (0, 1): big + small + f, or
   * big - (small + f) = (big - small - 1) + (1 - f). With d >= 2 a difference
   * keeps its top bit at 60 or above, so pack() shifts it by at most 3. */
  return pack(subtract ? big - small - (uint64_t)sticky : big + small, ea - 10, sticky);
}

double tml_f64_value(tml_f64_t bits) {
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}
