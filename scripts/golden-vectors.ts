/**
 * Golden vectors for the C firmware tests (firmware/tests/*.c), generated from
 * our TypeScript int8 reference (src/reference/), which is bit-exact with
 * TFLite Micro's reference kernels.
 *
 *   node --import tsx scripts/golden-vectors.ts <outDir>
 *     writes <outDir>/kernels.txt and <outDir>/protocol.txt
 *
 * Deterministic: fixed seeds, no dates or paths, so the same tree gives the
 * same bytes. Each file starts with `#` lines recording its provenance.
 *
 * Format: whitespace-separated tokens; `#` lines are comments. Floats travel as
 * their float32 bit patterns (u32), so nothing is lost in decimal. Records:
 *   fc <label> <in> <out> <relu> <nscales> <inScaleBits> <inZp> <outScaleBits> <outZp> <hasBias> <ncases>
 *      scales[nscales] weights[out*in] bias[out if hasBias] mult[nscales] shift[nscales]
 *      then ncases x (input[in] expect[out])
 *   softmax <label> <depth> <inScaleBits> <betaBits> <mult> <leftShift> <diffMin> <ncases>
 *      then ncases x (input[depth] expect[depth])
 *   model <label> <nbytes> <status> <inputBytes> <outputCount> <ncases>
 *      bytes[nbytes] then ncases x (input[inputBytes] expect[outputCount])
 *      (status: the tml_status_t the C reader must return; 0 = loads)
 *   crc <n> bytes[n] <crc>
 *   cobs <n> bytes[n] <m> encoded[m]
 *   frame <type> <seq> <n> body[n] <m> wire[m]
 *   end
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fullyConnectedInt8, prepareFullyConnected } from '../src/reference/fully-connected.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
import { prepareSoftmaxInt8, softmaxInt8 } from '../src/reference/softmax.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import type { DenseActivation, FloatModel, Int8Dense, Int8Model, QuantParams } from '../src/model/types.ts';

export const GOLDEN_SEED = 20240611;

/** tml_status_t values (firmware/include/status.h) the model cases expect. */
const STATUS = ErrorCode;

import { HOST_TEST_ARENA_BYTES as TEST_ARENA_BYTES } from '../src/firmware-build/host-build.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { ErrorCode } from '../src/protocol/status-codes.ts';

const f32Bits = (x: number): number => {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, true);
  return v.getUint32(0, true);
};

class Writer {
  private readonly lines: string[] = [];
  comment(text: string): void {
    this.lines.push(`# ${text}`);
  }
  record(...tokens: Array<number | string>): void {
    this.lines.push(tokens.join(' '));
  }
  values(values: ArrayLike<number>): void {
    const all = Array.from(values, (v) => String(v === 0 ? 0 : v)); // no "-0"
    for (let i = 0; i < all.length; i += 32) this.lines.push(all.slice(i, i + 32).join(' '));
  }
  text(): string {
    return `${this.lines.join('\n')}\nend\n`;
  }
}

function header(w: Writer, what: string): void {
  w.comment(`tinyml-deploy golden vectors: ${what}`);
  w.comment('generator: scripts/golden-vectors.ts (deterministic: fixed seeds, no dates)');
  w.comment(`seed: ${GOLDEN_SEED} (mulberry32), per-case seeds derived as seed + case index`);
  w.comment('reference: src/reference/fully-connected.ts, softmax.ts, interpreter.ts (bit-exact with TFLM reference kernels)');
  w.comment('models: written with src/tflite/writer.ts; CRC-32: node:zlib crc32; COBS: the encoder in this script');
}

// ------------------------------------------------------------------ kernels

interface LayerSpec {
  label: string;
  inputSize: number;
  outputSize: number;
  perChannel: boolean;
  activation: DenseActivation;
  input: QuantParams;
  output: QuantParams;
  /** Weight scale(s): a fixed list, or drawn at random. */
  weightScales?: number[];
  biasRange?: number;
}

function randomLayer(spec: LayerSpec, rand: () => number): Int8Dense {
  const { inputSize, outputSize } = spec;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const scales =
    spec.weightScales ??
    Array.from({ length: spec.perChannel ? outputSize : 1 }, () => Math.fround(0.001 + rand() * 0.02));
  const biasRange = spec.biasRange ?? 20000;
  return {
    name: spec.label,
    inputSize,
    outputSize,
    weights: Int8Array.from({ length: inputSize * outputSize }, () => int(-127, 127)),
    weightScales: Float32Array.from(scales),
    bias: Int32Array.from({ length: outputSize }, () => int(-biasRange, biasRange)),
    input: spec.input,
    output: spec.output,
    activation: spec.activation,
  };
}

function randomInput(n: number, rand: () => number): Int8Array {
  return Int8Array.from({ length: n }, () => Math.floor(rand() * 256) - 128);
}

function writeFc(w: Writer, layer: Int8Dense, rand: () => number, cases: number): void {
  const prepared = prepareFullyConnected(layer);
  const n = layer.weightScales.length;
  w.record(
    'fc', layer.name, layer.inputSize, layer.outputSize, layer.activation === 'relu' ? 1 : 0, n,
    f32Bits(layer.input.scale), layer.input.zeroPoint, f32Bits(layer.output.scale), layer.output.zeroPoint, 1, cases,
  );
  w.values(Array.from(layer.weightScales, f32Bits));
  w.values(layer.weights);
  w.values(layer.bias);
  w.values(prepared.multipliers.subarray(0, n));
  w.values(prepared.shifts.subarray(0, n));
  for (let c = 0; c < cases; c++) {
    const input = randomInput(layer.inputSize, rand);
    const out = new Int8Array(layer.outputSize);
    fullyConnectedInt8(prepared, input, out);
    w.values(input);
    w.values(out);
  }
}

function writeSoftmax(w: Writer, label: string, input: QuantParams, beta: number, rows: Int8Array[]): void {
  const p = prepareSoftmaxInt8(input, beta);
  const depth = rows[0]!.length;
  w.record('softmax', label, depth, f32Bits(input.scale), f32Bits(beta), p.inputMultiplier, p.inputLeftShift, p.diffMin, rows.length);
  for (const row of rows) {
    const out = new Int8Array(depth);
    softmaxInt8(p, row, out);
    w.values(row);
    w.values(out);
  }
}

/** A random Int8Model: Dense layers of the given widths, ReLU between, optional softmax. */
export function randomInt8Model(name: string, widths: number[], seed: number, options: { perChannel?: boolean; softmax?: boolean; inputShape?: number[] } = {}): Int8Model {
  const rand = mulberry32(seed);
  let act: QuantParams = { scale: Math.fround(1 / 255), zeroPoint: -128 };
  const input = act;
  const layers: Int8Dense[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const last = l + 2 === widths.length;
    const output: QuantParams = { scale: Math.fround(0.02 + rand() * 0.1), zeroPoint: last ? Math.floor(rand() * 40) - 20 : -128 };
    layers.push(
      randomLayer(
        {
          label: `dense_${l}`,
          inputSize: widths[l]!,
          outputSize: widths[l + 1]!,
          perChannel: options.perChannel ?? false,
          activation: last ? 'linear' : 'relu',
          input: act,
          output,
          biasRange: 3000,
        },
        rand,
      ),
    );
    act = output;
  }
  const classes = widths[widths.length - 1]!;
  return {
    kind: 'int8',
    name,
    classNames: Array.from({ length: classes }, (_, i) => `class_${i}`),
    inputShape: options.inputShape ?? [widths[0]!],
    input,
    layers,
    softmax: options.softmax === false ? null : { output: { scale: 1 / 256, zeroPoint: -128 }, beta: 1 },
  };
}

function writeModel(w: Writer, label: string, bytes: Uint8Array, status: number, model: Int8Model | null, rand: () => number, cases: number): void {
  const inputBytes = model ? model.layers[0]!.inputSize : 0;
  const outputCount = model ? model.layers[model.layers.length - 1]!.outputSize : 0;
  const n = status === STATUS.OK ? cases : 0;
  w.record('model', label, bytes.length, status, inputBytes, outputCount, n);
  w.values(bytes);
  if (n === 0 || !model) return;
  const interp = new Int8Interpreter(model);
  for (let c = 0; c < n; c++) {
    const input = randomInput(inputBytes, rand);
    w.values(input);
    w.values(interp.run(input).output);
  }
}

/** Offset of Model.version in a .tflite written by our writer. */
function versionOffset(bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const root = v.getUint32(0, true);
  const vtable = root - v.getInt32(root, true);
  return root + v.getUint16(vtable + 4, true);
}

export function kernelVectors(): string {
  const w = new Writer();
  header(w, 'int8 kernels, runtime and model reader (firmware/tests/kernel_test.c)');
  let caseSeed = GOLDEN_SEED;
  const next = () => mulberry32(caseSeed++);

  const q = (scale: number, zeroPoint: number): QuantParams => ({ scale: Math.fround(scale), zeroPoint });
  const layers: LayerSpec[] = [
    { label: 'pt_relu_784x16', inputSize: 784, outputSize: 16, perChannel: false, activation: 'relu', input: q(1 / 255, -128), output: q(0.05, -128) },
    { label: 'pt_linear_16x10', inputSize: 16, outputSize: 10, perChannel: false, activation: 'linear', input: q(0.05, -128), output: q(0.15, 7) },
    { label: 'pc_relu_33x7', inputSize: 33, outputSize: 7, perChannel: true, activation: 'relu', input: q(0.02, 3), output: q(0.04, -5) },
    { label: 'pc_linear_5x3', inputSize: 5, outputSize: 3, perChannel: true, activation: 'linear', input: q(0.1, 0), output: q(0.3, 0) },
    { label: 'pt_linear_1x1', inputSize: 1, outputSize: 1, perChannel: false, activation: 'linear', input: q(0.5, -1), output: q(0.25, 2) },
    { label: 'pt_relu_odd_127x9', inputSize: 127, outputSize: 9, perChannel: false, activation: 'relu', input: q(0.013, 11), output: q(0.2, 30) },
    // Tie-heavy: power-of-two scales give exact halves in both rounding steps.
    { label: 'ties_pt_linear_8x6', inputSize: 8, outputSize: 6, perChannel: false, activation: 'linear', input: q(0.5, 0), output: q(1, 0), weightScales: [0.25], biasRange: 64 },
    { label: 'ties_pc_linear_12x4', inputSize: 12, outputSize: 4, perChannel: true, activation: 'linear', input: q(1, -3), output: q(2, 1), weightScales: [0.5, 0.125, 0.0625, 1], biasRange: 16 },
    { label: 'ties_pt_relu_64x5', inputSize: 64, outputSize: 5, perChannel: false, activation: 'relu', input: q(0.25, 0), output: q(4, -100), weightScales: [0.5], biasRange: 8 },
    // Per-tensor float product vs per-channel double: same scale, both paths.
    { label: 'fp_pt_linear_20x3', inputSize: 20, outputSize: 3, perChannel: false, activation: 'linear', input: q(0.1, 0), output: q(0.3, 0), weightScales: [0.7] },
    { label: 'fp_pc_linear_20x3', inputSize: 20, outputSize: 3, perChannel: true, activation: 'linear', input: q(0.1, 0), output: q(0.3, 0), weightScales: [0.7, 0.7, 0.7] },
  ];
  for (const spec of layers) {
    const rand = next();
    writeFc(w, randomLayer(spec, rand), rand, 6);
  }

  // Softmax rows: random, ties, all-equal, and rows at diff_min and one step past it.
  for (const [label, scale, beta] of [
    ['sm_s1', 1, 1],
    ['sm_s05', 0.5, 1],
    ['sm_s0125_b2', 0.125, 2],
    ['sm_logits', 0.0934, 1],
    ['sm_s16', 16, 1],
    ['sm_small', 0.002, 1],
  ] as Array<[string, number, number]>) {
    const rand = next();
    const input = q(scale, 0);
    const p = prepareSoftmaxInt8(input, beta);
    const depth = 10;
    const rows: Int8Array[] = [];
    for (let r = 0; r < 4; r++) rows.push(randomInput(depth, rand));
    rows.push(new Int8Array(depth).fill(5));
    rows.push(Int8Array.from({ length: depth }, (_, i) => (i % 2 ? 127 : -128)));
    const edge = (d: number) => Math.max(-128, 127 + d);
    rows.push(Int8Array.from({ length: depth }, (_, i) => (i === 0 ? 127 : edge(p.diffMin + (i % 3) - 1))));
    rows.push(Int8Array.from({ length: depth }, (_, i) => (i === 3 ? 127 : edge(p.diffMin))));
    writeSoftmax(w, label, input, beta, rows);
  }
  {
    const rand = next();
    const rows = [randomInput(1, rand), randomInput(1, rand)];
    writeSoftmax(w, 'sm_depth1', { scale: 0.1, zeroPoint: 0 }, 1, rows);
    const long = [randomInput(300, rand), randomInput(300, rand)];
    writeSoftmax(w, 'sm_depth300', { scale: 0.05, zeroPoint: 0 }, 1, long);
  }

  // Whole models through the C reader and runtime.
  const models: Array<[string, Int8Model]> = [
    ['model_pt_784_32_10', randomInt8Model('m1', [784, 32, 10], GOLDEN_SEED + 101, { inputShape: [28, 28] })],
    ['model_pc_784_24_16_10', randomInt8Model('m2', [784, 24, 16, 10], GOLDEN_SEED + 102, { perChannel: true })],
    ['model_logits_50_7', randomInt8Model('m3', [50, 7], GOLDEN_SEED + 103, { softmax: false })],
  ];
  for (const [label, model] of models) writeModel(w, label, writeTflite(model), STATUS.OK, model, next(), 4);

  const good = writeTflite(models[0]![1]);
  const badIdent = good.slice();
  badIdent.set([0x54, 0x46, 0x4c, 0x32], 4); // "TFL2"
  writeModel(w, 'bad_identifier', badIdent, STATUS.MODEL_IDENTIFIER, null, next(), 0);
  const badVersion = good.slice();
  new DataView(badVersion.buffer).setUint32(versionOffset(badVersion), 4, true);
  writeModel(w, 'bad_version', badVersion, STATUS.MODEL_VERSION, null, next(), 0);
  const badRoot = good.slice();
  new DataView(badRoot.buffer).setUint32(0, good.length + 100, true);
  writeModel(w, 'root_out_of_bounds', badRoot, STATUS.MODEL_BOUNDS, null, next(), 0);
  writeModel(w, 'truncated', good.slice(0, 64), STATUS.MODEL_BOUNDS, null, next(), 0);
  const float: FloatModel = {
    kind: 'float32', name: 'f', classNames: ['a', 'b'], inputShape: [4], normalized: false, softmax: true,
    layers: [{ name: 'd', inputSize: 4, outputSize: 2, weights: new Float32Array(8).fill(0.5), bias: new Float32Array(2), activation: 'linear' }],
  };
  writeModel(w, 'float_model', writeTflite(float), STATUS.UNSUPPORTED_TYPE, null, next(), 0);
  writeModel(w, 'nine_layers', writeTflite(randomInt8Model('deep', [8, 8, 8, 8, 8, 8, 8, 8, 8, 4], GOLDEN_SEED + 104, { softmax: false })), STATUS.TOO_MANY_LAYERS, null, next(), 0);
  const badSoftmax = randomInt8Model('sm', [6, 3], GOLDEN_SEED + 105);
  writeModel(w, 'softmax_output_quant', writeTflite({ ...badSoftmax, softmax: { output: { scale: 1 / 128, zeroPoint: -128 }, beta: 1 } }), STATUS.QUANTIZATION, null, next(), 0);
  // A wide per-channel hidden layer (its activations plus 8 bytes of multiplier and shift per
  // output: 9 bytes an output), since inputs are limited to one frame body (1,024 bytes).
  writeModel(w, 'arena_too_small', writeTflite(randomInt8Model('wide', [16, Math.ceil(TEST_ARENA_BYTES / 8.5), 2], GOLDEN_SEED + 106, { softmax: false, perChannel: true })), STATUS.ARENA_TOO_SMALL, null, next(), 0);
  return w.text();
}

// ------------------------------------------------------------------ protocol

/** COBS as on Wikipedia: no empty block after a full one at the end. */
export function cobsEncode(src: Uint8Array): Uint8Array {
  const out: number[] = [0];
  let codeAt = 0;
  let code = 1;
  src.forEach((b, i) => {
    if (b === 0) {
      out[codeAt] = code;
      codeAt = out.push(0) - 1;
      code = 1;
    } else {
      out.push(b);
      code++;
      if (code === 0xff && i + 1 < src.length) {
        out[codeAt] = code;
        codeAt = out.push(0) - 1;
        code = 1;
      }
    }
  });
  out[codeAt] = code;
  return Uint8Array.from(out);
}

/** CRC-16/CCITT-FALSE, bit by bit (independent of the firmware's and src/protocol's). */
export function crc16Ccitt(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const top = ((crc >> 15) ^ (b >> bit)) & 1;
      crc = ((crc << 1) & 0xffff) ^ (top ? 0x1021 : 0);
    }
  }
  return crc;
}

/** Protocol v4: version, type, seq u16, body length u16, CRC-16 of those, body, CRC-32 of all before it. */
export function frameWire(type: number, seq: number, body: Uint8Array): Uint8Array {
  const payload = new Uint8Array(12 + body.length);
  const v = new DataView(payload.buffer);
  payload[0] = 4; // protocol version
  payload[1] = type;
  v.setUint16(2, seq, true);
  v.setUint16(4, body.length, true);
  v.setUint16(6, crc16Ccitt(payload.subarray(0, 6)), true);
  payload.set(body, 8);
  v.setUint32(8 + body.length, crc32(payload.subarray(0, 8 + body.length)), true);
  const enc = cobsEncode(payload);
  const wire = new Uint8Array(enc.length + 1);
  wire.set(enc);
  return wire;
}

export function protocolVectors(): string {
  const w = new Writer();
  header(w, 'CRC-32, COBS and frames of protocol v4 (firmware/tests/protocol_test.c)');
  const rand = mulberry32(GOLDEN_SEED + 7);
  const bytes = (n: number, zeros = 0.2) => Uint8Array.from({ length: n }, () => (rand() < zeros ? 0 : 1 + Math.floor(rand() * 255)));
  const crcCases = [new TextEncoder().encode('123456789'), new Uint8Array(0), new Uint8Array([0]), bytes(1000), bytes(7, 0)];
  for (const b of crcCases) {
    w.record('crc', b.length);
    w.values(b);
    w.record(crc32(b));
  }
  const cobsCases = [
    new Uint8Array(0), new Uint8Array([0]), new Uint8Array([0, 0]), new Uint8Array([0x11, 0x22, 0, 0x33]),
    bytes(253, 0), bytes(254, 0), bytes(255, 0), bytes(508, 0), Uint8Array.from([...bytes(254, 0), 0]),
    Uint8Array.from([0, ...bytes(254, 0)]), bytes(1036), bytes(600, 0.001),
  ];
  for (const b of cobsCases) {
    const e = cobsEncode(b);
    w.record('cobs', b.length);
    w.values(b);
    w.record(e.length);
    w.values(e);
  }
  const frames: Array<[number, number, Uint8Array]> = [
    [0x01, 0, new Uint8Array(0)], [0x01, 0xffff, new Uint8Array(0)], [0x02, 513, bytes(784)],
    [0x82, 7, bytes(18)], [0x7f, 0x1234, Uint8Array.from([4, 0])], [0x02, 1, bytes(1024, 0)],
    [0x83, 3, new TextEncoder().encode('model not loaded: status 16')],
  ];
  for (const [type, seq, body] of frames) {
    const wire = frameWire(type, seq, body);
    w.record('frame', type, seq, body.length);
    w.values(body);
    w.record(wire.length);
    w.values(wire);
  }
  const model = randomInt8Model('proto', [784, 16, 10], GOLDEN_SEED + 201, { inputShape: [28, 28] });
  writeModel(w, 'app_model', writeTflite(model), STATUS.OK, model, mulberry32(GOLDEN_SEED + 202), 3);
  // Activations larger than the native runtime's default arena (32 KiB, runtime_native.c): the app must report
  // ARENA_TOO_SMALL with the bytes needed, in INFO and in the device log.
  const wide = randomInt8Model('wide', [16, 32 * 1024 + 100, 2], GOLDEN_SEED + 203, { softmax: false });
  writeModel(w, 'app_arena_too_small', writeTflite(wide), STATUS.ARENA_TOO_SMALL, null, mulberry32(GOLDEN_SEED + 204), 0);
  return w.text();
}

/** Writes kernels.txt and protocol.txt into `outDir`; returns their paths. */
export function writeGoldenVectors(outDir: string): { kernels: string; protocol: string } {
  mkdirSync(outDir, { recursive: true });
  const kernels = join(outDir, 'kernels.txt');
  const protocol = join(outDir, 'protocol.txt');
  writeFileSync(kernels, kernelVectors());
  writeFileSync(protocol, protocolVectors());
  return { kernels, protocol };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node --import tsx scripts/golden-vectors.ts <outDir>');
    process.exit(2);
  }
  const files = writeGoldenVectors(out);
  console.log(`${files.kernels}\n${files.protocol}`);
}
