/**
 * Reads a TFLite flatbuffer back into an Int8Model or FloatModel.
 *
 * Accepted: one subgraph, one input, one output, a chain of FULLY_CONNECTED ops
 * (int8 with int32 bias, or float32) optionally ended by one SOFTMAX. That is what
 * writer.ts writes, and what the TFLite converter writes for such a model when the
 * input is already flat (weights may share buffers, buffers may live after the
 * flatbuffer as in schema 3c, names may be anything).
 *
 * Every offset and length is checked before it is read, so damaged input gives a
 * TfliteFormatError with a one-line message, never a RangeError or a bogus model.
 */
import { ByteBuffer } from 'flatbuffers';
import { ModelLimitError, TfliteFormatError } from '../errors.ts';
import { checkInt8ModelLimits } from '../reference/limits.ts';
import type { DenseActivation, FloatDense, FloatModel, Int8Dense, Int8Model, QuantParams } from '../model/types.ts';
import {
  ActivationFunctionType,
  BufferField,
  BuiltinOperator,
  BuiltinOptions,
  builtinOperatorName,
  CLASS_NAMES_METADATA,
  FullyConnectedOptionsField,
  FullyConnectedOptionsWeightsFormat,
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
  tensorTypeName,
  TFLITE_FILE_IDENTIFIER,
  TFLITE_SCHEMA_VERSION,
  vtableOffset,
} from './schema.ts';

/**
 * Parses `bytes` (a whole .tflite file). Throws TfliteFormatError for anything
 * else, and ModelLimitError for an int8 model past the kernels' bounds
 * (src/reference/limits.ts).
 */
export function readTflite(bytes: Uint8Array): Int8Model | FloatModel {
  return read(bytes, true);
}

/**
 * Reads only what a runtime on the device reads: operators, tensors, buffers and
 * quantization. Tensor names, the description and the metadata are skipped, as
 * the firmware's reader (firmware/core/model.c) and TFLM skip them, so damage
 * there does not refuse the model; layers are named `dense_<i>` and classes
 * `class_<i>`. The differential fuzzer compares this with the C reader.
 */
export function readTfliteGraph(bytes: Uint8Array): Int8Model | FloatModel {
  return read(bytes, false);
}

function read(bytes: Uint8Array, annotations: boolean): Int8Model | FloatModel {
  try {
    const model = parseModel(new Fb(bytes), annotations);
    if (model.kind === 'int8') checkInt8ModelLimits(model);
    return model;
  } catch (err) {
    if (err instanceof TfliteFormatError || err instanceof ModelLimitError) throw err;
    // A check we missed must still surface as a format error, not a crash.
    throw new TfliteFormatError(`malformed TFLite file: ${(err as Error).message}`, { cause: err });
  }
}

// ---------------------------------------------------------------- flatbuffer access

const fail = (message: string): never => {
  throw new TfliteFormatError(message);
};

/** A table: its position and its vtable, both checked. */
interface Table {
  readonly pos: number;
  readonly vtable: number;
  readonly vtableSize: number;
  readonly what: string;
}

/** Bounds-checked reads on top of the flatbuffers ByteBuffer. */
class Fb {
  readonly bb: ByteBuffer;
  readonly size: number;
  readonly bytes: Uint8Array;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.bb = new ByteBuffer(bytes);
    this.size = bytes.length;
  }

  need(pos: number, len: number, what: string): void {
    if (!Number.isSafeInteger(pos) || pos < 0 || len < 0 || pos + len > this.size) {
      fail(`truncated: ${what} at byte ${pos} (${len} bytes) runs past the end of the file (${this.size} bytes)`);
    }
  }

  u8(pos: number, what: string): number {
    this.need(pos, 1, what);
    return this.bb.readUint8(pos);
  }
  u16(pos: number, what: string): number {
    this.need(pos, 2, what);
    return this.bb.readUint16(pos);
  }
  i32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.bb.readInt32(pos);
  }
  u32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.bb.readUint32(pos);
  }

  /** The table whose uoffset is stored at `at`. */
  tableAt(at: number, what: string): Table {
    return this.table(at + this.u32(at, what), what);
  }

  table(pos: number, what: string): Table {
    this.need(pos, 4, what);
    const vtable = pos - this.bb.readInt32(pos);
    this.need(vtable, 4, `vtable of ${what}`);
    const vtableSize = this.bb.readUint16(vtable);
    const objectSize = this.bb.readUint16(vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 !== 0) fail(`malformed: vtable of ${what} has size ${vtableSize}`);
    this.need(vtable, vtableSize, `vtable of ${what}`);
    this.need(pos, objectSize, what);
    return { pos, vtable, vtableSize, what };
  }

  /** Position of field `slot` of `t` (0 when absent), checked to hold `width` bytes. */
  field(t: Table, slot: number, width: number): number {
    const vo = vtableOffset(slot);
    if (vo + 2 > t.vtableSize) return 0;
    const off = this.bb.readUint16(t.vtable + vo);
    if (off === 0) return 0;
    this.need(t.pos + off, width, `field ${slot} of ${t.what}`);
    return t.pos + off;
  }

  fieldU8(t: Table, slot: number, dflt: number): number {
    const p = this.field(t, slot, 1);
    return p ? this.bb.readUint8(p) : dflt;
  }
  fieldI8(t: Table, slot: number, dflt: number): number {
    const p = this.field(t, slot, 1);
    return p ? this.bb.readInt8(p) : dflt;
  }
  fieldI32(t: Table, slot: number, dflt: number): number {
    const p = this.field(t, slot, 4);
    return p ? this.bb.readInt32(p) : dflt;
  }
  fieldU32(t: Table, slot: number, dflt: number): number {
    const p = this.field(t, slot, 4);
    return p ? this.bb.readUint32(p) : dflt;
  }
  fieldU64(t: Table, slot: number): number {
    const p = this.field(t, slot, 8);
    if (!p) return 0;
    const v = this.bb.readUint64(p);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`malformed: field ${slot} of ${t.what} is ${v}`);
    return Number(v);
  }
  fieldF32(t: Table, slot: number, dflt: number): number {
    const p = this.field(t, slot, 4);
    return p ? this.bb.readFloat32(p) : dflt;
  }
  fieldTable(t: Table, slot: number, what: string): Table | null {
    const p = this.field(t, slot, 4);
    return p ? this.tableAt(p, what) : null;
  }

  /** A vector field: position of element 0 and length, checked for `elemSize`-byte elements. */
  vector(t: Table, slot: number, elemSize: number, what: string): { start: number; length: number } | null {
    const p = this.field(t, slot, 4);
    if (!p) return null;
    const vec = p + this.bb.readUint32(p);
    const length = this.u32(vec, what);
    this.need(vec + 4, length * elemSize, what);
    return { start: vec + 4, length };
  }

  /**
   * A vector of tables whose elements are read when asked for, as the firmware's
   * reader does: a damaged table nothing refers to does not refuse the file.
   */
  lazyTables(t: Table, slot: number, what: string): { length: number; at(i: number): Table } {
    const v = this.vector(t, slot, 4, what);
    const length = v ? v.length : 0;
    return { length, at: (i) => this.tableAt(v!.start + 4 * i, `${what}[${i}]`) };
  }

  tables(t: Table, slot: number, what: string): Table[] {
    const v = this.vector(t, slot, 4, what);
    if (!v) return [];
    return Array.from({ length: v.length }, (_, i) => this.tableAt(v.start + 4 * i, `${what}[${i}]`));
  }

  ints(t: Table, slot: number, what: string): number[] | null {
    const v = this.vector(t, slot, 4, what);
    return v ? Array.from({ length: v.length }, (_, i) => this.bb.readInt32(v.start + 4 * i)) : null;
  }

  floats(t: Table, slot: number, what: string): number[] | null {
    const v = this.vector(t, slot, 4, what);
    return v ? Array.from({ length: v.length }, (_, i) => this.bb.readFloat32(v.start + 4 * i)) : null;
  }

  longs(t: Table, slot: number, what: string): number[] | null {
    const v = this.vector(t, slot, 8, what);
    return v ? Array.from({ length: v.length }, (_, i) => Number(this.bb.readInt64(v.start + 8 * i))) : null;
  }

  byteVector(t: Table, slot: number, what: string): Uint8Array | null {
    const v = this.vector(t, slot, 1, what);
    return v ? this.bytes.subarray(v.start, v.start + v.length) : null;
  }

  string(t: Table, slot: number, what: string): string | null {
    const b = this.byteVector(t, slot, what);
    return b ? this.decode(b, what) : null;
  }

  decode(b: Uint8Array, what: string): string {
    try {
      return this.utf8.decode(b);
    } catch {
      return fail(`malformed: ${what} is not valid UTF-8`);
    }
  }
}

// ---------------------------------------------------------------- model

interface TensorRec {
  index: number;
  name: string;
  type: number;
  shape: number[];
  buffer: number;
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
}

interface OpRec {
  index: number;
  code: number;
  inputs: number[];
  outputs: number[];
  optionsType: number;
  options: Table | null;
}

function parseModel(fb: Fb, annotations: boolean): Int8Model | FloatModel {
  if (fb.size < 8) fail(`truncated: the file has ${fb.size} bytes, too few for a TFLite flatbuffer`);
  const ident = String.fromCharCode(...fb.bytes.subarray(4, 8));
  if (ident !== TFLITE_FILE_IDENTIFIER) {
    fail(`not a TFLite file: identifier is '${printable(ident)}', expected '${TFLITE_FILE_IDENTIFIER}'`);
  }
  const model = fb.tableAt(0, 'Model');
  const version = fb.fieldU32(model, ModelField.version, 0);
  if (version !== TFLITE_SCHEMA_VERSION) fail(`unsupported TFLite schema version ${version}: expected ${TFLITE_SCHEMA_VERSION}`);

  const opcodes = fb.lazyTables(model, ModelField.operator_codes, 'Model.operator_codes');
  const opcode = (index: number, what: string): number => {
    if (index >= opcodes.length) fail(`malformed: ${what} has opcode index ${index} of ${opcodes.length}`);
    const oc = opcodes.at(index);
    const deprecated = fb.fieldI8(oc, OperatorCodeField.deprecated_builtin_code, 0);
    const builtin = fb.fieldI32(oc, OperatorCodeField.builtin_code, 0);
    // As tflite::GetBuiltinCode: the larger of the two (files before schema 3a have only the first).
    return Math.max(deprecated, builtin);
  };

  const buffersT = fb.lazyTables(model, ModelField.buffers, 'Model.buffers');
  const bufferCache = new Map<number, Uint8Array>();
  const buffer = (index: number, what: string): Uint8Array => {
    const cached = bufferCache.get(index);
    if (cached) return cached;
    if (!(index < buffersT.length)) fail(`malformed: ${what} refers to buffer ${index} of ${buffersT.length}`);
    const t = buffersT.at(index);
    // Inline data first, as TFLM reads it; schema 3c's offset and size only without it.
    let data = fb.byteVector(t, BufferField.data, `data of buffer ${index}`);
    if (data === null) {
      data = new Uint8Array(0);
      const offset = fb.fieldU64(t, BufferField.offset);
      if (offset > 1) {
        const size = fb.fieldU64(t, BufferField.size);
        fb.need(offset, size, `data of buffer ${index}`);
        data = fb.bytes.subarray(offset, offset + size);
      }
    }
    bufferCache.set(index, data);
    return data;
  };

  const subgraphs = fb.tables(model, ModelField.subgraphs, 'Model.subgraphs');
  if (subgraphs.length !== 1) fail(`the model has ${subgraphs.length} subgraphs: only models with one are supported`);
  const sg = subgraphs[0]!;
  const tensorTables = fb.lazyTables(sg, SubGraphField.tensors, 'SubGraph.tensors');
  const tensorCache = new Map<number, TensorRec>();
  const readTensor = (index: number): TensorRec => {
    const t = tensorTables.at(index);
    const what = `tensor ${index}`;
    const q = fb.fieldTable(t, TensorField.quantization, `quantization of ${what}`);
    const shape = fb.ints(t, TensorField.shape, `shape of ${what}`) ?? [];
    return {
      index,
      name: annotations ? fb.string(t, TensorField.name, `name of ${what}`) ?? '' : '',
      type: fb.fieldI8(t, TensorField.type, TensorType.FLOAT32),
      shape,
      buffer: fb.fieldU32(t, TensorField.buffer, 0),
      scale: (q && fb.floats(q, QuantizationParametersField.scale, `scales of ${what}`)) ?? [],
      zeroPoint: (q && fb.longs(q, QuantizationParametersField.zero_point, `zero points of ${what}`)) ?? [],
      quantizedDimension: q ? fb.fieldI32(q, QuantizationParametersField.quantized_dimension, 0) : 0,
    };
  };
  /** Tensor `i`, read once: the chain check compares tensors by identity. */
  const tensor = (i: number | undefined, what: string): TensorRec => {
    if (i === undefined || !Number.isInteger(i) || i < 0 || i >= tensorTables.length) {
      fail(`malformed: ${what} refers to tensor ${i} of ${tensorTables.length}`);
    }
    let rec = tensorCache.get(i!);
    if (!rec) tensorCache.set(i!, (rec = readTensor(i!)));
    return rec;
  };

  if (annotations) {
    // The whole file is checked on the host, so a truncated or damaged table is refused even
    // where the graph does not use it; the device's reading (readTfliteGraph) reads what it uses.
    for (let i = 0; i < opcodes.length; i++) opcode(i, `operator code ${i}`);
    for (let i = 0; i < buffersT.length; i++) buffersT.at(i);
    for (let i = 0; i < tensorTables.length; i++) tensor(i, 'SubGraph.tensors');
  }

  const ops = fb.tables(sg, SubGraphField.operators, 'SubGraph.operators').map((o, index): OpRec => {
    const what = `operator ${index}`;
    const opcodeIndex = fb.fieldU32(o, OperatorField.opcode_index, 0);
    const code = opcode(opcodeIndex, what);
    const optionsType = fb.fieldU8(o, OperatorField.builtin_options_type, BuiltinOptions.NONE);
    return {
      index,
      code,
      inputs: fb.ints(o, OperatorField.inputs, `inputs of ${what}`) ?? [],
      outputs: fb.ints(o, OperatorField.outputs, `outputs of ${what}`) ?? [],
      optionsType,
      options: optionsType === BuiltinOptions.NONE ? null : fb.fieldTable(o, OperatorField.builtin_options, `options of ${what}`),
    };
  });
  for (const op of ops) {
    if (op.code !== BuiltinOperator.FULLY_CONNECTED && op.code !== BuiltinOperator.SOFTMAX) {
      fail(`operator ${builtinOperatorName(op.code)} is not supported: only FULLY_CONNECTED and SOFTMAX`);
    }
  }
  const fcOps = ops.filter((o) => o.code === BuiltinOperator.FULLY_CONNECTED);
  const softmaxOps = ops.filter((o) => o.code === BuiltinOperator.SOFTMAX);
  if (fcOps.length === 0) fail('the model has no FULLY_CONNECTED operator');
  if (softmaxOps.length > 1 || (softmaxOps.length === 1 && ops[ops.length - 1] !== softmaxOps[0])) {
    fail('SOFTMAX is supported only once, as the last operator');
  }

  const sgInputs = fb.ints(sg, SubGraphField.inputs, 'SubGraph.inputs') ?? [];
  const sgOutputs = fb.ints(sg, SubGraphField.outputs, 'SubGraph.outputs') ?? [];
  if (sgInputs.length !== 1 || sgOutputs.length !== 1) {
    fail(`the model has ${sgInputs.length} inputs and ${sgOutputs.length} outputs: expected one of each`);
  }
  const input = tensor(sgInputs[0], 'SubGraph.inputs');
  const kind = input.type === TensorType.INT8 ? 'int8' : input.type === TensorType.FLOAT32 ? 'float32' : fail(
    `input tensor '${input.name}' is ${tensorTypeName(input.type)}: only INT8 and FLOAT32 models are supported`,
  );
  const actType = kind === 'int8' ? TensorType.INT8 : TensorType.FLOAT32;

  // Walk the chain: each op must consume the previous op's output.
  let current = input;
  const intLayers: Int8Dense[] = [];
  const floatLayers: FloatDense[] = [];
  for (const [i, op] of fcOps.entries()) {
    const what = `FULLY_CONNECTED operator ${op.index}`;
    if (op.inputs.length < 2 || op.inputs.length > 3 || op.outputs.length !== 1) {
      fail(`malformed: ${what} has ${op.inputs.length} inputs and ${op.outputs.length} outputs, expected 3 and 1`);
    }
    const x = tensor(op.inputs[0], `input of ${what}`);
    if (x !== current) fail(`${what} reads tensor '${x.name}', not the output '${current.name}' of the step before: only a chain of layers is supported`);
    const w = tensor(op.inputs[1], `weights of ${what}`);
    const biasIndex = op.inputs[2] ?? -1;
    const b = biasIndex < 0 ? null : tensor(biasIndex, `bias of ${what}`);
    const y = tensor(op.outputs[0], `output of ${what}`);
    if (w.shape.length !== 2) fail(`weights '${w.name}' of ${what} have shape [${w.shape}], expected [outputs, inputs]`);
    const [outSize, inSize] = w.shape as [number, number];
    if (!(outSize > 0 && inSize > 0)) fail(`weights '${w.name}' of ${what} have shape [${w.shape}]`);
    if (flatSize(x.shape) % inSize !== 0 || flatSize(x.shape) / inSize !== 1) {
      fail(`input '${x.name}' [${x.shape}] of ${what} is not one row of ${inSize} values`);
    }
    if (flatSize(y.shape) !== outSize || y.shape[y.shape.length - 1] !== outSize) {
      fail(`output '${y.name}' [${y.shape}] of ${what} does not hold ${outSize} values`);
    }
    if (b && (b.shape.length !== 1 || b.shape[0] !== outSize)) fail(`bias '${b.name}' [${b.shape}] of ${what} should be [${outSize}]`);
    const activation = fcActivation(fb, op, what);

    for (const [t, type] of [[x, actType], [y, actType], [w, kind === 'int8' ? TensorType.INT8 : TensorType.FLOAT32]] as const) {
      if (t.type !== type) fail(`tensor '${t.name}' of ${what} is ${tensorTypeName(t.type)}, expected ${tensorTypeName(type)} in a ${kind} model`);
    }
    const name = layerName(w.name, i);
    if (kind === 'int8') {
      if (b && b.type !== TensorType.INT32) fail(`bias '${b.name}' of ${what} is ${tensorTypeName(b.type)}, expected INT32`);
      const wData = buffer(w.buffer, `weights '${w.name}'`);
      if (wData.length !== outSize * inSize) fail(`weights '${w.name}' hold ${wData.length} bytes, expected ${outSize * inSize}`);
      const weightScales = weightQuant(w, outSize, what);
      const inQ = perTensor(x, what);
      const outQ = perTensor(y, what);
      const bias = b ? int32Data(buffer(b.buffer, `bias '${b.name}'`), outSize, b.name) : new Int32Array(outSize);
      if (b) checkBiasQuant(b, inQ.scale, weightScales, outQ.scale, what);
      intLayers.push({
        name,
        inputSize: inSize,
        outputSize: outSize,
        weights: Int8Array.from(new Int8Array(wData.buffer, wData.byteOffset, wData.length)),
        weightScales,
        bias,
        input: inQ,
        output: outQ,
        activation,
      });
    } else {
      if (b && b.type !== TensorType.FLOAT32) fail(`bias '${b.name}' of ${what} is ${tensorTypeName(b.type)}, expected FLOAT32`);
      floatLayers.push({
        name,
        inputSize: inSize,
        outputSize: outSize,
        weights: float32Data(buffer(w.buffer, `weights '${w.name}'`), outSize * inSize, w.name),
        bias: b ? float32Data(buffer(b.buffer, `bias '${b.name}'`), outSize, b.name) : new Float32Array(outSize),
        activation,
      });
    }
    current = y;
  }

  let softmax: Int8Model['softmax'] = null;
  const sm = softmaxOps[0];
  if (sm) {
    const what = `SOFTMAX operator ${sm.index}`;
    if (sm.inputs.length !== 1 || sm.outputs.length !== 1) fail(`malformed: ${what} has ${sm.inputs.length} inputs and ${sm.outputs.length} outputs`);
    const x = tensor(sm.inputs[0], `input of ${what}`);
    const y = tensor(sm.outputs[0], `output of ${what}`);
    if (x !== current) fail(`${what} reads tensor '${x.name}', not the last layer's output '${current.name}'`);
    if (y.type !== actType) fail(`output '${y.name}' of ${what} is ${tensorTypeName(y.type)}, expected ${tensorTypeName(actType)}`);
    if (flatSize(y.shape) !== flatSize(x.shape)) fail(`output '${y.name}' [${y.shape}] of ${what} does not match its input [${x.shape}]`);
    if (sm.optionsType !== BuiltinOptions.SoftmaxOptions || !sm.options) fail(`${what} has no SoftmaxOptions`);
    const beta = fb.fieldF32(sm.options!, SoftmaxOptionsField.beta, 0);
    if (kind === 'int8') softmax = { output: perTensor(y, what), beta };
    else if (beta !== 1) fail(`${what} has beta ${beta}: float models support only beta 1`);
    current = y;
  }
  const output = tensor(sgOutputs[0], 'SubGraph.outputs');
  if (output !== current) fail(`the model output is tensor '${output.name}', not the output '${current.name}' of the last operator`);

  // Metadata written by writer.ts; absent in files from other tools.
  const meta = new Map<string, string>();
  for (const [i, m] of (annotations ? fb.tables(model, ModelField.metadata, 'Model.metadata') : []).entries()) {
    const name = fb.string(m, MetadataField.name, `name of metadata ${i}`) ?? '';
    const data = buffer(fb.fieldU32(m, MetadataField.buffer, 0), `metadata '${name}'`);
    meta.set(name, fb.decode(data, `metadata '${name}'`));
  }
  const firstIn = kind === 'int8' ? intLayers[0]!.inputSize : floatLayers[0]!.inputSize;
  const classes = kind === 'int8' ? intLayers[intLayers.length - 1]!.outputSize : floatLayers[floatLayers.length - 1]!.outputSize;
  const info = parseInfo(meta.get(MODEL_INFO_METADATA));
  const inputShape = info?.inputShape ?? (input.shape.length > 1 && input.shape[0] === 1 ? input.shape.slice(1) : [firstIn]);
  if (flatSize(inputShape) !== firstIn) fail(`metadata '${MODEL_INFO_METADATA}' gives input shape [${inputShape}], but the first layer takes ${firstIn} values`);
  const classNames = parseClassNames(meta.get(CLASS_NAMES_METADATA)) ?? Array.from({ length: classes }, (_, i) => `class_${i}`);
  if (classNames.length !== classes) fail(`metadata '${CLASS_NAMES_METADATA}' lists ${classNames.length} classes, but the model has ${classes} outputs`);
  const name = info?.name ?? ((annotations && fb.string(model, ModelField.description, 'Model.description')) || 'model');

  if (kind === 'int8') {
    return { kind: 'int8', name, classNames, inputShape, input: perTensor(input, 'the model input'), layers: intLayers, softmax };
  }
  return { kind: 'float32', name, classNames, inputShape, normalized: false, layers: floatLayers, softmax: sm !== undefined };
}

// ---------------------------------------------------------------- helpers

function fcActivation(fb: Fb, op: OpRec, what: string): DenseActivation {
  if (op.optionsType !== BuiltinOptions.FullyConnectedOptions || !op.options) {
    // No options table at all means the defaults (NONE), as in TFLM's ParseFullyConnected.
    if (op.optionsType === BuiltinOptions.NONE || op.optionsType === BuiltinOptions.FullyConnectedOptions) return 'linear';
    fail(`${what} has options of union type ${op.optionsType}, expected FullyConnectedOptions`);
  }
  const o = op.options!;
  const format = fb.fieldI8(o, FullyConnectedOptionsField.weights_format, FullyConnectedOptionsWeightsFormat.DEFAULT);
  if (format !== FullyConnectedOptionsWeightsFormat.DEFAULT) fail(`${what} uses weights format ${format}: only DEFAULT is supported`);
  if (fb.fieldU8(o, FullyConnectedOptionsField.asymmetric_quantize_inputs, 0)) fail(`${what} is a hybrid (dynamic-range) op: not supported`);
  const act = fb.fieldI8(o, FullyConnectedOptionsField.fused_activation_function, ActivationFunctionType.NONE);
  if (act === ActivationFunctionType.RELU) return 'relu';
  if (act === ActivationFunctionType.NONE) return 'linear';
  const names = Object.entries(ActivationFunctionType).find(([, v]) => v === act)?.[0] ?? String(act);
  return fail(`fused activation ${names} of ${what} is not supported: only NONE and RELU`);
}

function perTensor(t: TensorRec, what: string): QuantParams {
  if (t.scale.length !== 1 || t.zeroPoint.length !== 1) {
    fail(`tensor '${t.name}' of ${what} needs one scale and zero point, has ${t.scale.length} and ${t.zeroPoint.length}`);
  }
  const scale = t.scale[0]!;
  const zeroPoint = t.zeroPoint[0]!;
  if (!(scale > 0) || !Number.isFinite(scale)) fail(`tensor '${t.name}' of ${what} has scale ${scale}`);
  if (zeroPoint < -128 || zeroPoint > 127) fail(`tensor '${t.name}' of ${what} has zero point ${zeroPoint}, outside int8`);
  return { scale, zeroPoint };
}

function weightQuant(w: TensorRec, outSize: number, what: string): Float32Array {
  const n = w.scale.length;
  if (n !== 1 && n !== outSize) fail(`weights '${w.name}' of ${what} have ${n} scales, expected 1 or ${outSize}`);
  if (n > 1 && w.quantizedDimension !== 0) fail(`weights '${w.name}' of ${what} are quantized along dimension ${w.quantizedDimension}, expected 0`);
  if (w.zeroPoint.length !== n || w.zeroPoint.some((z) => z !== 0)) fail(`weights '${w.name}' of ${what} are not symmetric (zero point 0)`);
  if (w.scale.some((s) => !(s > 0) || !Number.isFinite(s))) fail(`weights '${w.name}' of ${what} have a scale that is not positive`);
  return new Float32Array(w.scale);
}

/**
 * TFLM's GetQuantizedConvolutionMultipler (kernel_util.cc), which FULLY_CONNECTED's
 * prepare runs: |input_scale * weight_scale[0] - bias_scale[0]| / output_scale
 * <= 0.02, in double. TFLM copies a tensor's quantization only when it has both a
 * scale and a zero point, so a bias lacking either counts as scale 0.
 * The firmware's reader (firmware/core/model.c) applies the same rule.
 */
function checkBiasQuant(b: TensorRec, inScale: number, wScales: Float32Array, outScale: number, what: string): void {
  if (b.zeroPoint.some((z) => z !== 0)) fail(`bias '${b.name}' of ${what} has a non-zero zero point`);
  const biasScale = b.scale.length > 0 && b.zeroPoint.length > 0 ? b.scale[0]! : 0;
  const product = inScale * wScales[0]!;
  if (!(Math.abs(product - biasScale) / outScale <= 0.02)) {
    fail(
      `bias '${b.name}' of ${what} has scale ${biasScale}, expected input scale * weight scale = ${product} ` +
        '(TFLM allows a difference of 2% of the output scale)',
    );
  }
}

function int32Data(data: Uint8Array, n: number, name: string): Int32Array {
  if (data.length !== 4 * n) fail(`tensor '${name}' holds ${data.length} bytes, expected ${4 * n}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return Int32Array.from({ length: n }, (_, i) => view.getInt32(4 * i, true));
}

function float32Data(data: Uint8Array, n: number, name: string): Float32Array {
  if (data.length !== 4 * n) fail(`tensor '${name}' holds ${data.length} bytes, expected ${4 * n}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return Float32Array.from({ length: n }, (_, i) => view.getFloat32(4 * i, true));
}

function flatSize(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** `dense/kernel` -> `dense`; converter names like `sequential/dense/MatMul` -> `sequential/dense`. */
function layerName(weightsName: string, i: number): string {
  const cut = weightsName.lastIndexOf('/');
  const name = cut > 0 ? weightsName.slice(0, cut) : weightsName;
  return name || `dense_${i}`;
}

function parseInfo(text: string | undefined): { name: string; inputShape: number[] } | null {
  if (text === undefined) return null;
  const v = parseJson(text, MODEL_INFO_METADATA) as { name?: unknown; inputShape?: unknown } | null;
  const ok =
    v !== null && typeof v === 'object' && typeof v.name === 'string' && Array.isArray(v.inputShape) &&
    v.inputShape.every((d) => Number.isInteger(d) && d > 0);
  if (!ok) fail(`metadata '${MODEL_INFO_METADATA}' is not {"name": string, "inputShape": [positive integers]}`);
  return v as { name: string; inputShape: number[] };
}

function parseClassNames(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  const v = parseJson(text, CLASS_NAMES_METADATA);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail(`metadata '${CLASS_NAMES_METADATA}' is not a JSON array of strings`);
  return v as string[];
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail(`metadata '${what}' is not valid JSON`);
  }
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
