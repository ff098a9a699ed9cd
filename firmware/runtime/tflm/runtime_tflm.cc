// runtime.h on TensorFlow Lite Micro.
//
// Builds against the TFLM shipped in tflite-micro-arduino-examples (whose
// FULLY_CONNECTED and SOFTMAX are the CMSIS-NN kernels; compile with
// -DCMSIS_NN -DARM_MATH_DSP on Cortex-M4) and against upstream tflite-micro:
// only APIs present in both are used (the MicroInterpreter constructor without
// an ErrorReporter, MicroMutableOpResolver, arena_used_bytes()).
//
// Nothing is allocated from the heap: the resolver and the interpreter are
// constructed with placement new in static storage at runtime_init(), and the
// arena is a static array of TML_ARENA_BYTES.
//
// TML_ARENA_BYTES comes from a generated tinyml_config.h when the build has
// one on its include path, else from -DTML_ARENA_BYTES=..., else the default
// below (enough for the default 784-128-10 model with room to spare; see
// src/firmware-build/tflm-arena.ts for the measured formula).

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <new>

#if defined(__has_include)
#if __has_include("tinyml_config.h")
#include "tinyml_config.h"
#endif
#endif

#include "tensorflow/lite/micro/kernels/fully_connected.h"
#include "tensorflow/lite/micro/kernels/softmax.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

#include "hal.h"
#include "log.h"
#include "runtime.h"

#ifndef TML_ARENA_BYTES
#define TML_ARENA_BYTES (16u * 1024u)
#endif

namespace {

// The operators this runtime links. The resolver is sized to exactly the
// distinct operators the loaded model uses (at most these two).
constexpr unsigned kMaxOps = 2;
using Resolver = tflite::MicroMutableOpResolver<kMaxOps>;

alignas(16) uint8_t tensor_arena[TML_ARENA_BYTES];
alignas(Resolver) uint8_t resolver_storage[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];

Resolver *resolver = nullptr;
tflite::MicroInterpreter *interpreter = nullptr;
runtime_info_t loaded;  // copy of the info of the model that loaded, for invoke

// What TFLM's log (DebugLog, below) said about the arena while AllocateTensors
// ran, so that its failure is reported as TML_ERR_ARENA_TOO_SMALL with the size
// needed rather than as TML_ERR_RUNTIME. An allocation that does not fit says
// "missing: <bytes>"; when too little is left to even plan in, the planner says
// "Too many buffers" (no size). TFLM needs arena_used_bytes() + 16 at most
// (measured: 1572 used, 1584 enough, 1572 not).
bool arena_exhausted = false;
uint32_t arena_missing = 0;

void teardown() {
  if (interpreter != nullptr) {
    interpreter->~MicroInterpreter();
    interpreter = nullptr;
  }
  if (resolver != nullptr) {
    resolver->~Resolver();
    resolver = nullptr;
  }
  memset(&loaded, 0, sizeof loaded);
}

tml_status_t fail(tml_status_t status, runtime_info_t *info) {
  teardown();
  memset(info, 0, sizeof *info);
  info->kind = RUNTIME_TFLM;
  info->arena_size = TML_ARENA_BYTES;
  return status;
}

// True when a FULLY_CONNECTED has per-channel weight scales. The TFLM of
// tflite-micro-arduino-examples (7948b85, 2023-12) quantizes FULLY_CONNECTED
// with the first scale only, so such a model would load and give wrong answers
// (checked: its outputs equal our reference run with weightScales[0] alone).
// Define TML_TFLM_PER_CHANNEL_FC=1 when building against a TFLM that supports them.
bool has_per_channel_fc(const tflite::Model *model) {
#if defined(TML_TFLM_PER_CHANNEL_FC) && TML_TFLM_PER_CHANNEL_FC
  (void)model;
  return false;
#else
  const auto *codes = model->operator_codes();
  const auto *subgraph = model->subgraphs()->Get(0);
  const auto *ops = subgraph->operators();
  const auto *tensors = subgraph->tensors();
  if (ops == nullptr || tensors == nullptr) return false;
  for (flatbuffers::uoffset_t i = 0; i < ops->size(); i++) {
    const auto *op = ops->Get(i);
    if (op->opcode_index() >= codes->size() ||
        tflite::GetBuiltinCode(codes->Get(op->opcode_index())) != tflite::BuiltinOperator_FULLY_CONNECTED) {
      continue;
    }
    if (op->inputs() == nullptr || op->inputs()->size() < 2) continue;
    const int32_t filter = op->inputs()->Get(1);
    if (filter < 0 || static_cast<flatbuffers::uoffset_t>(filter) >= tensors->size()) continue;
    const auto *q = tensors->Get(filter)->quantization();
    if (q != nullptr && q->scale() != nullptr && q->scale()->size() > 1) return true;
  }
  return false;
#endif
}

// Adds to `r` each operator the model uses, once. Anything but FULLY_CONNECTED
// and SOFTMAX is TML_ERR_UNSUPPORTED_OP; per-channel FULLY_CONNECTED weights are
// TML_ERR_QUANTIZATION (see above). Malformed indices are left to TFLM.
tml_status_t add_model_ops(const tflite::Model *model, Resolver *r) {
  const auto *codes = model->operator_codes();
  if (codes == nullptr) return TML_ERR_MODEL_STRUCTURE;
  bool fc = false, softmax = false;
  for (flatbuffers::uoffset_t i = 0; i < codes->size(); i++) {
    switch (tflite::GetBuiltinCode(codes->Get(i))) {
      case tflite::BuiltinOperator_FULLY_CONNECTED: fc = true; break;
      case tflite::BuiltinOperator_SOFTMAX: softmax = true; break;
      default: return TML_ERR_UNSUPPORTED_OP;
    }
  }
  if (fc && has_per_channel_fc(model)) return TML_ERR_QUANTIZATION;
  if (fc && r->AddFullyConnected(tflite::Register_FULLY_CONNECTED_INT8()) != kTfLiteOk) return TML_ERR_RUNTIME;
  if (softmax && r->AddSoftmax(tflite::Register_SOFTMAX_INT8()) != kTfLiteOk) return TML_ERR_RUNTIME;
  return TML_OK;
}

// The bytes after "missing: " in a TFLM message, or 0.
uint32_t parse_missing(const char *s) {
  const char *p = strstr(s, "missing: ");
  if (p == nullptr) return 0;
  uint32_t v = 0;
  for (p += 9; *p >= '0' && *p <= '9'; ++p) v = v * 10u + static_cast<uint32_t>(*p - '0');
  return v;
}

void tflm_log(const char *s) {
  const uint32_t missing = parse_missing(s);
  if (missing > 0 || strstr(s, "Too many buffers") != nullptr) arena_exhausted = true;
  if (missing > arena_missing) arena_missing = missing;
  tml_log_write(s);  // TFLM ends each message with its own "\r\n"
}

}  // namespace

// TFLM prints everything through DebugLog(const char *), and the serial link
// carries only frames: the text goes to the device log (log.h), which the app
// sends as LOG frames.
//
// Where the library defines DebugLog itself, ours must not be a second one.
// tflite-micro-arduino-examples defines it in system_setup.cpp for the Nano 33
// BLE only (as Serial.print, which would garble the protocol), and arduino-cli
// links library .cpp files as objects (dot_a_linkage=false), so that definition
// is always in the link. There we define __wrap_DebugLog, and the sketch is
// linked with -Wl,--wrap=DebugLog (the build property compiler.c.elf.extra_flags):
// every call to DebugLog lands here and the library's own is never called (and
// dropped by --gc-sections). Elsewhere (the emulator build, which compiles that
// file without its Nano code and leaves out the library's debug_log.cpp) we are
// DebugLog.
#if defined(ARDUINO_ARDUINO_NANO33BLE)
extern "C" void __wrap_DebugLog(const char *s) { tflm_log(s); }
#else
extern "C" void DebugLog(const char *s) { tflm_log(s); }
#endif

extern "C" tml_status_t runtime_init(const uint8_t *model_data, uint32_t model_len, runtime_info_t *info) {
  teardown();
  memset(info, 0, sizeof *info);
  info->kind = RUNTIME_TFLM;
  info->arena_size = TML_ARENA_BYTES;

  if (model_data == nullptr || model_len < 8) return fail(TML_ERR_MODEL_BOUNDS, info);
  if (!tflite::ModelBufferHasIdentifier(model_data)) return fail(TML_ERR_MODEL_IDENTIFIER, info);
  const tflite::Model *model = tflite::GetModel(model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return fail(TML_ERR_MODEL_VERSION, info);
  if (model->subgraphs() == nullptr || model->subgraphs()->size() != 1) return fail(TML_ERR_MODEL_STRUCTURE, info);

  resolver = new (resolver_storage) Resolver();
  tml_status_t status = add_model_ops(model, resolver);
  if (status != TML_OK) return fail(status, info);

  arena_exhausted = false;
  arena_missing = 0;
  interpreter = new (interpreter_storage) tflite::MicroInterpreter(model, *resolver, tensor_arena, TML_ARENA_BYTES);
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    if (!arena_exhausted) return fail(TML_ERR_RUNTIME, info);
    fail(TML_ERR_ARENA_TOO_SMALL, info);
    // At least this much: the failing allocation's shortfall on top of the arena.
    info->arena_used = arena_missing > 0 ? TML_ARENA_BYTES + arena_missing : 0;
    return TML_ERR_ARENA_TOO_SMALL;
  }
  if (interpreter->inputs_size() != 1 || interpreter->outputs_size() != 1) return fail(TML_ERR_MODEL_STRUCTURE, info);

  const TfLiteTensor *in = interpreter->input(0);
  const TfLiteTensor *out = interpreter->output(0);
  if (in->type != kTfLiteInt8 || out->type != kTfLiteInt8) return fail(TML_ERR_UNSUPPORTED_TYPE, info);
  if (in->dims == nullptr || in->dims->size < 1 || in->dims->size > RUNTIME_MAX_RANK) return fail(TML_ERR_SHAPE, info);
  if (out->bytes > 0xFFFFu) return fail(TML_ERR_SHAPE, info);

  info->arena_used = static_cast<uint32_t>(interpreter->arena_used_bytes());
  info->input_rank = static_cast<uint8_t>(in->dims->size);
  for (int d = 0; d < in->dims->size; d++) info->input_dims[d] = static_cast<uint16_t>(in->dims->data[d]);
  info->input_bytes = static_cast<uint32_t>(in->bytes);
  info->input_scale = in->params.scale;
  info->input_zero_point = in->params.zero_point;
  info->output_count = static_cast<uint16_t>(out->bytes);
  info->output_scale = out->params.scale;
  info->output_zero_point = out->params.zero_point;
  loaded = *info;
  return TML_OK;
}

extern "C" int8_t *runtime_input_tensor(void) {
  return interpreter != nullptr ? interpreter->input(0)->data.int8 : nullptr;
}

extern "C" tml_status_t runtime_invoke(const int8_t *input, int8_t *output, uint32_t *cycles) {
  if (interpreter == nullptr) return TML_ERR_MODEL_NOT_READY;
  // Again before every run: the planner may have put later tensors over the
  // input's bytes.
  if (input != nullptr) memcpy(interpreter->input(0)->data.int8, input, loaded.input_bytes);
  const uint32_t start = hal_cycles_now();
  const TfLiteStatus status = interpreter->Invoke();
  const uint32_t end = hal_cycles_now();
  if (status != kTfLiteOk) return TML_ERR_RUNTIME;
  memcpy(output, interpreter->output(0)->data.int8, loaded.output_count);
  *cycles = end - start;
  return TML_OK;
}
