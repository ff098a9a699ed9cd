/**
 * The parts of the TFLite flatbuffer schema that this project reads and writes.
 *
 * Source: tensorflow/tflite-micro, tensorflow/compiler/mlir/lite/schema/schema.fbs
 * (the file tensorflow/lite/schema/schema.fbs moved there; same content), read at
 * commit 90b983c2b3f1480642e040bbd2ddb37b998f3424. Schema version 3 (with the
 * 3a/3b/3c additions, which are backward compatible).
 *
 * Field ids are vtable slots: the n-th field declared in a table, counting from 0,
 * where a union field takes two slots (`<name>_type`, then `<name>`). A flatbuffers
 * Builder takes the slot number; in the vtable the field lives at byte 4 + 2 * slot.
 * Only tables' fields are listed up to the last one we use or must recognise.
 */

/** `file_identifier "TFL3";` */
export const TFLITE_FILE_IDENTIFIER = 'TFL3';
/** `Model.version`: "Version 3: Move buffer data from Model.Subgraph.Tensors to Model.Buffers." */
export const TFLITE_SCHEMA_VERSION = 3;

/** `enum TensorType : byte` */
export const TensorType = {
  FLOAT32: 0,
  FLOAT16: 1,
  INT32: 2,
  UINT8: 3,
  INT64: 4,
  STRING: 5,
  BOOL: 6,
  INT16: 7,
  COMPLEX64: 8,
  INT8: 9,
  FLOAT64: 10,
  COMPLEX128: 11,
  UINT64: 12,
  RESOURCE: 13,
  VARIANT: 14,
  UINT32: 15,
  UINT16: 16,
  INT4: 17,
} as const;
export type TensorTypeCode = (typeof TensorType)[keyof typeof TensorType];

/** `enum BuiltinOperator : int32` (only the codes we name in messages; see builtinOperatorName). */
export const BuiltinOperator = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  CUSTOM: 32,
  PAD: 34,
  MEAN: 40,
  QUANTIZE: 114,
  /** Values above this live only in OperatorCode.builtin_code (schema 3a). */
  PLACEHOLDER_FOR_GREATER_OP_CODES: 127,
  BATCH_MATMUL: 126,
} as const;

/** `enum ActivationFunctionType : byte` */
export const ActivationFunctionType = {
  NONE: 0,
  RELU: 1,
  RELU_N1_TO_1: 2,
  RELU6: 3,
  TANH: 4,
  SIGN_BIT: 5,
} as const;

/** `enum FullyConnectedOptionsWeightsFormat : byte` */
export const FullyConnectedOptionsWeightsFormat = {
  DEFAULT: 0,
  SHUFFLED4x16INT8: 1,
} as const;

/**
 * `union BuiltinOptions`: the value of `Operator.builtin_options_type`; 0 is NONE,
 * then the union members in declaration order starting at 1.
 */
export const BuiltinOptions = {
  NONE: 0,
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  ConcatEmbeddingsOptions: 3,
  LSHProjectionOptions: 4,
  Pool2DOptions: 5,
  SVDFOptions: 6,
  RNNOptions: 7,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
} as const;

/** `table Model` */
export const ModelField = {
  version: 0,
  operator_codes: 1,
  subgraphs: 2,
  description: 3,
  buffers: 4,
  metadata_buffer: 5,
  metadata: 6,
  signature_defs: 7,
} as const;

/** `table SubGraph` */
export const SubGraphField = {
  tensors: 0,
  inputs: 1,
  outputs: 2,
  operators: 3,
  name: 4,
} as const;

/** `table Tensor` */
export const TensorField = {
  shape: 0,
  type: 1,
  buffer: 2,
  name: 3,
  quantization: 4,
  is_variable: 5,
  sparsity: 6,
  shape_signature: 7,
  has_rank: 8,
} as const;

/** `table QuantizationParameters` (details is a union: two slots). */
export const QuantizationParametersField = {
  min: 0,
  max: 1,
  scale: 2,
  zero_point: 3,
  details_type: 4,
  details: 5,
  quantized_dimension: 6,
} as const;

/** `table Buffer` (offset/size, schema 3c: data stored after the flatbuffer). */
export const BufferField = {
  data: 0,
  offset: 1,
  size: 2,
} as const;

/** `table OperatorCode` (builtin_code added in schema 3a). */
export const OperatorCodeField = {
  deprecated_builtin_code: 0,
  custom_code: 1,
  version: 2,
  builtin_code: 3,
} as const;

/** `table Operator` (builtin_options is a union: two slots). */
export const OperatorField = {
  opcode_index: 0,
  inputs: 1,
  outputs: 2,
  builtin_options_type: 3,
  builtin_options: 4,
  custom_options: 5,
  custom_options_format: 6,
  mutating_variable_inputs: 7,
  intermediates: 8,
} as const;

/** `table FullyConnectedOptions` */
export const FullyConnectedOptionsField = {
  fused_activation_function: 0,
  weights_format: 1,
  keep_num_dims: 2,
  asymmetric_quantize_inputs: 3,
  quantized_bias_type: 4,
} as const;

/** `table SoftmaxOptions` */
export const SoftmaxOptionsField = {
  beta: 0,
} as const;

/** `table Metadata` */
export const MetadataField = {
  name: 0,
  buffer: 1,
} as const;

/** Byte offset of a field's entry in a table's vtable. */
export function vtableOffset(slot: number): number {
  return 4 + 2 * slot;
}

const operatorNames = new Map<number, string>(
  Object.entries(BuiltinOperator)
    .filter(([name]) => name !== 'PLACEHOLDER_FOR_GREATER_OP_CODES')
    .map(([name, code]) => [code, name]),
);

/** The schema name of a builtin operator code, or `BUILTIN_<code>` for ones we do not list. */
export function builtinOperatorName(code: number): string {
  return operatorNames.get(code) ?? `BUILTIN_${code}`;
}

const tensorTypeNames = new Map<number, string>(Object.entries(TensorType).map(([name, code]) => [code, name]));

/** The schema name of a tensor type code, or `TYPE_<code>`. */
export function tensorTypeName(code: number): string {
  return tensorTypeNames.get(code) ?? `TYPE_${code}`;
}

/** Metadata entry holding the class names as UTF-8 JSON (an array of strings). */
export const CLASS_NAMES_METADATA = 'tinyml_class_names';
/** Metadata entry holding `{ name, inputShape }` as UTF-8 JSON. */
export const MODEL_INFO_METADATA = 'tinyml_model_info';
