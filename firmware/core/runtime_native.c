/* The native runtime (runtime.h): our model reader and int8 kernels, with a
 * static arena planned once at init. No malloc.
 *
 * Arena layout (all offsets 4-byte aligned), planned by runtime_init:
 *   [persistent]  per FULLY_CONNECTED: multipliers and shifts (int32 x
 *                 weight_scale_count each); the kernel reads the bias from the
 *                 model and adds the input offset itself, so no folded bias
 *   [activation A] input, then the outputs of ops 2, 4, ... (even positions)
 *   [activation B] outputs of ops 1, 3, ...            (odd positions)
 * Op k reads one of A/B and writes the other, so each buffer is as big as the
 * largest tensor placed in it ("ping-pong"); arena_used is the sum. */
#include <string.h>

#include "hal.h"
#include "kernels/fully_connected_s8.h"
#include "kernels/softmax_s8.h"
#include "model.h"
#include "runtime.h"

#ifndef TML_ARENA_BYTES
#define TML_ARENA_BYTES (32u * 1024u)
#endif

static _Alignas(16) uint8_t s_arena[TML_ARENA_BYTES];

/* Prepared model, stored statically. */
static struct {
  bool ready;
  tml_model_t model;
  tml_fc_params_t fc[TML_MAX_LAYERS];
  tml_softmax_params_t softmax;
  int8_t *act[2];     /* ping-pong activation buffers in s_arena */
  int8_t *output;     /* where the model output ends up */
} s_rt;

static uint32_t align4(uint32_t n) { return (n + 3u) & ~3u; }

static tml_status_t init(const uint8_t *model, uint32_t model_len, runtime_info_t *info) {
  tml_model_t *m = &s_rt.model;
  tml_status_t st = tml_model_read(model, model_len, m);
  if (st != TML_OK) return st;

  /* Plan: sizes first, so a too-small arena is reported before anything is written. */
  uint32_t persistent = 0;
  for (uint32_t l = 0; l < m->fc_count; ++l) {
    persistent += 8u * m->fc[l].weight_scale_count;
  }
  uint32_t act_size[2] = {m->fc[0].input_size, 0};
  uint32_t op = 0;
  for (uint32_t l = 0; l < m->fc_count; ++l, ++op) {
    uint32_t *slot = &act_size[(op + 1u) & 1u];
    if (m->fc[l].output_size > *slot) *slot = m->fc[l].output_size;
  }
  if (m->has_softmax) {
    uint32_t *slot = &act_size[(op + 1u) & 1u];
    if (m->softmax_depth > *slot) *slot = m->softmax_depth;
  }
  const uint32_t used = persistent + align4(act_size[0]) + align4(act_size[1]);
  if (used > TML_ARENA_BYTES) {
    info->arena_used = used; /* kept by runtime_init: the host says how much is missing */
    return TML_ERR_ARENA_TOO_SMALL;
  }

  uint8_t *p = s_arena;
  for (uint32_t l = 0; l < m->fc_count; ++l) {
    const tml_model_fc_t *fc = &m->fc[l];
    int32_t *multipliers = (int32_t *)(void *)p;
    p += 4u * fc->weight_scale_count;
    int32_t *shifts = (int32_t *)(void *)p;
    p += 4u * fc->weight_scale_count;
    const tml_fc_quant_t quant = tml_model_fc_quant(fc);
    if (!tml_fully_connected_s8_prepare(&quant, fc->input_size, fc->output_size, multipliers, shifts, &s_rt.fc[l])) {
      return TML_ERR_QUANTIZATION;
    }
  }
  if (m->has_softmax) {
    const tml_model_fc_t *last = &m->fc[m->fc_count - 1];
    if (!tml_softmax_s8_prepare(last->output_scale, m->softmax_beta, &s_rt.softmax)) return TML_ERR_QUANTIZATION;
    /* The Cortex-M4 eval reads its exponentials from a table in flash generated
     * with the model array: refused if it was made for another model. */
    if (!tml_softmax_s8_prepare_exp_table(&s_rt.softmax)) return TML_ERR_QUANTIZATION;
  }
  s_rt.act[0] = (int8_t *)p;
  s_rt.act[1] = (int8_t *)p + align4(act_size[0]);
  s_rt.output = s_rt.act[(m->fc_count + (m->has_softmax ? 1u : 0u)) & 1u];

  info->arena_used = used;
  info->input_rank = m->input_rank;
  memcpy(info->input_dims, m->input_dims, sizeof info->input_dims);
  info->input_bytes = m->fc[0].input_size;
  info->input_scale = m->input_scale;
  info->input_zero_point = m->input_zero_point;
  info->output_count = m->output_count;
  info->output_scale = m->output_scale;
  info->output_zero_point = m->output_zero_point;
  return TML_OK;
}

tml_status_t runtime_init(const uint8_t *model, uint32_t model_len, runtime_info_t *info) {
  memset(info, 0, sizeof *info);
  memset(&s_rt, 0, sizeof s_rt);
  const tml_status_t st = init(model, model_len, info);
  if (st != TML_OK) {
    const uint32_t needed = st == TML_ERR_ARENA_TOO_SMALL ? info->arena_used : 0;
    memset(info, 0, sizeof *info);
    memset(&s_rt, 0, sizeof s_rt);
    info->arena_used = needed;
  }
  info->kind = RUNTIME_NATIVE;
  info->arena_size = TML_ARENA_BYTES;
  s_rt.ready = st == TML_OK;
  return st;
}

int8_t *runtime_input_tensor(void) { return s_rt.ready ? s_rt.act[0] : NULL; }

tml_status_t runtime_invoke(const int8_t *input, int8_t *output, uint32_t *cycles) {
  if (!s_rt.ready) return TML_ERR_MODEL_NOT_READY;
  const tml_model_t *m = &s_rt.model;
  if (input != NULL) memcpy(s_rt.act[0], input, m->fc[0].input_size);

  const uint32_t start = hal_cycles_now();
  uint32_t op = 0;
  for (uint32_t l = 0; l < m->fc_count; ++l, ++op) {
    tml_fully_connected_s8_bias(&s_rt.fc[l], s_rt.act[op & 1u], m->fc[l].weights, m->fc[l].bias,
                                s_rt.act[(op + 1u) & 1u]);
  }
  if (m->has_softmax) {
    tml_softmax_s8(&s_rt.softmax, s_rt.act[op & 1u], m->softmax_depth, s_rt.act[(op + 1u) & 1u]);
  }
  const uint32_t end = hal_cycles_now();

  memcpy(output, s_rt.output, m->output_count);
  if (cycles != NULL) *cycles = end - start;
  return TML_OK;
}
