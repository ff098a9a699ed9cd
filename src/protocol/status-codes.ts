// Generated from firmware/include/status.h by scripts/gen-status-codes.ts: do not edit.
/** tml_status_t: model load statuses (INFO) and ERROR codes, never renumbered. */
export const ErrorCode = {
  OK: 0,
  BAD_FRAME: 1,
  BAD_VERSION: 2,
  BAD_TYPE: 3,
  BAD_LENGTH: 4,
  MODEL_NOT_READY: 5,
  INVOKE_FAILED: 6,
  INPUT_INCOMPLETE: 7,
  INPUT_MISMATCH: 8,
  BAD_ENCODING: 9,
  MODEL_IDENTIFIER: 16,
  MODEL_VERSION: 17,
  MODEL_BOUNDS: 18,
  MODEL_STRUCTURE: 19,
  UNSUPPORTED_OP: 20,
  UNSUPPORTED_TYPE: 21,
  SHAPE: 22,
  QUANTIZATION: 23,
  ARENA_TOO_SMALL: 24,
  TOO_MANY_LAYERS: 25,
  RUNTIME: 26,
  MODEL_LIMIT: 27,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

/** "NAME (what it means)" for each code. */
export const ERROR_TEXT: Readonly<Record<number, string>> = {
  0: "OK",
  1: "BAD_FRAME (COBS or CRC check failed, or frame too long)",
  2: "BAD_VERSION (the frame's protocol version is not the device's)",
  3: "BAD_TYPE (unknown message type)",
  4: "BAD_LENGTH (body length wrong for the type)",
  5: "MODEL_NOT_READY (the model failed to load)",
  6: "INVOKE_FAILED (the runtime failed)",
  7: "INPUT_INCOMPLETE (INFER_RUN: a chunk of the input is missing; detail: the first missing chunk's index)",
  8: "INPUT_MISMATCH (INFER_RUN: the chunks do not decode to the input named by its CRC-32; the slot was emptied)",
  9: "BAD_ENCODING (INFER_RUN: an input encoding the device does not offer; detail: the encoding)",
  16: "MODEL_IDENTIFIER (not \"TFL3\")",
  17: "MODEL_VERSION (schema version is not 3)",
  18: "MODEL_BOUNDS (an offset or length points outside the model)",
  19: "MODEL_STRUCTURE (missing table, wrong subgraph count, bad tensor index)",
  20: "UNSUPPORTED_OP (an operator other than FULLY_CONNECTED / SOFTMAX)",
  21: "UNSUPPORTED_TYPE (a tensor type other than int8 activations/weights, int32 bias)",
  22: "SHAPE (tensor shapes do not chain)",
  23: "QUANTIZATION (missing or invalid scale / zero point)",
  24: "ARENA_TOO_SMALL (the static arena cannot hold the activations)",
  25: "TOO_MANY_LAYERS (more operators than the native runtime plans for)",
  26: "RUNTIME (TFLM reported an error (init, allocate, invoke))",
  27: "MODEL_LIMIT (a scale, depth or size outside what the kernels and the link handle (model.h))",
};
