/**
 * Writes an Int8Model or FloatModel as a TFLite flatbuffer (schema version 3,
 * identifier TFL3) that the TFLite interpreter and TFLite Micro load as is.
 *
 * Graph (one subgraph, executed in order):
 *   input [1, N] -> FULLY_CONNECTED (weights [out, in], bias [out], fused RELU or NONE)
 *   -> ... -> FULLY_CONNECTED -> (optional) SOFTMAX -> Identity
 *
 * Layout decisions:
 * - The input tensor is [1, prod(inputShape)], flat, because FULLY_CONNECTED
 *   consumes a flat row; the sample shape (e.g. [28, 28]) travels in the
 *   `tinyml_model_info` metadata so the reader gives back the same model.
 * - Buffer 0 is the empty sentinel; each weight and bias has its own buffer whose
 *   data is 16-byte aligned (`(force_align: 16)` in the schema).
 * - Tensor names: `input`, `<layer>/kernel`, `<layer>/bias`, `<layer>/Relu` or
 *   `<layer>/BiasAdd` for a layer output, `Identity` for the model output.
 * - Class names travel twice: as UTF-8 JSON in the `tinyml_class_names` metadata
 *   buffer (what the reader uses) and in the human-readable description.
 * - A FloatModel with `normalized: true` divides its input by 255 before layer 0;
 *   the graph has no op for that, so the 1/255 is folded into layer 0's weights and
 *   the .tflite always takes raw 0..255 pixels (reading it back gives an
 *   equivalent model with `normalized: false`).
 *
 * The function is pure: the same model gives the same bytes.
 */
import { Builder } from 'flatbuffers';
import { UnsupportedModelError } from '../errors.ts';
import type { FloatModel, Int8Model, QuantParams } from '../model/types.ts';
import {
  ActivationFunctionType,
  BufferField,
  BuiltinOperator,
  BuiltinOptions,
  CLASS_NAMES_METADATA,
  FullyConnectedOptionsField,
  MetadataField,
  MODEL_INFO_METADATA,
  ModelField,
  OperatorCodeField,
  OperatorField,
  QuantizationParametersField,
  SoftmaxOptionsField,
  SubGraphField,
  TensorField,
  TensorType,
  TFLITE_FILE_IDENTIFIER,
  TFLITE_SCHEMA_VERSION,
} from './schema.ts';

export interface WriteTfliteOptions {
  /** Replaces the generated Model.description (class names are still in the metadata). */
  description?: string;
}

/** What the reader expects in the `tinyml_model_info` metadata. */
export interface TfliteModelInfo {
  name: string;
  inputShape: number[];
}

interface TensorSpec {
  name: string;
  type: number;
  shape: number[];
  buffer: number;
  quant?: { scale: number[]; zeroPoint: number[]; dimension: number };
}

interface OpSpec {
  opcodeIndex: number;
  inputs: number[];
  outputs: number[];
  optionsType: number;
  writeOptions: (b: Builder) => number;
}

const BUFFER_ALIGN = 16;

/** Serializes `model`; throws UnsupportedModelError when the model is inconsistent. */
export function writeTflite(model: Int8Model | FloatModel, options: WriteTfliteOptions = {}): Uint8Array {
  checkModel(model);
  const int8 = model.kind === 'int8';
  const buffers: Uint8Array[] = [new Uint8Array(0)];
  const tensors: TensorSpec[] = [];
  const ops: OpSpec[] = [];
  const addBuffer = (data: Uint8Array): number => buffers.push(data) - 1;
  const addTensor = (t: TensorSpec): number => tensors.push(t) - 1;
  const act = (q: QuantParams) => ({ scale: [Math.fround(q.scale)], zeroPoint: [q.zeroPoint], dimension: 0 });

  const opcodes: number[] = [BuiltinOperator.FULLY_CONNECTED];
  if (model.softmax) opcodes.push(BuiltinOperator.SOFTMAX);
  const opVersions = int8 ? [4, 2] : [1, 1];

  const first = model.layers[0]!;
  let current = addTensor({
    name: 'input',
    type: int8 ? TensorType.INT8 : TensorType.FLOAT32,
    shape: [1, first.inputSize],
    buffer: 0,
    ...(int8 ? { quant: act((model as Int8Model).input) } : {}),
  });

  const last = model.layers.length - 1;
  model.layers.forEach((layer, i) => {
    const isModelOutput = i === last && !model.softmax;
    const outName = isModelOutput ? 'Identity' : `${layer.name}/${layer.activation === 'relu' ? 'Relu' : 'BiasAdd'}`;
    let weights: number;
    let bias: number;
    let output: number;
    if (model.kind === 'int8') {
      const l = model.layers[i]!;
      const wScales = Array.from(l.weightScales, Math.fround);
      const inScale = Math.fround(l.input.scale);
      weights = addTensor({
        name: `${l.name}/kernel`,
        type: TensorType.INT8,
        shape: [l.outputSize, l.inputSize],
        buffer: addBuffer(bytesOf(l.weights)),
        quant: { scale: wScales, zeroPoint: wScales.map(() => 0), dimension: 0 },
      });
      const bScales = wScales.map((s) => Math.fround(inScale * s));
      bias = addTensor({
        name: `${l.name}/bias`,
        type: TensorType.INT32,
        shape: [l.outputSize],
        buffer: addBuffer(bytesOf(l.bias)),
        quant: { scale: bScales, zeroPoint: bScales.map(() => 0), dimension: 0 },
      });
      output = addTensor({ name: outName, type: TensorType.INT8, shape: [1, l.outputSize], buffer: 0, quant: act(l.output) });
    } else {
      const l = model.layers[i]!;
      let w = l.weights;
      if (i === 0 && model.normalized) w = w.map((v) => v / 255);
      weights = addTensor({ name: `${l.name}/kernel`, type: TensorType.FLOAT32, shape: [l.outputSize, l.inputSize], buffer: addBuffer(bytesOf(w)) });
      bias = addTensor({ name: `${l.name}/bias`, type: TensorType.FLOAT32, shape: [l.outputSize], buffer: addBuffer(bytesOf(l.bias)) });
      output = addTensor({ name: outName, type: TensorType.FLOAT32, shape: [1, l.outputSize], buffer: 0 });
    }
    const activation = layer.activation === 'relu' ? ActivationFunctionType.RELU : ActivationFunctionType.NONE;
    ops.push({
      opcodeIndex: 0,
      inputs: [current, weights, bias],
      outputs: [output],
      optionsType: BuiltinOptions.FullyConnectedOptions,
      writeOptions: (b) => {
        b.startObject(FullyConnectedOptionsField.keep_num_dims + 1);
        b.addFieldInt8(FullyConnectedOptionsField.fused_activation_function, activation, ActivationFunctionType.NONE);
        // weights_format DEFAULT and keep_num_dims false are the schema defaults.
        return b.endObject();
      },
    });
    current = output;
  });

  if (model.softmax) {
    const lastLayer = model.layers[last]!;
    let beta = 1;
    let quant: TensorSpec['quant'];
    if (model.kind === 'int8') {
      beta = model.softmax!.beta;
      quant = act(model.softmax!.output);
    }
    const output = addTensor({
      name: 'Identity',
      type: int8 ? TensorType.INT8 : TensorType.FLOAT32,
      shape: [1, lastLayer.outputSize],
      buffer: 0,
      ...(quant ? { quant } : {}),
    });
    ops.push({
      opcodeIndex: 1,
      inputs: [current],
      outputs: [output],
      optionsType: BuiltinOptions.SoftmaxOptions,
      writeOptions: (b) => {
        b.startObject(SoftmaxOptionsField.beta + 1);
        b.addFieldFloat32(SoftmaxOptionsField.beta, beta, 0);
        return b.endObject();
      },
    });
    current = output;
  }

  const info: TfliteModelInfo = { name: model.name, inputShape: [...model.inputShape] };
  const utf8 = new TextEncoder();
  const metadata: Array<{ name: string; buffer: number }> = [
    { name: CLASS_NAMES_METADATA, buffer: addBuffer(utf8.encode(JSON.stringify(model.classNames))) },
    { name: MODEL_INFO_METADATA, buffer: addBuffer(utf8.encode(JSON.stringify(info))) },
  ];
  const description = options.description ?? defaultDescription(model);

  // ---- serialize (children before parents; the Builder writes back to front) ----
  const b = new Builder(1024 + buffers.reduce((n, d) => n + d.length + BUFFER_ALIGN, 0));

  const bufferOffsets = buffers.map((data) => {
    const dataOffset = data.length > 0 ? byteVector(b, data, BUFFER_ALIGN) : 0;
    b.startObject(BufferField.data + 1);
    if (dataOffset) b.addFieldOffset(BufferField.data, dataOffset, 0);
    return b.endObject();
  });

  const tensorOffsets = tensors.map((t) => {
    const name = b.createString(t.name);
    const shape = int32Vector(b, t.shape);
    let quant = 0;
    if (t.quant) {
      const scale = float32Vector(b, t.quant.scale);
      const zeroPoint = int64Vector(b, t.quant.zeroPoint);
      b.startObject(QuantizationParametersField.quantized_dimension + 1);
      b.addFieldOffset(QuantizationParametersField.scale, scale, 0);
      b.addFieldOffset(QuantizationParametersField.zero_point, zeroPoint, 0);
      b.addFieldInt32(QuantizationParametersField.quantized_dimension, t.quant.dimension, 0);
      quant = b.endObject();
    }
    b.startObject(TensorField.quantization + 1);
    b.addFieldOffset(TensorField.shape, shape, 0);
    b.addFieldInt8(TensorField.type, t.type, TensorType.FLOAT32);
    b.addFieldInt32(TensorField.buffer, t.buffer, 0);
    b.addFieldOffset(TensorField.name, name, 0);
    if (quant) b.addFieldOffset(TensorField.quantization, quant, 0);
    return b.endObject();
  });

  const operatorOffsets = ops.map((op) => {
    const inputs = int32Vector(b, op.inputs);
    const outputs = int32Vector(b, op.outputs);
    const opts = op.writeOptions(b);
    b.startObject(OperatorField.builtin_options + 1);
    b.addFieldInt32(OperatorField.opcode_index, op.opcodeIndex, 0);
    b.addFieldOffset(OperatorField.inputs, inputs, 0);
    b.addFieldOffset(OperatorField.outputs, outputs, 0);
    b.addFieldInt8(OperatorField.builtin_options_type, op.optionsType, BuiltinOptions.NONE);
    b.addFieldOffset(OperatorField.builtin_options, opts, 0);
    return b.endObject();
  });

  const subgraphName = b.createString('main');
  const sgTensors = offsetVector(b, tensorOffsets);
  const sgInputs = int32Vector(b, [0]);
  const sgOutputs = int32Vector(b, [current]);
  const sgOperators = offsetVector(b, operatorOffsets);
  b.startObject(SubGraphField.name + 1);
  b.addFieldOffset(SubGraphField.tensors, sgTensors, 0);
  b.addFieldOffset(SubGraphField.inputs, sgInputs, 0);
  b.addFieldOffset(SubGraphField.outputs, sgOutputs, 0);
  b.addFieldOffset(SubGraphField.operators, sgOperators, 0);
  b.addFieldOffset(SubGraphField.name, subgraphName, 0);
  const subgraph = b.endObject();

  const opcodeOffsets = opcodes.map((code, i) => {
    b.startObject(OperatorCodeField.builtin_code + 1);
    // Both fields, written even when equal to their defaults: readers before
    // schema 3a look only at deprecated_builtin_code, newer ones at the larger.
    b.addInt8(Math.min(code, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES));
    b.slot(OperatorCodeField.deprecated_builtin_code);
    b.addFieldInt32(OperatorCodeField.version, opVersions[i]!, 1);
    b.addInt32(code);
    b.slot(OperatorCodeField.builtin_code);
    return b.endObject();
  });

  const metadataOffsets = metadata.map((m) => {
    const name = b.createString(m.name);
    b.startObject(MetadataField.buffer + 1);
    b.addFieldOffset(MetadataField.name, name, 0);
    b.addFieldInt32(MetadataField.buffer, m.buffer, 0);
    return b.endObject();
  });

  const descriptionOffset = b.createString(description);
  const opcodesVec = offsetVector(b, opcodeOffsets);
  const subgraphsVec = offsetVector(b, [subgraph]);
  const buffersVec = offsetVector(b, bufferOffsets);
  const metadataVec = offsetVector(b, metadataOffsets);
  b.startObject(ModelField.metadata + 1);
  b.addFieldInt32(ModelField.version, TFLITE_SCHEMA_VERSION, 0);
  b.addFieldOffset(ModelField.operator_codes, opcodesVec, 0);
  b.addFieldOffset(ModelField.subgraphs, subgraphsVec, 0);
  b.addFieldOffset(ModelField.description, descriptionOffset, 0);
  b.addFieldOffset(ModelField.buffers, buffersVec, 0);
  b.addFieldOffset(ModelField.metadata, metadataVec, 0);
  const root = b.endObject();
  b.finish(root, TFLITE_FILE_IDENTIFIER);
  return b.asUint8Array().slice();
}

/** "<name>: int8 ..., classes: a, b, ..." — for people; the reader uses the metadata. */
function defaultDescription(model: Int8Model | FloatModel): string {
  const ops = `${model.layers.length} x FULLY_CONNECTED${model.softmax ? ' + SOFTMAX' : ''}`;
  const kind = model.kind === 'int8' ? 'int8 full-integer' : 'float32';
  return `${model.name}: ${kind} dense classifier (${ops}) written by tinyml-deploy; classes: ${model.classNames.join(', ')}`;
}

function checkModel(model: Int8Model | FloatModel): void {
  const fail = (what: string): never => {
    throw new UnsupportedModelError(`cannot write model '${model.name}' as TFLite: ${what}`);
  };
  if (model.layers.length === 0) fail('it has no layers');
  const flat = model.inputShape.reduce((a, d) => a * d, 1);
  if (flat !== model.layers[0]!.inputSize) {
    fail(`input shape [${model.inputShape.join(', ')}] has ${flat} values but layer '${model.layers[0]!.name}' takes ${model.layers[0]!.inputSize}`);
  }
  model.layers.forEach((l, i) => {
    if (!Number.isInteger(l.inputSize) || !Number.isInteger(l.outputSize) || l.inputSize < 1 || l.outputSize < 1) {
      fail(`layer '${l.name}' has sizes ${l.inputSize} -> ${l.outputSize}`);
    }
    if (i > 0 && model.layers[i - 1]!.outputSize !== l.inputSize) {
      fail(`layer '${l.name}' takes ${l.inputSize} values but the layer before gives ${model.layers[i - 1]!.outputSize}`);
    }
    if (l.weights.length !== l.inputSize * l.outputSize) fail(`layer '${l.name}' has ${l.weights.length} weights, expected ${l.inputSize * l.outputSize}`);
    if (l.bias.length !== l.outputSize) fail(`layer '${l.name}' has ${l.bias.length} biases, expected ${l.outputSize}`);
    if (l.activation !== 'relu' && l.activation !== 'linear') fail(`layer '${l.name}' has activation '${String(l.activation)}'`);
  });
  if (model.kind === 'int8') {
    for (const l of model.layers) {
      if (l.weightScales.length !== 1 && l.weightScales.length !== l.outputSize) {
        fail(`layer '${l.name}' has ${l.weightScales.length} weight scales, expected 1 or ${l.outputSize}`);
      }
    }
  }
  const classes = model.layers[model.layers.length - 1]!.outputSize;
  if (model.classNames.length !== classes) fail(`it has ${model.classNames.length} class names for ${classes} outputs`);
}

function bytesOf(a: Int8Array | Int32Array | Float32Array): Uint8Array {
  // Typed arrays are in platform byte order; TFLite buffers are little-endian.
  const out = new Uint8Array(a.byteLength);
  const view = new DataView(out.buffer);
  if (a instanceof Int8Array) out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  else if (a instanceof Int32Array) a.forEach((v, i) => view.setInt32(i * 4, v, true));
  else a.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

function byteVector(b: Builder, data: Uint8Array, alignment: number): number {
  b.startVector(1, data.length, alignment);
  for (let i = data.length - 1; i >= 0; i--) b.addInt8(data[i]!);
  return b.endVector();
}

function int32Vector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]!);
  return b.endVector();
}

function float32Vector(b: Builder, values: readonly number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]!);
  return b.endVector();
}

function int64Vector(b: Builder, values: readonly number[]): number {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]!));
  return b.endVector();
}

function offsetVector(b: Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]!);
  return b.endVector();
}
