/* Checks the C kernels, their prepare step, the model reader and the native
 * runtime byte for byte against golden vectors from our TypeScript reference
 * (scripts/golden-vectors.ts). Usage: kernel_test <kernels.txt>
 * Build: host gcc with firmware/boards/host/hal.c and -DTML_ARENA_BYTES=16384. */
#include <stdbool.h>

#include "kernels/fully_connected_s8.h"
#include "kernels/softmax_s8.h"
#include "model.h"
#include "runtime.h"
#include "vectors.h"

static int fc_cases, softmax_cases, model_cases;

static void test_fc(FILE *f) {
  char label[128];
  vec_token(f, label, sizeof label);
  const uint16_t in = (uint16_t)vec_int(f), out = (uint16_t)vec_int(f);
  const bool relu = vec_int(f) != 0;
  const uint16_t nscales = (uint16_t)vec_int(f);
  tml_fc_quant_t q;
  q.input_scale = vec_f32(f);
  q.input_zero_point = (int32_t)vec_int(f);
  q.output_scale = vec_f32(f);
  q.output_zero_point = (int32_t)vec_int(f);
  q.relu = relu;
  const bool has_bias = vec_int(f) != 0;
  const long cases = (long)vec_int(f);
  uint32_t *scale_bits = (uint32_t *)vec_alloc(4u * nscales);
  uint8_t *scales_le = (uint8_t *)vec_alloc(4u * nscales);
  for (uint32_t i = 0; i < nscales; ++i) {
    scale_bits[i] = (uint32_t)vec_int(f);
    for (int b = 0; b < 4; ++b) scales_le[4 * i + (uint32_t)b] = (uint8_t)(scale_bits[i] >> (8 * b));
  }
  q.weight_scales = scales_le;
  q.weight_scale_count = nscales;
  int8_t *weights = vec_i8s(f, (size_t)in * out);
  int32_t *bias = has_bias ? vec_i32s(f, out) : NULL;
  int32_t *want_mult = vec_i32s(f, nscales);
  int32_t *want_shift = vec_i32s(f, nscales);

  int32_t *mult = (int32_t *)vec_alloc(4u * nscales);
  int32_t *shift = (int32_t *)vec_alloc(4u * nscales);
  int32_t *folded = (int32_t *)vec_alloc(4u * out);
  tml_fc_params_t p;
  CHECK(tml_fully_connected_s8_prepare(&q, in, out, mult, shift, &p), "%s: prepare failed", label);
  for (uint32_t i = 0; i < nscales; ++i) {
    CHECK(mult[i] == want_mult[i] && shift[i] == want_shift[i], "%s: channel %u multiplier %d shift %d, want %d %d",
          label, i, mult[i], shift[i], want_mult[i], want_shift[i]);
  }
  tml_fully_connected_s8_fold_bias(weights, bias, q.input_zero_point, in, out, folded);
  for (long c = 0; c < cases; ++c) {
    int8_t *x = vec_i8s(f, in);
    int8_t *want = vec_i8s(f, out);
    int8_t *got = (int8_t *)vec_alloc(out);
    tml_fully_connected_s8(&p, x, weights, folded, got);
    const long d = vec_diff(got, want, out);
    CHECK(d < 0, "%s case %ld: output %ld is %d, want %d", label, c, d, d < 0 ? 0 : got[d], d < 0 ? 0 : want[d]);
    tml_fully_connected_s8_bias(&p, x, weights, bias, got); /* the unfolded eval the runtime uses */
    const long db = vec_diff(got, want, out);
    CHECK(db < 0, "%s case %ld (bias eval): output %ld is %d, want %d", label, c, db, db < 0 ? 0 : got[db],
          db < 0 ? 0 : want[db]);
    fc_cases++;
    free(x);
    free(want);
    free(got);
  }
  free(scale_bits), free(scales_le), free(weights), free(bias), free(want_mult), free(want_shift);
  free(mult), free(shift), free(folded);
}

static void test_softmax(FILE *f) {
  char label[128];
  vec_token(f, label, sizeof label);
  const uint32_t depth = (uint32_t)vec_int(f);
  const float scale = vec_f32(f), beta = vec_f32(f);
  tml_softmax_params_t want;
  want.input_multiplier = (int32_t)vec_int(f);
  want.input_left_shift = (int32_t)vec_int(f);
  want.diff_min = (int32_t)vec_int(f);
  const long cases = (long)vec_int(f);
  tml_softmax_params_t p;
  CHECK(tml_softmax_s8_prepare(scale, beta, &p), "%s: prepare failed", label);
  CHECK(tml_softmax_s8_prepare_exp_table(&p), "%s: exp table refused", label); /* the reference needs none */
  CHECK(p.input_multiplier == want.input_multiplier && p.input_left_shift == want.input_left_shift &&
            p.diff_min == want.diff_min,
        "%s: prepared (%d, %d, %d), want (%d, %d, %d)", label, p.input_multiplier, p.input_left_shift, p.diff_min,
        want.input_multiplier, want.input_left_shift, want.diff_min);
  for (long c = 0; c < cases; ++c) {
    int8_t *x = vec_i8s(f, depth);
    int8_t *wanted = vec_i8s(f, depth);
    int8_t *got = (int8_t *)vec_alloc(depth);
    tml_softmax_s8(&p, x, depth, got);
    const long d = vec_diff(got, wanted, depth);
    CHECK(d < 0, "%s row %ld: output %ld is %d, want %d", label, c, d, d < 0 ? 0 : got[d], d < 0 ? 0 : wanted[d]);
    softmax_cases++;
    free(x), free(wanted), free(got);
  }
}

static void test_model(FILE *f) {
  char label[128];
  vec_token(f, label, sizeof label);
  const uint32_t nbytes = (uint32_t)vec_int(f);
  const int status = (int)vec_int(f);
  const uint32_t input_bytes = (uint32_t)vec_int(f), output_count = (uint32_t)vec_int(f);
  const long cases = (long)vec_int(f);
  uint8_t *bytes = vec_u8s(f, nbytes); /* calloc: 16-byte aligned, like the alignas(16) array in flash */

  tml_model_t m;
  const tml_status_t read_st = tml_model_read(bytes, nbytes, &m);
  runtime_info_t info;
  const tml_status_t st = runtime_init(bytes, nbytes, &info);
  CHECK((int)st == status, "%s: runtime_init returned %d, want %d (model reader: %d)", label, st, status, read_st);
  CHECK(info.kind == RUNTIME_NATIVE && info.arena_size == TML_ARENA_BYTES, "%s: kind/arena_size not set", label);
  if (status == 0 && st == TML_OK) {
    CHECK(info.input_bytes == input_bytes && info.output_count == output_count, "%s: %u in / %u out, want %u / %u",
          label, info.input_bytes, info.output_count, input_bytes, output_count);
    CHECK(info.arena_used > 0 && info.arena_used <= info.arena_size, "%s: arena_used %u", label, info.arena_used);
  } else if (st == TML_ERR_ARENA_TOO_SMALL) {
    /* The one failure that keeps a figure: the bytes needed, so the host can say how much is missing. */
    CHECK(info.input_bytes == 0 && info.arena_used > info.arena_size, "%s: arena_used %u should be the bytes needed (> %u)", label,
          info.arena_used, info.arena_size);
  } else {
    CHECK(info.input_bytes == 0 && info.arena_used == 0, "%s: info not zeroed after a failed load", label);
  }
  for (long c = 0; c < cases; ++c) {
    int8_t *x = vec_i8s(f, input_bytes);
    int8_t *want = vec_i8s(f, output_count);
    int8_t *got = (int8_t *)vec_alloc(output_count);
    uint32_t cycles = 0;
    const tml_status_t ist = runtime_invoke(x, got, &cycles);
    CHECK(ist == TML_OK, "%s: invoke returned %d", label, ist);
    const long d = vec_diff(got, want, output_count);
    CHECK(d < 0, "%s case %ld: output %ld is %d, want %d", label, c, d, d < 0 ? 0 : got[d], d < 0 ? 0 : want[d]);
    model_cases++;
    free(x), free(want), free(got);
  }
  free(bytes);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: kernel_test <kernels.txt>\n");
    return 2;
  }
  static const vec_record_t records[] = {{"fc", test_fc}, {"softmax", test_softmax}, {"model", test_model}};
  const int status = vec_read_all(argv[1], records, sizeof records / sizeof records[0]);
  if (status != 0) return status;
  printf("kernel_test: %d fully-connected, %d softmax, %d model cases; %d failures\n", fc_cases, softmax_cases,
         model_cases, vec_failures);
  return vec_failures == 0 ? 0 : 1;
}
