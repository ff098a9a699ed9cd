/* Cortex-M4 (DSP extension) eval of int8 FULLY_CONNECTED: replaces
 * core/kernels/fully_connected_s8.c in the Cortex-M build (same header, same
 * results; the build picks the file). Weights stay in the layout TFLM reads
 * ([output_size][input_size] row-major, any alignment).
 *
 * Four output rows per pass: each word of input is loaded and sign-extended
 * (SXTB16, plain and rotated by 8) once and shared by the four rows, so the
 * input costs 3 instructions per 16 MACs; each weight word costs LDR, two
 * SXTB16 and two SMLAD (5 instructions per 4 MACs). Rows 1 and 3 are read
 * through register offsets from rows 0 and 2 ([w, n]), which keeps the 4
 * accumulators, 3 pointers, the stride, the loop counters and 4 temporaries in
 * the 14 usable registers.
 *
 * Inner loop, per input word and 4 rows (16 MACs), 23 instructions; Cortex-M4
 * cycles from the TRM timing tables: 5 LDR x 2 (each is followed by a
 * dependent SXTB16, so none pipelines with the next load) + 10 SXTB16 x 1 +
 * 8 SMLAD x 1 = 28 cycles, i.e. 1.75 cycles/MAC; the loop is unrolled 8 words,
 * so SUBS + taken BNE (1 + 1..3 refill) add ~3 cycles per 128 MACs. Weights in
 * flash add wait states on the Nano (nRF52840: cache hit 0 wait states).
 *
 * Written as a naked function in basic inline assembly rather than with
 * <arm_acle.h> intrinsics: the Nano 33 BLE's core pins arm-none-eabi-gcc
 * 7-2017q4, whose arm_acle.h lacks __sxtb16/__smlad, and only hand-allocated
 * registers fit the 4-row loop. The asm is the same on GCC 7..14 and clang. */
#include "kernels/fixed_point.h"
#include "kernels/fully_connected_s8.h"

/* acc[r] += sum_{i < 4*(n/4)} w[r*n + i] * x[i] for r = 0..3, where w is row 0
 * of four consecutive rows of n bytes. SMLAD wraps like the C sum (and sets
 * the sticky Q flag on overflow, which nothing reads). */
void tml_fc_s8_dot4(const int8_t *x, const int8_t *w, uint32_t n, int32_t acc[4]);

__attribute__((naked)) void tml_fc_s8_dot4(const int8_t *x, const int8_t *w, uint32_t n, int32_t acc[4]) {
  (void)x;
  (void)w;
  (void)n;
  (void)acc;
  __asm volatile(
      ".syntax unified\n"
      /* r0 x, r1 row 0, r3 row 2 (rows 1, 3 at [r1, r2], [r3, r2]), r2 n,
       * r4-r7 acc, r9/r10 input halves, r11/r12 weight halves,
       * lr 8-word blocks left, r8 single words left. */
      "  push {r3-r11, lr}\n"
      "  ldr r4, [r3]\n"
      "  ldr r5, [r3, #4]\n"
      "  ldr r6, [r3, #8]\n"
      "  ldr r7, [r3, #12]\n"
      "  add r3, r1, r2, lsl #1\n"
      "  lsr lr, r2, #2\n"
      "  and r8, lr, #7\n"
      "  lsrs lr, lr, #3\n"
      "  beq 2f\n"
      ".macro TML_DOT4_WORD\n"
      "  ldr r10, [r0], #4\n"
      "  sxtb16 r9, r10\n"
      "  sxtb16 r10, r10, ror #8\n"
      "  ldr r11, [r1, r2]\n"
      "  sxtb16 r12, r11, ror #8\n"
      "  sxtb16 r11, r11\n"
      "  smlad r5, r11, r9, r5\n"
      "  smlad r5, r12, r10, r5\n"
      "  ldr r11, [r1], #4\n"
      "  sxtb16 r12, r11, ror #8\n"
      "  sxtb16 r11, r11\n"
      "  smlad r4, r11, r9, r4\n"
      "  smlad r4, r12, r10, r4\n"
      "  ldr r11, [r3, r2]\n"
      "  sxtb16 r12, r11, ror #8\n"
      "  sxtb16 r11, r11\n"
      "  smlad r7, r11, r9, r7\n"
      "  smlad r7, r12, r10, r7\n"
      "  ldr r11, [r3], #4\n"
      "  sxtb16 r12, r11, ror #8\n"
      "  sxtb16 r11, r11\n"
      "  smlad r6, r11, r9, r6\n"
      "  smlad r6, r12, r10, r6\n"
      ".endm\n"
      "1:\n"
      "  TML_DOT4_WORD\n"
      "  TML_DOT4_WORD\n"
      "  TML_DOT4_WORD\n"
      "  TML_DOT4_WORD\n"
      "  TML_DOT4_WORD\n"
      "  TML_DOT4_WORD\n"
      "  TML_DOT4_WORD\n"
      "  TML_DOT4_WORD\n"
      "  subs lr, lr, #1\n"
      "  bne 1b\n"
      "2:\n"
      "  cmp r8, #0\n"
      "  beq 4f\n"
      "3:\n"
      "  TML_DOT4_WORD\n"
      "  subs r8, r8, #1\n"
      "  bne 3b\n"
      "4:\n"
      ".purgem TML_DOT4_WORD\n"
      "  pop {r3}\n"
      "  str r4, [r3]\n"
      "  str r5, [r3, #4]\n"
      "  str r6, [r3, #8]\n"
      "  str r7, [r3, #12]\n"
      "  pop {r4-r11, pc}\n");
}

/* MultiplyByQuantizedMultiplier of one channel, taken apart at prepare time
 * of each pass so that the per-output work is a 64-bit multiply-add and a few
 * single-cycle instructions. */
typedef struct {
  int32_t multiplier; /* [2^30, 2^31 - 1] or 0 */
  int32_t left;       /* left shift before the high multiply, [0, 30] */
  int32_t right;      /* rounding right shift after it, [0, 31] */
  int32_t mask;       /* 2^right - 1 */
  int32_t half;       /* mask >> 1: RoundingDivideByPOT rounds up above it (above half + 1 below zero) */
} requant_t;

static inline requant_t requant_of(int32_t multiplier, int32_t shift) {
  requant_t q;
  q.multiplier = multiplier;
  q.left = shift > 0 ? shift : 0;
  q.right = shift > 0 ? 0 : -shift;
  q.mask = (int32_t)(((int64_t)1 << q.right) - 1);
  q.half = q.mask >> 1;
  return q;
}

static inline int32_t ssat8(int32_t x) {
  int32_t r;
  __asm("ssat %0, #8, %1" : "=r"(r) : "r"(x));
  return r;
}

/* SaturatingRoundingDoublingHighMul with multiplier >= 0 (INT32_MIN * INT32_MIN
 * cannot occur): gemmlowp's nudge (2^30, or 1 - 2^30 below zero) followed by
 * a division truncating toward zero equals floor((a*b + 2^30) / 2^31) on both
 * sides, i.e. one SMLAL and two shifts. RoundingDivideByPOT as gemmlowp:
 * (x >> right) + ((x & mask) > half + (x < 0)); with right = 0 it adds 0. */
static inline int8_t requantize(const requant_t *q, int32_t acc, int32_t output_offset, int32_t activation_min) {
  const int32_t x = (int32_t)(((int64_t)tml_wrap_shl(acc, q->left) * q->multiplier + ((int64_t)1 << 30)) >> 31);
  const int32_t rounded = (x >> q->right) + ((x & q->mask) > q->half - (x >> 31) ? 1 : 0);
  int32_t out = ssat8(rounded + output_offset); /* activation_max is always 127 */
  if (out < activation_min) out = activation_min;
  return (int8_t)out;
}

/* Outputs c .. c + live - 1 from their accumulators over the first 4*(n/4)
 * inputs: the last n % 4 products, then requantization. */
static inline void finish_rows(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights, uint32_t c,
                               uint32_t live, const int32_t *acc, requant_t *q, int8_t *output) {
  const uint32_t n = params->input_size;
  const uint32_t body = n & ~3u;
  for (uint32_t r = 0; r < live; ++r) {
    int32_t a = acc[r];
    if (body != n) {
      const int8_t *wr = weights + (c + r) * n;
      for (uint32_t i = body; i < n; ++i) a += wr[i] * input[i];
    }
    if (params->per_channel) *q = requant_of(params->multipliers[c + r], params->shifts[c + r]);
    output[c + r] = requantize(q, a, params->output_offset, params->activation_min);
  }
}

void tml_fully_connected_s8(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights,
                            const int32_t *folded_bias, int8_t *output) {
  const uint32_t n = params->input_size;
  const uint32_t rows = params->output_size;
  const uint32_t full = rows & ~3u;
  requant_t q = requant_of(params->multipliers[0], params->shifts[0]);
  int32_t acc[4];
  uint32_t c = 0;

  for (; c < full; c += 4u) {
    acc[0] = folded_bias[c];
    acc[1] = folded_bias[c + 1u];
    acc[2] = folded_bias[c + 2u];
    acc[3] = folded_bias[c + 3u];
    tml_fc_s8_dot4(input, weights + c * n, n, acc);
    finish_rows(params, input, weights, c, 4u, acc, &q, output);
  }
  if (c == rows) return;

  const uint32_t live = rows - c;
  if (rows >= 4u) {
    /* The short last pass reruns the 4-row kernel on the last 4 rows (the
     * first of them already done) and keeps the new ones: no 1- to 3-row
     * variant to maintain, and never a read past the weights. */
    for (uint32_t r = 0; r < 4u; ++r) acc[r] = folded_bias[rows - 4u + r];
    tml_fc_s8_dot4(input, weights + (rows - 4u) * n, n, acc);
    for (uint32_t r = 0; r < live; ++r) acc[r] = acc[r + 4u - live];
  } else {
    const uint32_t body = n & ~3u;
    for (uint32_t r = 0; r < live; ++r) {
      const int8_t *wr = weights + (c + r) * n;
      int32_t a = folded_bias[c + r];
      for (uint32_t i = 0; i < body; ++i) a += wr[i] * input[i];
      acc[r] = a;
    }
  }
  finish_rows(params, input, weights, c, live, acc, &q, output);
}
