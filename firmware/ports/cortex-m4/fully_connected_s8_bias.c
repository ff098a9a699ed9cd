/* Cortex-M4 (DSP extension) eval of int8 FULLY_CONNECTED with the model's
 * bias: replaces core/kernels/fully_connected_s8_bias.c in the Cortex-M build
 * (same header, same results; the build picks the file). Weights stay in the
 * layout TFLM reads ([output_size][input_size] row-major, any alignment), the
 * bias is read from the model: no folded copy in RAM.
 *
 * Four output rows per pass: each word of input is loaded and sign-extended
 * with the input offset added (SXTAB16, plain and rotated by 8: x + offset is
 * in [-255, 255], an int16) once and shared by the four rows, so the input
 * costs 3 instructions per 16 MACs; each weight word costs LDR, two SXTB16 and
 * two SMLAD (5 instructions per 4 MACs). Rows 1 and 3 are read through
 * register offsets from rows 0 and 2 ([w, n]), which keeps the 4 accumulators,
 * 3 pointers, the stride, the offset, a loop counter and 4 temporaries in the
 * 14 usable registers. Per-tensor layers with n % 4 == 0 (every dense layer
 * this project exports) run all their full 4-row groups, requantization
 * included, in one asm call; the rest goes through a plainer path.
 *
 * Inner loop, per input word and 4 rows (16 MACs), 23 instructions; Cortex-M4
 * cycles from the TRM timing tables: 5 LDR x 2 (each is followed by a
 * dependent SXTB16, so none pipelines with the next load) + 2 SXTAB16 +
 * 8 SXTB16 x 1 + 8 SMLAD x 1 = 28 cycles, i.e. 1.75 cycles/MAC; unrolled 8
 * words, so SUBS + taken BNE (1 + 1..3 refill) add ~3 cycles per 128 MACs
 * (~1.77 cycles/MAC in all), plus one TBH (~4 cycles) per 4-row group.
 * Weights in flash add wait states on the Nano (nRF52840: 0 on a cache hit).
 *
 * Written as a naked function in basic inline assembly rather than with
 * <arm_acle.h> intrinsics: the Nano 33 BLE's core pins arm-none-eabi-gcc
 * 7-2017q4, whose arm_acle.h lacks __sxtb16/__smlad, and only hand-allocated
 * registers fit the 4-row loop. The asm is the same on GCC 7..14 and clang. */
#include "kernels/fixed_point.h"
#include "kernels/fully_connected_s8.h"

#include <stddef.h>

/* One input word against the same word of 4 rows (16 MACs): r0 input,
 * r1 row 0, r3 row 2 (rows 1 and 3 at [r1, r2] and [r3, r2]), r2 the row
 * length n, r4-r7 the accumulators, r8 the input offset in both halfwords,
 * r9/r10 the input's even/odd bytes plus the offset (SXTAB16: in [-255, 255],
 * an int16), r11/r12 a weight word's. 23 instructions, ~28 cycles (see above). */
#define DOT4_WORD                 \
  "  ldr r10, [r0], #4\n"         \
  "  sxtab16 r9, r8, r10\n"       \
  "  sxtab16 r10, r8, r10, ror #8\n" \
  "  ldr r11, [r1, r2]\n"         \
  "  sxtb16 r12, r11, ror #8\n"   \
  "  sxtb16 r11, r11\n"           \
  "  smlad r5, r11, r9, r5\n"     \
  "  smlad r5, r12, r10, r5\n"    \
  "  ldr r11, [r1], #4\n"         \
  "  sxtb16 r12, r11, ror #8\n"   \
  "  sxtb16 r11, r11\n"           \
  "  smlad r4, r11, r9, r4\n"     \
  "  smlad r4, r12, r10, r4\n"    \
  "  ldr r11, [r3, r2]\n"         \
  "  sxtb16 r12, r11, ror #8\n"   \
  "  sxtb16 r11, r11\n"           \
  "  smlad r7, r11, r9, r7\n"     \
  "  smlad r7, r12, r10, r7\n"    \
  "  ldr r11, [r3], #4\n"         \
  "  sxtb16 r12, r11, ror #8\n"   \
  "  sxtb16 r11, r11\n"           \
  "  smlad r6, r11, r9, r6\n"     \
  "  smlad r6, r12, r10, r6\n"
/* state->acc[r] += sum_{i < 4*(n/4)} w[r*n + i] * (x[i] + offset) for
 * r = 0..3, where w is row 0 of four consecutive rows of n bytes and
 * state->offset2 holds the offset in both halfwords. SMLAD wraps like the C
 * sum (and sets the sticky Q flag on overflow, which nothing reads). */
typedef struct {
  int32_t acc[4];  /* 0 */
  uint32_t offset2; /* 16 */
} dot4_state_t;

void tml_fc_s8_dot4(const int8_t *x, const int8_t *w, uint32_t n, dot4_state_t *state);

__attribute__((naked)) void tml_fc_s8_dot4(const int8_t *x, const int8_t *w, uint32_t n, dot4_state_t *state) {
  (void)x;
  (void)w;
  (void)n;
  (void)state;
  /* Not unrolled: this path only serves per-channel layers, n % 4 != 0 and the
   * short last pass, and an unrolled copy would cost 1.3 KB of flash. */
  __asm volatile(
      ".syntax unified\n"
      "  push {r3-r11, lr}\n"
      "  ldr r4, [r3]\n"
      "  ldr r5, [r3, #4]\n"
      "  ldr r6, [r3, #8]\n"
      "  ldr r7, [r3, #12]\n"
      "  ldr r8, [r3, #16]\n"
      "  add r3, r1, r2, lsl #1\n"
      "  lsrs lr, r2, #2\n"
      "  beq 3f\n"
      "4:\n"
      DOT4_WORD
      "  subs lr, lr, #1\n"
      "  bne 4b\n"
      "3:\n"
      "  pop {r3}\n"
      "  str r4, [r3]\n"
      "  str r5, [r3, #4]\n"
      "  str r6, [r3, #8]\n"
      "  str r7, [r3, #12]\n"
      "  pop {r4-r11, pc}\n");
}

/* Everything tml_fc_s8_groups needs, read through one pointer (the asm
 * loads runs of fields with LDM, so the order and offsets are fixed). */
typedef struct {
  const int8_t *input;    /*  0: r0 */
  const int8_t *weights;  /*  4: r1, row 0 of the next group; advanced */
  uint32_t n;             /*  8: r2, a multiple of 4, >= 4 */
  uint32_t offset2;       /* 12: r8, the input offset in both halfwords */
  const int32_t *bias;    /* 16: r9, bias of the next group; advanced by bias_step */
  uint32_t bias_step;     /* 20: r10, 16, or 0 with no bias (bias points at 4 zeros) */
  uint32_t skip;          /* 24: r12, (-(n/4)) % 8: copies of the word step the first pass skips */
  uint32_t passes;        /* 28: ceil((n/4) / 8) */
  uint32_t groups;        /* 32: >= 1; counted down */
  int32_t multiplier;     /* 36: r0, per-tensor */
  int32_t left;           /* 40: r1 */
  int32_t right;          /* 44: r2 */
  int32_t mask;           /* 48: r3 */
  int32_t half;           /* 52: r8 */
  int32_t output_offset;  /* 56: r9 */
  int32_t activation_min; /* 60: r10 */
  int8_t *output;         /* 64: r11; advanced */
} groups_job_t;

/* Requantizes accumulator register A (see requantize() below for the
 * arithmetic; r0 multiplier, r1 left, r2 right, r3 mask, r8 half, r9 output
 * offset, r10 activation_min, r11 output pointer; r12/lr scratch). 17
 * instructions: SMLAL 1 cycle, the rest single-cycle, IT folded. */
#define REQUANT(A)                     \
  "  lsl " A ", " A ", r1\n"           \
  "  mov r12, #0x40000000\n"           \
  "  mov lr, #0\n"                     \
  "  smlal r12, lr, " A ", r0\n"       \
  "  lsr r12, r12, #31\n"              \
  "  orr " A ", r12, lr, lsl #1\n"     \
  "  and r12, " A ", r3\n"             \
  "  sub lr, r8, " A ", asr #31\n"     \
  "  sub lr, lr, r12\n"                \
  "  asr " A ", " A ", r2\n"           \
  "  add " A ", " A ", lr, lsr #31\n"  \
  "  add " A ", " A ", r9\n"           \
  "  ssat " A ", #8, " A "\n"          \
  "  cmp " A ", r10\n"                 \
  "  it lt\n"                          \
  "  movlt " A ", r10\n"               \
  "  strb " A ", [r11], #1\n"

/* All full 4-row groups of a per-tensor layer with n % 4 == 0, requantized
 * in place: one call per layer. The dot product over the n/4 input words is
 * unrolled 8 words and entered Duff-style (TBH into the copy that leaves a
 * whole number of 8-word passes), so there is no remainder loop: per group
 * 2 instructions per pass, 13 to load the group's state with LDM and 4 * 17 to
 * requantize. 8 rather than 16 words halves the loop's flash (about 0.7 KB)
 * for +2 instructions per 64 MACs less the LDMs' savings (784-128-10: +0.3%). */
static void tml_fc_s8_groups(groups_job_t *job);

__attribute__((naked, noinline)) static void tml_fc_s8_groups(groups_job_t *job) {
  (void)job;
  __asm volatile(
      ".syntax unified\n"
      "  push {r0, r4-r11, lr}\n"
      "5:\n"
      "  ldr lr, [sp]\n"
      "  ldm lr, {r0, r1, r2, r8, r9, r10, r12}\n"
      "  ldm r9, {r4-r7}\n"
      "  add r9, r9, r10\n"
      "  str r9, [lr, #16]\n"
      "  ldr lr, [lr, #28]\n"
      "  add r3, r1, r2, lsl #1\n"
      "  tbh [pc, r12, lsl #1]\n"
      "6:\n"
      "  .hword (10f - 6b) / 2, (11f - 6b) / 2, (12f - 6b) / 2, (13f - 6b) / 2\n"
      "  .hword (14f - 6b) / 2, (15f - 6b) / 2, (16f - 6b) / 2, (17f - 6b) / 2\n"
      "10:\n" DOT4_WORD
      "11:\n" DOT4_WORD
      "12:\n" DOT4_WORD
      "13:\n" DOT4_WORD
      "14:\n" DOT4_WORD
      "15:\n" DOT4_WORD
      "16:\n" DOT4_WORD
      "17:\n" DOT4_WORD
      "  subs lr, lr, #1\n"
      "  bne 10b\n"
      /* r1 is at row 1 and r3 at row 3: the next group starts a row after r3. */
      "  ldr lr, [sp]\n"
      "  add r1, r3, r2\n"
      "  str r1, [lr, #4]\n"
      "  add r12, lr, #36\n"
      "  ldm r12, {r0, r1, r2, r3, r8, r9, r10, r11}\n"
      REQUANT("r4")
      REQUANT("r5")
      REQUANT("r6")
      REQUANT("r7")
      "  ldr lr, [sp]\n"
      "  str r11, [lr, #64]\n"
      "  ldr r12, [lr, #32]\n"
      "  subs r12, r12, #1\n"
      "  str r12, [lr, #32]\n"
      "  bne 5b\n"
      "  pop {r0, r4-r11, pc}\n");
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
static __attribute__((noinline)) void finish_rows(const tml_fc_params_t *params, const int8_t *input,
                                                  const int8_t *weights, uint32_t c, uint32_t live, const int32_t *acc,
                                                  requant_t *q, int8_t *output) {
  const uint32_t n = params->input_size;
  const uint32_t body = n & ~3u;
  for (uint32_t r = 0; r < live; ++r) {
    uint32_t a = (uint32_t)acc[r];
    if (body != n) {
      const int8_t *wr = weights + (c + r) * n;
      for (uint32_t i = body; i < n; ++i) a += (uint32_t)(wr[i] * (input[i] + params->input_offset));
    }
    if (params->per_channel) *q = requant_of(params->multipliers[c + r], params->shifts[c + r]);
    output[c + r] = requantize(q, (int32_t)a, params->output_offset, params->activation_min);
  }
}

static const int32_t k_no_bias[4];

void tml_fully_connected_s8_bias(const tml_fc_params_t *params, const int8_t *input, const int8_t *weights,
                                 const int32_t *bias, int8_t *output) {
  const uint32_t n = params->input_size;
  const uint32_t rows = params->output_size;
  const uint32_t full = rows & ~3u;
  const uint32_t offset2 = ((uint32_t)params->input_offset & 0xFFFFu) * 0x10001u;
  requant_t q = requant_of(params->multipliers[0], params->shifts[0]);
  dot4_state_t st;
  st.offset2 = offset2;
  uint32_t c = 0;

  if (full > 0u && !params->per_channel && (n & 3u) == 0u) {
    groups_job_t job = {
        .input = input,
        .weights = weights,
        .n = n,
        .offset2 = offset2,
        .bias = bias != NULL ? bias : k_no_bias,
        .bias_step = bias != NULL ? 16u : 0u,
        .skip = (0u - n / 4u) & 7u,
        .passes = (n / 4u + 7u) / 8u,
        .groups = full / 4u,
        .output = output,
        .multiplier = q.multiplier,
        .left = q.left,
        .right = q.right,
        .mask = q.mask,
        .half = q.half,
        .output_offset = params->output_offset,
        .activation_min = params->activation_min,
    };
    tml_fc_s8_groups(&job);
    c = full;
  }
  for (; c < full; c += 4u) {
    for (uint32_t r = 0; r < 4u; ++r) st.acc[r] = bias != NULL ? bias[c + r] : 0;
    tml_fc_s8_dot4(input, weights + c * n, n, &st);
    finish_rows(params, input, weights, c, 4u, st.acc, &q, output);
  }
  if (c == rows) return;

  const uint32_t live = rows - c;
  if (rows >= 4u) {
    /* The short last pass reruns the 4-row kernel on the last 4 rows (the
     * first of them already done) and keeps the new ones: no 1- to 3-row
     * variant to maintain, and never a read past the weights. */
    for (uint32_t r = 0; r < 4u; ++r) st.acc[r] = bias != NULL ? bias[rows - 4u + r] : 0;
    tml_fc_s8_dot4(input, weights + (rows - 4u) * n, n, &st);
    for (uint32_t r = 0; r < live; ++r) st.acc[r] = st.acc[r + 4u - live];
  } else {
    const uint32_t body = n & ~3u;
    for (uint32_t r = 0; r < live; ++r) {
      const int8_t *wr = weights + (c + r) * n;
      uint32_t a = bias != NULL ? (uint32_t)bias[c + r] : 0u;
      for (uint32_t i = 0; i < body; ++i) a += (uint32_t)(wr[i] * (input[i] + params->input_offset));
      st.acc[r] = (int32_t)a;
    }
  }
  finish_rows(params, input, weights, c, live, st.acc, &q, output);
}
