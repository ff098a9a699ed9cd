/**
 * The real TensorFlow Lite interpreter (the C API, `libtensorflowlite_c`), used as
 * the oracle for our own int8 reference and for the firmware.
 *
 * The library is the TFLite 2.9 build shipped inside the npm package
 * `tfjs-tflite-node` (cc_deps/<os>_<arch>/), bound with the `koffi` FFI; set
 * TINYML_TFLITE_C_LIB to use another build. Declarations follow
 * tensorflow/lite/c/c_api.h and c_api_types.h from that package.
 *
 * Ownership: TfLiteModelCreate does not copy the model, so the bytes are copied
 * once into native memory that lives until close(). Tensor data pointers are
 * stable after AllocateTensors (we never resize), so inputs and outputs are read
 * and written through views of native memory: no per-call allocation in runBatch.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import koffi from 'koffi';
import { InterpreterError } from '../errors.ts';

export type TensorTypeName =
  | 'notype'
  | 'float32'
  | 'int32'
  | 'uint8'
  | 'int64'
  | 'string'
  | 'bool'
  | 'int16'
  | 'complex64'
  | 'int8'
  | 'float16'
  | 'float64'
  | 'complex128'
  | 'uint64'
  | 'resource'
  | 'variant'
  | 'uint32';

/** `TfLiteType` in c_api_types.h, by value. */
const TYPE_NAMES: readonly TensorTypeName[] = [
  'notype', 'float32', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64',
  'int8', 'float16', 'float64', 'complex128', 'uint64', 'resource', 'variant', 'uint32',
];

export interface TensorInfo {
  readonly name: string;
  readonly type: TensorTypeName;
  readonly shape: number[];
  readonly byteSize: number;
  /** Per-tensor quantization (TfLiteQuantizationParams); 0 and 0 when not quantized. */
  readonly scale: number;
  readonly zeroPoint: number;
}

export interface InterpreterOptions {
  /** Interpreter threads; 1 (the default) keeps results and timing reproducible. */
  threads?: number;
}

type Pointer = unknown;
type TensorData = Int8Array | Uint8Array | Int32Array | Float32Array;

interface CApi {
  version: string;
  TfLiteModelCreate(data: Pointer, size: number): Pointer | null;
  TfLiteModelDelete(m: Pointer): void;
  TfLiteInterpreterOptionsCreate(): Pointer | null;
  TfLiteInterpreterOptionsDelete(o: Pointer): void;
  TfLiteInterpreterOptionsSetNumThreads(o: Pointer, n: number): void;
  TfLiteInterpreterOptionsSetErrorReporter(o: Pointer, cb: Pointer, user: Pointer): void;
  TfLiteInterpreterCreate(m: Pointer, o: Pointer): Pointer | null;
  TfLiteInterpreterDelete(i: Pointer): void;
  TfLiteInterpreterAllocateTensors(i: Pointer): number;
  TfLiteInterpreterInvoke(i: Pointer): number;
  TfLiteInterpreterGetInputTensorCount(i: Pointer): number;
  TfLiteInterpreterGetInputTensor(i: Pointer, k: number): Pointer | null;
  TfLiteInterpreterGetOutputTensorCount(i: Pointer): number;
  TfLiteInterpreterGetOutputTensor(i: Pointer, k: number): Pointer | null;
  TfLiteTensorType(t: Pointer): number;
  TfLiteTensorNumDims(t: Pointer): number;
  TfLiteTensorDim(t: Pointer, d: number): number;
  TfLiteTensorByteSize(t: Pointer): number;
  TfLiteTensorData(t: Pointer): Pointer | null;
  TfLiteTensorName(t: Pointer): string | null;
  TfLiteTensorQuantizationParams(t: Pointer): { scale: number; zero_point: number };
  /** A registered error-reporter callback, or null where it could not be set up. */
  reporter: Pointer | null;
  /** Messages the reporter collected since the last clear. */
  errors: string[];
}

let api: CApi | undefined;

const FIX =
  "reinstall the dependencies ('npm ci') so node_modules/tfjs-tflite-node/cc_deps holds libtensorflowlite_c, or set TINYML_TFLITE_C_LIB to a TFLite C library";

/** Where the TFLite C library is: $TINYML_TFLITE_C_LIB, else inside tfjs-tflite-node. */
export function findTfliteLibrary(): string {
  const fromEnv = process.env['TINYML_TFLITE_C_LIB'];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new InterpreterError(`TINYML_TFLITE_C_LIB=${fromEnv} does not exist: ${FIX}`);
    return fromEnv;
  }
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch as string];
  const os = { linux: 'linux', darwin: 'darwin', win32: 'windows' }[process.platform as string];
  const file = { linux: 'libtensorflowlite_c.so', darwin: 'libtensorflowlite_c.dylib', win32: 'tensorflowlite_c.dll' }[
    process.platform as string
  ];
  if (!arch || !os || !file) {
    throw new InterpreterError(`no TFLite C library is shipped for ${process.platform}/${process.arch}: set TINYML_TFLITE_C_LIB`);
  }
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const pkg of ['tfjs-tflite-node', 'node-tflite']) {
    let root: string;
    try {
      root = dirname(require.resolve(`${pkg}/package.json`));
    } catch {
      continue;
    }
    for (const candidate of [join(root, 'cc_deps', `${os}_${arch}`, file), join(root, 'lib', file), join(root, 'build', file)]) {
      if (existsSync(candidate)) return candidate;
      tried.push(candidate);
    }
  }
  throw new InterpreterError(
    `libtensorflowlite_c not found${tried.length ? ` (looked at ${tried.join(', ')})` : ' (package tfjs-tflite-node is not installed)'}: ${FIX}`,
  );
}

function loadApi(): CApi {
  if (api) return api;
  const path = findTfliteLibrary();
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (err) {
    throw new InterpreterError(`cannot load ${path}: ${(err as Error).message}: ${FIX}`, { cause: err });
  }
  koffi.opaque('TfLiteModel');
  koffi.opaque('TfLiteInterpreterOptions');
  koffi.opaque('TfLiteInterpreter');
  koffi.opaque('TfLiteTensor');
  koffi.struct('TfLiteQuantizationParams', { scale: 'float', zero_point: 'int32_t' });
  const f = (decl: string) => lib.func(decl) as unknown as (...args: unknown[]) => never;
  const errors: string[] = [];
  const a: CApi = {
    version: (f('const char* TfLiteVersion()')() as string | null) ?? 'unknown',
    TfLiteModelCreate: f('TfLiteModel* TfLiteModelCreate(const void* data, size_t size)'),
    TfLiteModelDelete: f('void TfLiteModelDelete(TfLiteModel* m)'),
    TfLiteInterpreterOptionsCreate: f('TfLiteInterpreterOptions* TfLiteInterpreterOptionsCreate()'),
    TfLiteInterpreterOptionsDelete: f('void TfLiteInterpreterOptionsDelete(TfLiteInterpreterOptions* o)'),
    TfLiteInterpreterOptionsSetNumThreads: f('void TfLiteInterpreterOptionsSetNumThreads(TfLiteInterpreterOptions* o, int32_t n)'),
    TfLiteInterpreterOptionsSetErrorReporter: f(
      'void TfLiteInterpreterOptionsSetErrorReporter(TfLiteInterpreterOptions* o, void* reporter, void* user_data)',
    ),
    TfLiteInterpreterCreate: f('TfLiteInterpreter* TfLiteInterpreterCreate(const TfLiteModel* m, const TfLiteInterpreterOptions* o)'),
    TfLiteInterpreterDelete: f('void TfLiteInterpreterDelete(TfLiteInterpreter* i)'),
    TfLiteInterpreterAllocateTensors: f('int TfLiteInterpreterAllocateTensors(TfLiteInterpreter* i)'),
    TfLiteInterpreterInvoke: f('int TfLiteInterpreterInvoke(TfLiteInterpreter* i)'),
    TfLiteInterpreterGetInputTensorCount: f('int32_t TfLiteInterpreterGetInputTensorCount(const TfLiteInterpreter* i)'),
    TfLiteInterpreterGetInputTensor: f('TfLiteTensor* TfLiteInterpreterGetInputTensor(const TfLiteInterpreter* i, int32_t k)'),
    TfLiteInterpreterGetOutputTensorCount: f('int32_t TfLiteInterpreterGetOutputTensorCount(const TfLiteInterpreter* i)'),
    TfLiteInterpreterGetOutputTensor: f('const TfLiteTensor* TfLiteInterpreterGetOutputTensor(const TfLiteInterpreter* i, int32_t k)'),
    TfLiteTensorType: f('int TfLiteTensorType(const TfLiteTensor* t)'),
    TfLiteTensorNumDims: f('int32_t TfLiteTensorNumDims(const TfLiteTensor* t)'),
    TfLiteTensorDim: f('int32_t TfLiteTensorDim(const TfLiteTensor* t, int32_t d)'),
    TfLiteTensorByteSize: f('size_t TfLiteTensorByteSize(const TfLiteTensor* t)'),
    TfLiteTensorData: f('void* TfLiteTensorData(const TfLiteTensor* t)'),
    TfLiteTensorName: f('const char* TfLiteTensorName(const TfLiteTensor* t)'),
    TfLiteTensorQuantizationParams: f('TfLiteQuantizationParams TfLiteTensorQuantizationParams(const TfLiteTensor* t)'),
    reporter: makeReporter(errors),
    errors,
  };
  api = a;
  return a;
}

/**
 * The C API's error reporter is `void (*)(void* user, const char* format, va_list)`.
 * Where va_list is passed as a pointer (x86-64 and arm64 SysV, Apple, Windows), the
 * callback can hand it on to libc's vsnprintf as a `void*`. Anywhere that fails we
 * go without it and name the failing call instead.
 */
function makeReporter(errors: string[]): Pointer | null {
  const libcName = { linux: 'libc.so.6', darwin: '/usr/lib/libSystem.B.dylib' }[process.platform as string];
  if (!libcName || !['x64', 'arm64'].includes(process.arch)) return null;
  try {
    const libc = koffi.load(libcName);
    const vsnprintf = libc.func('int vsnprintf(_Out_ uint8_t* buf, size_t n, const char* fmt, void* args)') as (
      ...a: unknown[]
    ) => number;
    const proto = koffi.proto('void TinymlTfliteReporter(void* user, const char* fmt, void* args)');
    const buf = new Uint8Array(1024);
    return koffi.register((_user: unknown, fmt: string, args: unknown) => {
      const n = vsnprintf(buf, buf.length, fmt, args);
      const text = new TextDecoder().decode(buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))));
      errors.push(text.trim());
    }, koffi.pointer(proto));
  } catch {
    return null;
  }
}

/** What the library reported since `mark`, as one line. */
function reported(a: CApi, mark: number): string {
  const msgs = a.errors.splice(mark).filter((m) => m.length > 0);
  return msgs.length ? `: ${msgs.join('; ').replace(/\s*\n\s*/g, ' ')}` : '';
}

/** Version string of the TFLite C library we load, e.g. "2.9.0". */
export function tfliteVersion(): string {
  return loadApi().version;
}

interface Native {
  modelMem: Pointer;
  model: Pointer | null;
  options: Pointer | null;
  interpreter: Pointer | null;
}

function freeNative(a: CApi, n: Native): void {
  if (n.interpreter) a.TfLiteInterpreterDelete(n.interpreter);
  if (n.options) a.TfLiteInterpreterOptionsDelete(n.options);
  if (n.model) a.TfLiteModelDelete(n.model);
  if (n.modelMem) koffi.free(n.modelMem);
  n.interpreter = n.options = n.model = n.modelMem = null;
}

const finalizer = new FinalizationRegistry<Native>((n) => {
  if (api) freeNative(api, n);
});

/** One model loaded into the real TFLite interpreter, tensors allocated. */
export class TfliteInterpreter {
  readonly version: string;
  readonly #api: CApi;
  readonly #native: Native;
  readonly #inputs: TensorInfo[];
  readonly #outputs: TensorInfo[];
  /** Views of the native input 0 / output 0 buffers (valid until close). */
  #inView: TensorData;
  #outView: TensorData;
  #closed = false;

  private constructor(a: CApi, native: Native) {
    this.#api = a;
    this.#native = native;
    this.version = a.version;
    const interp = native.interpreter!;
    const nIn = a.TfLiteInterpreterGetInputTensorCount(interp);
    const nOut = a.TfLiteInterpreterGetOutputTensorCount(interp);
    const inTensors = Array.from({ length: nIn }, (_, k) => a.TfLiteInterpreterGetInputTensor(interp, k));
    const outTensors = Array.from({ length: nOut }, (_, k) => a.TfLiteInterpreterGetOutputTensor(interp, k));
    this.#inputs = inTensors.map((t) => describe(a, t));
    this.#outputs = outTensors.map((t) => describe(a, t));
    if (nIn < 1 || nOut < 1) throw new InterpreterError(`the model has ${nIn} inputs and ${nOut} outputs: need at least one of each`);
    this.#inView = dataView(a, inTensors[0], this.#inputs[0]!);
    this.#outView = dataView(a, outTensors[0], this.#outputs[0]!);
  }

  /** Loads `bytes` (a .tflite file) and allocates its tensors. Throws InterpreterError. */
  static load(bytes: Uint8Array, options: InterpreterOptions = {}): TfliteInterpreter {
    const a = loadApi();
    const mark = a.errors.length;
    const native: Native = { modelMem: null, model: null, options: null, interpreter: null };
    try {
      native.modelMem = koffi.alloc('uint8_t', Math.max(1, bytes.length));
      new Uint8Array(koffi.view(native.modelMem as never, bytes.length)).set(bytes);
      native.model = a.TfLiteModelCreate(native.modelMem, bytes.length);
      if (!native.model) {
        throw new InterpreterError(
          'TfLiteModelCreate rejected the model (the flatbuffer verifier failed; details on stderr): re-create the .tflite with tinyml quantize',
        );
      }
      native.options = a.TfLiteInterpreterOptionsCreate();
      if (!native.options) throw new InterpreterError('TfLiteInterpreterOptionsCreate failed: out of memory?');
      a.TfLiteInterpreterOptionsSetNumThreads(native.options, options.threads ?? 1);
      if (a.reporter) a.TfLiteInterpreterOptionsSetErrorReporter(native.options, a.reporter, null);
      native.interpreter = a.TfLiteInterpreterCreate(native.model, native.options);
      if (!native.interpreter) {
        throw new InterpreterError(`TfLiteInterpreterCreate refused the model${reported(a, mark)}: check the operators and their versions`);
      }
      if (a.TfLiteInterpreterAllocateTensors(native.interpreter) !== 0) {
        throw new InterpreterError(`TfLiteInterpreterAllocateTensors failed${reported(a, mark)}: the model's tensors or op parameters are inconsistent`);
      }
      a.errors.splice(mark);
      const interp = new TfliteInterpreter(a, native);
      finalizer.register(interp, native, interp);
      return interp;
    } catch (err) {
      freeNative(a, native);
      throw err;
    }
  }

  inputs(): TensorInfo[] {
    return this.#inputs.map((t) => ({ ...t, shape: [...t.shape] }));
  }

  outputs(): TensorInfo[] {
    return this.#outputs.map((t) => ({ ...t, shape: [...t.shape] }));
  }

  /** Runs one sample: `input` fills input 0 exactly; returns a copy of output 0. */
  run(input: Int8Array | Float32Array): Int8Array | Float32Array {
    this.#checkInput(input, 1);
    this.#inView.set(input as never);
    this.#invoke();
    return this.#outView.slice() as Int8Array | Float32Array;
  }

  /**
   * Runs `count` samples laid end to end in `inputs` (count * input size values)
   * and returns their outputs end to end. `out` may be passed to reuse an array.
   */
  runBatch<T extends Int8Array | Float32Array>(inputs: T, out?: T): T {
    const inLen = this.#inView.length;
    const outLen = this.#outView.length;
    const count = inputs.length / inLen;
    if (!Number.isInteger(count)) {
      throw new InterpreterError(`runBatch got ${inputs.length} values, not a multiple of the input size ${inLen}`);
    }
    this.#checkInput(inputs, count);
    const result = out ?? (new (this.#outView.constructor as new (n: number) => T)(count * outLen));
    if (result.length !== count * outLen || result.constructor !== this.#outView.constructor) {
      throw new InterpreterError(`runBatch output array must be a ${this.#outView.constructor.name} of ${count * outLen} values`);
    }
    for (let i = 0; i < count; i++) {
      this.#inView.set(inputs.subarray(i * inLen, (i + 1) * inLen) as never);
      this.#invoke();
      result.set(this.#outView as never, i * outLen);
    }
    return result;
  }

  /** Frees the interpreter and the model; the object is unusable afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    finalizer.unregister(this);
    freeNative(this.#api, this.#native);
    this.#inView = new Int8Array(0);
    this.#outView = new Int8Array(0);
  }

  #checkInput(input: Int8Array | Float32Array, count: number): void {
    if (this.#closed) throw new InterpreterError('the interpreter is closed');
    const info = this.#inputs[0]!;
    if (input.constructor !== this.#inView.constructor) {
      throw new InterpreterError(`input 0 '${info.name}' is ${info.type}: pass a ${this.#inView.constructor.name}, not a ${input.constructor.name}`);
    }
    if (input.length !== count * this.#inView.length) {
      throw new InterpreterError(`input 0 '${info.name}' [${info.shape.join(', ')}] takes ${this.#inView.length} values, got ${input.length / count}`);
    }
  }

  #invoke(): void {
    const a = this.#api;
    const mark = a.errors.length;
    if (a.TfLiteInterpreterInvoke(this.#native.interpreter) !== 0) {
      throw new InterpreterError(`TfLiteInterpreterInvoke failed${reported(a, mark)}`);
    }
  }
}

function describe(a: CApi, t: Pointer | null): TensorInfo {
  if (!t) throw new InterpreterError('the interpreter returned no tensor for a model input or output');
  const q = a.TfLiteTensorQuantizationParams(t);
  const dims = a.TfLiteTensorNumDims(t);
  return {
    name: a.TfLiteTensorName(t) ?? '',
    type: TYPE_NAMES[a.TfLiteTensorType(t)] ?? 'notype',
    shape: Array.from({ length: dims }, (_, d) => a.TfLiteTensorDim(t, d)),
    byteSize: Number(a.TfLiteTensorByteSize(t)),
    scale: q.scale,
    zeroPoint: q.zero_point,
  };
}

const ARRAY_TYPES: Partial<Record<TensorTypeName, { new (b: ArrayBuffer): TensorData; BYTES_PER_ELEMENT: number }>> = {
  int8: Int8Array,
  uint8: Uint8Array,
  int32: Int32Array,
  float32: Float32Array,
};

function dataView(a: CApi, t: Pointer | null, info: TensorInfo): TensorData {
  const Ctor = ARRAY_TYPES[info.type];
  if (!Ctor) throw new InterpreterError(`tensor '${info.name}' is ${info.type}: only int8, uint8, int32 and float32 inputs and outputs are supported`);
  const ptr = a.TfLiteTensorData(t);
  if (!ptr || info.byteSize === 0) throw new InterpreterError(`tensor '${info.name}' has no data after AllocateTensors`);
  return new Ctor(koffi.view(ptr as never, info.byteSize));
}
