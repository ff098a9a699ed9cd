/* Status and error codes shared by the model reader, the runtimes and the
 * protocol. Values are part of the protocol (docs/protocol.md, since version 1): never
 * renumber, only add. This enum is the one table of them: the host's
 * src/protocol/status-codes.ts is generated from it (scripts/gen-status-codes.ts;
 * a test fails when it is stale), names, numbers and the comments as descriptions. */
#ifndef TINYML_STATUS_H
#define TINYML_STATUS_H

typedef enum {
  TML_OK = 0,

  /* Protocol errors, sent in ERROR frames. */
  TML_ERR_BAD_FRAME = 1,       /* COBS or CRC check failed, or frame too long */
  TML_ERR_BAD_VERSION = 2,     /* the frame's protocol version is not the device's */
  TML_ERR_BAD_TYPE = 3,        /* unknown message type */
  TML_ERR_BAD_LENGTH = 4,      /* body length wrong for the type */
  TML_ERR_MODEL_NOT_READY = 5, /* the model failed to load */
  TML_ERR_INVOKE_FAILED = 6,   /* the runtime failed */
  TML_ERR_INPUT_INCOMPLETE = 7, /* INFER_RUN: a chunk of the input is missing; detail: the first missing chunk's index */
  TML_ERR_INPUT_MISMATCH = 8,   /* INFER_RUN: the chunks do not decode to the input named by its CRC-32; the slot was emptied */
  TML_ERR_BAD_ENCODING = 9,     /* INFER_RUN: an input encoding the device does not offer; detail: the encoding */

  /* Model load errors (INFO status, ERROR detail). */
  TML_ERR_MODEL_IDENTIFIER = 16, /* not "TFL3" */
  TML_ERR_MODEL_VERSION = 17,    /* schema version is not 3 */
  TML_ERR_MODEL_BOUNDS = 18,     /* an offset or length points outside the model */
  TML_ERR_MODEL_STRUCTURE = 19,  /* missing table, wrong subgraph count, bad tensor index */
  TML_ERR_UNSUPPORTED_OP = 20,   /* an operator other than FULLY_CONNECTED / SOFTMAX */
  TML_ERR_UNSUPPORTED_TYPE = 21, /* a tensor type other than int8 activations/weights, int32 bias */
  TML_ERR_SHAPE = 22,            /* tensor shapes do not chain */
  TML_ERR_QUANTIZATION = 23,     /* missing or invalid scale / zero point */
  TML_ERR_ARENA_TOO_SMALL = 24,  /* the static arena cannot hold the activations */
  TML_ERR_TOO_MANY_LAYERS = 25,  /* more operators than the native runtime plans for */
  TML_ERR_RUNTIME = 26,          /* TFLM reported an error (init, allocate, invoke) */
  TML_ERR_MODEL_LIMIT = 27       /* a scale, depth or size outside what the kernels and the link handle (model.h) */
} tml_status_t;

#endif
