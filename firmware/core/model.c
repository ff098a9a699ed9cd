/* TFLite flatbuffer reader for the native runtime (see model.h). Every read
 * goes through a bounds check against model_len; multi-byte values are read
 * byte by byte (little-endian), so neither alignment nor host byte order matter. */
#include "model.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/exact_f64.h"
#include "kernels/fully_connected_s8.h"
#include "kernels/softmax_s8.h"
#include "tflite_schema.h" /* slots and codes, generated from src/tflite/schema.ts */


typedef struct {
  const uint8_t *base;
  uint32_t len;
  tml_status_t err; /* first error; reads after it return zeros */
} fb_t;

typedef struct {
  uint32_t pos;
  uint32_t vtable;
  uint16_t vtable_size;
} table_t;

typedef struct {
  uint32_t start; /* position of element 0 */
  uint32_t count;
} vec_t;

static void fb_fail(fb_t *fb, tml_status_t err) {
  if (fb->err == TML_OK) fb->err = err;
}

static bool fb_need(fb_t *fb, uint64_t pos, uint64_t n) {
  if (fb->err != TML_OK) return false;
  if (pos > fb->len || n > fb->len - pos) {
    fb_fail(fb, TML_ERR_MODEL_BOUNDS);
    return false;
  }
  return true;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }
static float lef32(const uint8_t *p) {
  const uint32_t bits = le32(p);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}


/* The table at `pos`: its vtable checked to lie inside the model. */
static bool fb_table(fb_t *fb, uint64_t pos, table_t *t) {
  if (!fb_need(fb, pos, 4)) return false;
  const int64_t vtable = (int64_t)pos - (int32_t)le32(fb->base + pos);
  if (vtable < 0 || !fb_need(fb, (uint64_t)vtable, 4)) {
    fb_fail(fb, TML_ERR_MODEL_BOUNDS);
    return false;
  }
  const uint16_t vtable_size = le16(fb->base + vtable);
  const uint16_t object_size = le16(fb->base + vtable + 2);
  if (vtable_size < 4 || (vtable_size & 1u) != 0 || !fb_need(fb, (uint64_t)vtable, vtable_size) ||
      !fb_need(fb, pos, object_size < 4 ? 4 : object_size)) {
    fb_fail(fb, TML_ERR_MODEL_BOUNDS);
    return false;
  }
  t->pos = (uint32_t)pos;
  t->vtable = (uint32_t)vtable;
  t->vtable_size = vtable_size;
  return true;
}

/* The table whose uoffset is stored at `at`. */
static bool fb_table_at(fb_t *fb, uint64_t at, table_t *t) {
  if (!fb_need(fb, at, 4)) return false;
  return fb_table(fb, at + le32(fb->base + at), t);
}

/* Position of field `slot` (0 when absent), checked to hold `width` bytes. */
static uint32_t fb_field(fb_t *fb, const table_t *t, unsigned slot, uint32_t width) {
  if (fb->err != TML_OK) return 0;
  const uint32_t vo = 4u + 2u * slot;
  if (vo + 2u > t->vtable_size) return 0;
  const uint16_t off = le16(fb->base + t->vtable + vo);
  if (off == 0) return 0;
  if (!fb_need(fb, (uint64_t)t->pos + off, width)) return 0;
  return t->pos + off;
}

static int32_t fb_field_i32(fb_t *fb, const table_t *t, unsigned slot, int32_t dflt) {
  const uint32_t p = fb_field(fb, t, slot, 4);
  return p ? (int32_t)le32(fb->base + p) : dflt;
}
static int32_t fb_field_i8(fb_t *fb, const table_t *t, unsigned slot, int32_t dflt) {
  const uint32_t p = fb_field(fb, t, slot, 1);
  return p ? (int32_t)(int8_t)fb->base[p] : dflt;
}
static uint32_t fb_field_u8(fb_t *fb, const table_t *t, unsigned slot, uint32_t dflt) {
  const uint32_t p = fb_field(fb, t, slot, 1);
  return p ? fb->base[p] : dflt;
}
static uint64_t fb_field_u64(fb_t *fb, const table_t *t, unsigned slot) {
  const uint32_t p = fb_field(fb, t, slot, 8);
  return p ? le64(fb->base + p) : 0;
}
static float fb_field_f32(fb_t *fb, const table_t *t, unsigned slot, float dflt) {
  const uint32_t p = fb_field(fb, t, slot, 4);
  return p ? lef32(fb->base + p) : dflt;
}
static bool fb_field_table(fb_t *fb, const table_t *t, unsigned slot, table_t *out) {
  const uint32_t p = fb_field(fb, t, slot, 4);
  return p != 0 && fb_table_at(fb, p, out);
}

/* A vector field of `elem`-byte elements; false when absent or out of bounds. */
static bool fb_vector(fb_t *fb, const table_t *t, unsigned slot, uint32_t elem, vec_t *v) {
  const uint32_t p = fb_field(fb, t, slot, 4);
  if (p == 0) return false;
  const uint64_t vec = (uint64_t)p + le32(fb->base + p);
  if (!fb_need(fb, vec, 4)) return false;
  const uint32_t count = le32(fb->base + vec);
  if (!fb_need(fb, vec + 4, (uint64_t)count * elem)) return false;
  v->start = (uint32_t)vec + 4u;
  v->count = count;
  return true;
}

static int32_t vec_i32(const fb_t *fb, const vec_t *v, uint32_t i) { return (int32_t)le32(fb->base + v->start + 4u * i); }

/* ------------------------------------------------------------------ model */

typedef struct {
  fb_t fb;
  vec_t buffers;
  vec_t tensors;
  bool has_buffers;
} reader_t;

typedef struct {
  int32_t type;
  uint32_t rank;
  uint32_t dims[8];
  uint32_t flat;
  uint32_t buffer;
  bool has_quant;
  vec_t scales;
  vec_t zero_points;
  bool has_scales;
  bool has_zero_points;
  int32_t quantized_dimension;
} tensor_t;

static tml_status_t status_or(const fb_t *fb, tml_status_t err) { return fb->err != TML_OK ? fb->err : err; }

static tml_status_t read_tensor(reader_t *r, int32_t index, tensor_t *t) {
  fb_t *fb = &r->fb;
  if (index < 0 || (uint32_t)index >= r->tensors.count) return TML_ERR_MODEL_STRUCTURE;
  table_t tt;
  if (!fb_table_at(fb, r->tensors.start + 4u * (uint32_t)index, &tt)) return status_or(fb, TML_ERR_MODEL_BOUNDS);
  memset(t, 0, sizeof *t);
  t->type = fb_field_i8(fb, &tt, TFL_TENSOR_TYPE, TFL_TYPE_FLOAT32);
  t->buffer = (uint32_t)fb_field_i32(fb, &tt, TFL_TENSOR_BUFFER, 0);
  vec_t shape;
  t->flat = 1;
  if (fb_vector(fb, &tt, TFL_TENSOR_SHAPE, 4, &shape)) {
    if (shape.count > 8) return TML_ERR_SHAPE;
    t->rank = shape.count;
    for (uint32_t i = 0; i < shape.count; ++i) {
      const int32_t d = vec_i32(fb, &shape, i);
      if (d <= 0 || d > 65535) return TML_ERR_SHAPE;
      t->dims[i] = (uint32_t)d;
      const uint64_t flat = (uint64_t)t->flat * (uint32_t)d;
      if (flat > 0x7fffffffu) return TML_ERR_SHAPE;
      t->flat = (uint32_t)flat;
    }
  }
  table_t q;
  if (fb_field_table(fb, &tt, TFL_TENSOR_QUANTIZATION, &q)) {
    t->has_quant = true;
    t->has_scales = fb_vector(fb, &q, TFL_QUANT_SCALE, 4, &t->scales);
    t->has_zero_points = fb_vector(fb, &q, TFL_QUANT_ZERO_POINT, 8, &t->zero_points);
    t->quantized_dimension = fb_field_i32(fb, &q, TFL_QUANT_QUANTIZED_DIMENSION, 0);
  }
  return fb->err;
}

/* The data of buffer `index` (inline vector, or schema 3c offset/size). */
static tml_status_t buffer_data(reader_t *r, uint32_t index, const uint8_t **data, uint32_t *len) {
  fb_t *fb = &r->fb;
  *data = NULL;
  *len = 0;
  if (index >= r->buffers.count) return TML_ERR_MODEL_STRUCTURE;
  table_t bt;
  if (!fb_table_at(fb, r->buffers.start + 4u * index, &bt)) return status_or(fb, TML_ERR_MODEL_BOUNDS);
  vec_t v;
  if (fb_vector(fb, &bt, TFL_BUFFER_DATA, 1, &v)) {
    *data = fb->base + v.start;
    *len = v.count;
    return TML_OK;
  }
  const uint64_t offset = fb_field_u64(fb, &bt, TFL_BUFFER_OFFSET);
  if (offset > 1) {
    const uint64_t size = fb_field_u64(fb, &bt, TFL_BUFFER_SIZE);
    if (!fb_need(fb, offset, size)) return fb->err;
    *data = fb->base + offset;
    *len = (uint32_t)size;
  }
  return fb->err;
}

/* One scale and zero point on an activation tensor. */
static tml_status_t activation_quant(const reader_t *r, const tensor_t *t, float *scale, int32_t *zero_point) {
  if (!t->has_quant || !t->has_scales || !t->has_zero_points || t->scales.count != 1 || t->zero_points.count != 1) {
    return TML_ERR_QUANTIZATION;
  }
  const float s = lef32(r->fb.base + t->scales.start);
  const int64_t z = (int64_t)le64(r->fb.base + t->zero_points.start);
  if (!(s > 0.0f) || isinf(s) || z < -128 || z > 127) return TML_ERR_QUANTIZATION;
  *scale = s;
  *zero_point = (int32_t)z;
  return TML_OK;
}

static tml_status_t read_fully_connected(reader_t *r, const table_t *op, const vec_t *inputs, const vec_t *outputs,
                                         tml_model_fc_t *fc) {
  fb_t *fb = &r->fb;
  if (inputs->count < 2 || inputs->count > 3 || outputs->count != 1) return TML_ERR_MODEL_STRUCTURE;

  const uint32_t options_type = fb_field_u8(fb, op, TFL_OP_BUILTIN_OPTIONS_TYPE, TFL_OPTIONS_NONE);
  int32_t activation = TFL_ACT_NONE;
  if (options_type == TFL_OPTIONS_FULLY_CONNECTED_OPTIONS) {
    table_t o;
    if (fb_field_table(fb, op, TFL_OP_BUILTIN_OPTIONS, &o)) {
      activation = fb_field_i8(fb, &o, TFL_FC_FUSED_ACTIVATION_FUNCTION, TFL_ACT_NONE);
      if (fb_field_i8(fb, &o, TFL_FC_WEIGHTS_FORMAT, 0) != 0) return status_or(fb, TML_ERR_UNSUPPORTED_OP);
      /* A hybrid (dynamic-range) op, refused as the TypeScript reader does. */
      if (fb_field_u8(fb, &o, TFL_FC_ASYMMETRIC_QUANTIZE_INPUTS, 0) != 0) return status_or(fb, TML_ERR_UNSUPPORTED_OP);
    }
  } else if (options_type != TFL_OPTIONS_NONE) {
    return status_or(fb, TML_ERR_MODEL_STRUCTURE);
  }
  if (fb->err != TML_OK) return fb->err;
  if (activation != TFL_ACT_NONE && activation != TFL_ACT_RELU) return TML_ERR_UNSUPPORTED_OP;
  fc->relu = activation == TFL_ACT_RELU;

  tensor_t in, w, b, out;
  tml_status_t st;
  if ((st = read_tensor(r, vec_i32(fb, inputs, 0), &in)) != TML_OK) return st;
  if ((st = read_tensor(r, vec_i32(fb, inputs, 1), &w)) != TML_OK) return st;
  if ((st = read_tensor(r, vec_i32(fb, outputs, 0), &out)) != TML_OK) return st;
  const int32_t bias_index = inputs->count == 3 ? vec_i32(fb, inputs, 2) : -1;
  if (bias_index >= 0 && (st = read_tensor(r, bias_index, &b)) != TML_OK) return st;

  if (in.type != TFL_TYPE_INT8 || w.type != TFL_TYPE_INT8 || out.type != TFL_TYPE_INT8) return TML_ERR_UNSUPPORTED_TYPE;
  if (bias_index >= 0 && b.type != TFL_TYPE_INT32) return TML_ERR_UNSUPPORTED_TYPE;

  if (w.rank != 2) return TML_ERR_SHAPE;
  const uint32_t n_out = w.dims[0];
  const uint32_t n_in = w.dims[1];
  if (in.flat != n_in || out.flat != n_out) return TML_ERR_SHAPE; /* batch 1 only */
  if (bias_index >= 0 && b.flat != n_out) return TML_ERR_SHAPE;
  fc->input_size = (uint16_t)n_in;
  fc->output_size = (uint16_t)n_out;

  const uint8_t *data;
  uint32_t len;
  if ((st = buffer_data(r, w.buffer, &data, &len)) != TML_OK) return st;
  if (data == NULL) return TML_ERR_MODEL_STRUCTURE;
  if (len != n_in * n_out) return TML_ERR_SHAPE;
  fc->weights = (const int8_t *)data;
  fc->bias = NULL;
  if (bias_index >= 0) {
    if ((st = buffer_data(r, b.buffer, &data, &len)) != TML_OK) return st;
    if (data == NULL || ((uintptr_t)data & 3u) != 0) return TML_ERR_MODEL_STRUCTURE; /* int32 data must be aligned */
    if (len != 4u * n_out) return TML_ERR_SHAPE;
    fc->bias = (const int32_t *)(const void *)data;
  }

  if ((st = activation_quant(r, &in, &fc->input_scale, &fc->input_zero_point)) != TML_OK) return st;
  if ((st = activation_quant(r, &out, &fc->output_scale, &fc->output_zero_point)) != TML_OK) return st;
  /* Weights: symmetric, per-tensor or per-channel along dimension 0. */
  if (!w.has_quant || !w.has_scales || (w.scales.count != 1 && w.scales.count != n_out)) return TML_ERR_QUANTIZATION;
  if (w.scales.count > 1 && w.quantized_dimension != 0) return TML_ERR_QUANTIZATION;
  for (uint32_t c = 0; c < w.scales.count; ++c) {
    const float s = lef32(fb->base + w.scales.start + 4u * c);
    if (!(s > 0.0f) || isinf(s)) return TML_ERR_QUANTIZATION;
  }
  /* TFLM reads no quantization at all from a tensor without zero points. */
  if (!w.has_zero_points || w.zero_points.count != w.scales.count) return TML_ERR_QUANTIZATION;
  for (uint32_t c = 0; c < w.zero_points.count; ++c) {
    if (le64(fb->base + w.zero_points.start + 8u * c) != 0) return TML_ERR_QUANTIZATION;
  }
  for (uint32_t i = 0; i < n_in * n_out; ++i) {
    if (fc->weights[i] == -128) return TML_ERR_QUANTIZATION; /* symmetric: [-127, 127] */
  }
  fc->weight_scales = fb->base + w.scales.start;
  fc->weight_scale_count = (uint16_t)w.scales.count;

  if (bias_index >= 0) {
    /* TFLM copies a tensor's quantization only when it has both a scale and a
     * zero point; otherwise params.scale is 0. */
    float bias_scale = 0.0f;
    if (b.has_quant && b.has_scales && b.has_zero_points && b.scales.count > 0 && b.zero_points.count > 0) {
      bias_scale = lef32(fb->base + b.scales.start);
    }
    if (isnan(bias_scale) || isinf(bias_scale)) return TML_ERR_QUANTIZATION; /* the check below fails for them */
    if (b.has_zero_points) {
      for (uint32_t c = 0; c < b.zero_points.count; ++c) {
        if (le64(fb->base + b.zero_points.start + 8u * c) != 0) return TML_ERR_QUANTIZATION;
      }
    }
    /* GetQuantizedConvolutionMultipler (kernel_util.cc), with its double
     * product: |product - bias_scale| / output_scale <= 0.02, in double
     * (exact_f64.h; positive doubles compare as their bits). */
    const tml_f64_t product = tml_f64_mul_f32(fc->input_scale, lef32(fc->weight_scales));
    const tml_f64_t diff = tml_f64_sum(product, tml_f64_from_f32(fabsf(bias_scale)), bias_scale >= 0.0f);
    const tml_f64_t ratio = tml_f64_div(diff, tml_f64_from_f32(fc->output_scale));
    if (ratio > 0x3F947AE147AE147Bull) return TML_ERR_QUANTIZATION; /* 0.02 */
  }

  const tml_fc_quant_t quant = tml_model_fc_quant(fc);
  for (uint32_t c = 0; c < fc->weight_scale_count; ++c) {
    int32_t multiplier;
    int shift;
    if (!tml_fully_connected_s8_multiplier(&quant, c, &multiplier, &shift)) return TML_ERR_MODEL_LIMIT;
  }
  return TML_OK;
}

static tml_status_t read_softmax(reader_t *r, const table_t *op, const vec_t *inputs, const vec_t *outputs,
                                 tml_model_t *m) {
  fb_t *fb = &r->fb;
  if (inputs->count != 1 || outputs->count != 1) return TML_ERR_MODEL_STRUCTURE;
  float beta = 0.0f; /* schema default */
  if (fb_field_u8(fb, op, TFL_OP_BUILTIN_OPTIONS_TYPE, TFL_OPTIONS_NONE) == TFL_OPTIONS_SOFTMAX_OPTIONS) {
    table_t o;
    if (fb_field_table(fb, op, TFL_OP_BUILTIN_OPTIONS, &o)) beta = fb_field_f32(fb, &o, TFL_SOFTMAX_BETA, 0.0f);
  }
  if (fb->err != TML_OK) return fb->err;
  tensor_t in, out;
  tml_status_t st;
  if ((st = read_tensor(r, vec_i32(fb, inputs, 0), &in)) != TML_OK) return st;
  if ((st = read_tensor(r, vec_i32(fb, outputs, 0), &out)) != TML_OK) return st;
  if (in.type != TFL_TYPE_INT8 || out.type != TFL_TYPE_INT8) return TML_ERR_UNSUPPORTED_TYPE;
  if (in.rank == 0 || in.flat != out.flat) return TML_ERR_SHAPE;
  const uint32_t depth = in.dims[in.rank - 1];
  if (in.flat != depth) return TML_ERR_SHAPE; /* one row */
  if (depth > TML_MAX_SOFTMAX_DEPTH) return TML_ERR_MODEL_LIMIT;
  float scale;
  int32_t zero_point;
  if ((st = activation_quant(r, &out, &scale, &zero_point)) != TML_OK) return st;
  /* softmax_common.cc: int8 output must be scale 1/256, zero point -128. */
  if (scale != 1.0f / 256.0f || zero_point != -128) return TML_ERR_QUANTIZATION;
  if (!(beta > 0.0f) || isinf(beta)) return TML_ERR_QUANTIZATION;
  float input_scale;
  int32_t input_zero_point;
  if ((st = activation_quant(r, &in, &input_scale, &input_zero_point)) != TML_OK) return st;
  tml_softmax_params_t params;
  if (!tml_softmax_s8_prepare(input_scale, beta, &params)) return TML_ERR_QUANTIZATION;
  m->has_softmax = true;
  m->softmax_beta = beta;
  m->softmax_depth = (uint16_t)depth;
  m->output_scale = scale;
  m->output_zero_point = zero_point;
  return TML_OK;
}

static tml_status_t read_model(reader_t *r, tml_model_t *m) {
  fb_t *fb = &r->fb;
  if (fb->len < 8) return TML_ERR_MODEL_BOUNDS;
  if (le32(fb->base + 4) != le32((const uint8_t *)TFL_FILE_IDENTIFIER)) return TML_ERR_MODEL_IDENTIFIER;
  table_t model;
  if (!fb_table_at(fb, 0, &model)) return status_or(fb, TML_ERR_MODEL_BOUNDS);
  if (fb_field_i32(fb, &model, TFL_MODEL_VERSION, 0) != TFL_SCHEMA_VERSION) return status_or(fb, TML_ERR_MODEL_VERSION);

  vec_t opcodes = {0, 0}, subgraphs = {0, 0};
  fb_vector(fb, &model, TFL_MODEL_OPERATOR_CODES, 4, &opcodes);
  fb_vector(fb, &model, TFL_MODEL_SUBGRAPHS, 4, &subgraphs);
  r->has_buffers = fb_vector(fb, &model, TFL_MODEL_BUFFERS, 4, &r->buffers);
  if (fb->err != TML_OK) return fb->err;
  if (subgraphs.count != 1) return TML_ERR_MODEL_STRUCTURE;

  table_t sg;
  if (!fb_table_at(fb, subgraphs.start, &sg)) return status_or(fb, TML_ERR_MODEL_BOUNDS);
  vec_t inputs, outputs, operators;
  const bool ok = fb_vector(fb, &sg, TFL_SUBGRAPH_TENSORS, 4, &r->tensors) & fb_vector(fb, &sg, TFL_SUBGRAPH_INPUTS, 4, &inputs) &
                  fb_vector(fb, &sg, TFL_SUBGRAPH_OUTPUTS, 4, &outputs) &
                  fb_vector(fb, &sg, TFL_SUBGRAPH_OPERATORS, 4, &operators);
  if (fb->err != TML_OK) return fb->err;
  if (!ok || inputs.count != 1 || outputs.count != 1 || operators.count == 0) return TML_ERR_MODEL_STRUCTURE;
  if (operators.count > TML_MAX_LAYERS) return TML_ERR_TOO_MANY_LAYERS;

  int32_t current = vec_i32(fb, &inputs, 0); /* the tensor flowing down the chain */
  tml_status_t st;
  for (uint32_t i = 0; i < operators.count; ++i) {
    table_t op;
    if (!fb_table_at(fb, operators.start + 4u * i, &op)) return status_or(fb, TML_ERR_MODEL_BOUNDS);
    const uint32_t opcode_index = (uint32_t)fb_field_i32(fb, &op, TFL_OP_OPCODE_INDEX, 0);
    if (fb->err != TML_OK) return fb->err;
    if (opcode_index >= opcodes.count) return TML_ERR_MODEL_STRUCTURE;
    table_t oc;
    if (!fb_table_at(fb, opcodes.start + 4u * opcode_index, &oc)) return status_or(fb, TML_ERR_MODEL_BOUNDS);
    /* As tflite::GetBuiltinCode: the larger of deprecated_builtin_code and builtin_code. */
    const int32_t deprecated = fb_field_i8(fb, &oc, TFL_OPCODE_DEPRECATED_BUILTIN_CODE, 0);
    const int32_t builtin = fb_field_i32(fb, &oc, TFL_OPCODE_BUILTIN_CODE, 0);
    const int32_t code = deprecated > builtin ? deprecated : builtin;

    vec_t op_in, op_out;
    const bool io = fb_vector(fb, &op, TFL_OP_INPUTS, 4, &op_in) & fb_vector(fb, &op, TFL_OP_OUTPUTS, 4, &op_out);
    if (fb->err != TML_OK) return fb->err;
    if (code != TFL_BUILTIN_FULLY_CONNECTED && code != TFL_BUILTIN_SOFTMAX) return TML_ERR_UNSUPPORTED_OP;
    if (!io || op_in.count == 0 || op_out.count != 1) return TML_ERR_MODEL_STRUCTURE;
    if (vec_i32(fb, &op_in, 0) != current) return TML_ERR_MODEL_STRUCTURE; /* ops must chain, in order */
    if (m->has_softmax) return TML_ERR_UNSUPPORTED_OP;                     /* nothing after the softmax */

    if (code == TFL_BUILTIN_FULLY_CONNECTED) {
      tml_model_fc_t *fc = &m->fc[m->fc_count];
      if ((st = read_fully_connected(r, &op, &op_in, &op_out, fc)) != TML_OK) return st;
      if (m->fc_count > 0) {
        const tml_model_fc_t *prev = &m->fc[m->fc_count - 1];
        if (prev->output_size != fc->input_size) return TML_ERR_SHAPE;
      }
      m->fc_count++;
      m->output_scale = fc->output_scale;
      m->output_zero_point = fc->output_zero_point;
      m->output_count = fc->output_size;
    } else {
      if (m->fc_count == 0) return TML_ERR_UNSUPPORTED_OP; /* a softmax alone is not a classifier we run */
      if ((st = read_softmax(r, &op, &op_in, &op_out, m)) != TML_OK) return st;
      if (m->softmax_depth != m->output_count) return TML_ERR_SHAPE;
    }
    current = vec_i32(fb, &op_out, 0);
  }
  if (current != vec_i32(fb, &outputs, 0)) return TML_ERR_MODEL_STRUCTURE;
  if (m->fc[0].input_size > TML_MAX_INPUT_BYTES || m->output_count > TML_MAX_OUTPUT_COUNT) return TML_ERR_MODEL_LIMIT;

  tensor_t in;
  if ((st = read_tensor(r, vec_i32(fb, &inputs, 0), &in)) != TML_OK) return st;
  if (in.rank < 1 || in.rank > 4) return TML_ERR_SHAPE;
  m->input_rank = (uint8_t)in.rank;
  for (uint32_t d = 0; d < in.rank; ++d) m->input_dims[d] = (uint16_t)in.dims[d];
  m->input_scale = m->fc[0].input_scale;
  m->input_zero_point = m->fc[0].input_zero_point;
  return TML_OK;
}

tml_status_t tml_model_read(const uint8_t *model, uint32_t model_len, tml_model_t *out) {
  reader_t r;
  memset(&r, 0, sizeof r);
  memset(out, 0, sizeof *out);
  r.fb.base = model;
  r.fb.len = model == NULL ? 0 : model_len;
  const tml_status_t st = read_model(&r, out);
  if (st != TML_OK) memset(out, 0, sizeof *out);
  return st;
}
