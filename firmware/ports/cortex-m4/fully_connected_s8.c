/* Cortex-M4 (DSP extension) eval of int8 FULLY_CONNECTED: replaces
 * core/kernels/fully_connected_s8.c in the Cortex-M build (same header, same
 * results; build-emulator.ts picks the file). As CMSIS-NN's
 * arm_nn_vec_mat_mult_t_s8 does: two output rows at a time share each input
 * load; four int8 of a word are sign-extended in pairs with SXTB16 (plain and
 * rotated by 8) and multiplied-accumulated two at a time with SMLAD.
 * About 15 instructions per 8 MACs in the inner loop.
 *
 * SXTB16 and SMLAD are written as inline assembly rather than taken from
 * <arm_acle.h>: the Nano 33 BLE's core pins arm-none-eabi-gcc 7-2017q4, whose
 * arm_acle.h lacks __sxtb16/__smlad (an implicit declaration, then an undefined
 * reference at link). The asm is the same on GCC 7..14 and clang. */
#include <string.h>

#include "kernels/fixed_point.h"
#include "kernels/fully_connected_s8.h"

static inline uint32_t load_u32(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v); /* LDR: unaligned access is allowed on ARMv7E-M */
  return v;
}

/* Bytes 0 and 2 of x, sign-extended into two halfwords. */
static inline int32_t sxtb16(uint32_t x) {
  int32_t r;
  __asm("sxtb16 %0, %1" : "=r"(r) : "r"(x));
  return r;
}

/* Bytes 1 and 3 (x rotated right by 8), in one instruction: GCC does not fold
 * a rotate into SXTB16's operand by itself. */
static inline int32_t sxtb16_ror8(uint32_t x) {
  int32_t r;
  __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}

/* acc + a.lo * b.lo + a.hi * b.hi over signed halfwords, wrapping as the C sum
 * does. On overflow SMLAD also sets the sticky Q flag, which nothing reads. */
static inline int32_t smlad(int32_t a, int32_t b, int32_t acc) {
  int32_t r;
  __asm("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}

static inline int8_t requantize(const tml_fc_params_t *params, int32_t acc, int32_t multiplier, int32_t shift) {
  int32_t out = tml_multiply_by_quantized_multiplier(acc, multiplier, shift) + params->output_offset;
  if (out < params->activation_min) out = params->activation_min;
  if (out > params->activation_max) out = params->activation_max;
  return (int8_t)out;
}

void tml_fully_connected_s8(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights,
                            const int32_t *folded_bias, int8_t *output) {
  const uint32_t n = params->input_size;
  const uint32_t rows = params->output_size;
  const uint32_t step = params->per_channel ? 1u : 0u;
  const int32_t *multiplier = params->multipliers;
  const int32_t *shift = params->shifts;
  uint32_t c = 0;

  for (; c + 1u < rows; c += 2u) {
    const int8_t *w0 = weights;
    const int8_t *w1 = weights + n;
    const int8_t *x = input;
    int32_t acc0 = 0, acc1 = 0;
    uint32_t i = n >> 2;
    while (i-- > 0u) {
      const uint32_t xw = load_u32(x);
      const int32_t x02 = sxtb16(xw);
      const int32_t x13 = sxtb16_ror8(xw);
      const uint32_t ww0 = load_u32(w0);
      const uint32_t ww1 = load_u32(w1);
      acc0 = smlad(sxtb16(ww0), x02, acc0);
      acc0 = smlad(sxtb16_ror8(ww0), x13, acc0);
      acc1 = smlad(sxtb16(ww1), x02, acc1);
      acc1 = smlad(sxtb16_ror8(ww1), x13, acc1);
      x += 4;
      w0 += 4;
      w1 += 4;
    }
    for (i = n & 3u; i > 0u; --i) {
      acc0 += *w0++ * *x;
      acc1 += *w1++ * *x++;
    }
    weights += 2u * n;
    output[c] = requantize(params, tml_wrap_add(acc0, folded_bias[c]), *multiplier, *shift);
    multiplier += step;
    shift += step;
    output[c + 1u] = requantize(params, tml_wrap_add(acc1, folded_bias[c + 1u]), *multiplier, *shift);
    multiplier += step;
    shift += step;
  }

  if (c < rows) {
    const int8_t *x = input;
    int32_t acc = 0;
    uint32_t i = n >> 2;
    while (i-- > 0u) {
      const uint32_t xw = load_u32(x);
      const uint32_t ww = load_u32(weights);
      acc = smlad(sxtb16(ww), sxtb16(xw), acc);
      acc = smlad(sxtb16_ror8(ww), sxtb16_ror8(xw), acc);
      x += 4;
      weights += 4;
    }
    for (i = n & 3u; i > 0u; --i) acc += *weights++ * *x++;
    output[c] = requantize(params, tml_wrap_add(acc, folded_bias[c]), *multiplier, *shift);
  }
}
