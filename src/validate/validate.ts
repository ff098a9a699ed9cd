/**
 * Validation on a device, in two halves:
 *  - collectAnswers (I/O): checks that the device runs the host's model (INFO)
 *    and streams test samples through the link, keeping each answer;
 *  - validationReport (no I/O): compares the answers with the TypeScript
 *    reference (TFLM's arithmetic: a correct device equals it exactly), the host
 *    TFLite interpreter and the float model.
 * validateOnDevice is the two in a row (`validate`, `deploy`); the farm collects
 * on many boards and builds its report from the merged answers with the same
 * validationReport.
 */
import type { Int8Model } from '../model/types.ts';
import { Int8Interpreter, quantizeInput } from '../reference/int8-interpreter.ts';
import { accuracy, argmax, compareOutputs, top1All, type OutputComparison } from '../evaluate/compare.ts';
import { tfliteLimitation } from '../evaluate/evaluate.ts';
import { TfliteInterpreter } from '../tflite/tflite-runtime.ts';
import { InterpreterError, TinymlError } from '../errors.ts';
import { crc32, crc32Hex } from '../protocol/crc32.ts';
import { describeErrorCode, ErrorCode, PROTOCOL_VERSION, type CycleUnit, type DeviceInfo, type Runtime } from '../protocol/frames.ts';
import { ArenaTooSmallError, DeviceModelError, HandshakeTimeoutError, InterruptedError } from '../device/errors.ts';
import { DEFAULT_WINDOW, type DeviceLink, type ReconnectOptions } from '../device/link.ts';

/** What collectAnswers needs: a link, the model it must run, and the samples to send. */
export interface CollectAnswersInput {
  /** A link whose handshake has been done. */
  readonly link: DeviceLink;
  /** INFO from that handshake. */
  readonly info: DeviceInfo;
  readonly model: Int8Model;
  /** The .tflite bytes of `model`, as flashed (their CRC-32 must equal INFO's). */
  readonly tfliteBytes: Uint8Array;
  /** Raw 0..255 pixels, at least `count` samples back to back. */
  readonly images: Uint8Array;
  readonly count: number;
  /** True when the model expects pixels / 255. */
  readonly normalized: boolean;
  readonly window?: number;
  /** Input encodings the host may use, bit e for encoding e (InferOptions.encodings); default all the device offers. */
  readonly encodings?: number;
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** Reopen the port when it is lost mid-run (a pulled cable); without it a lost port ends the run. */
  readonly reconnect?: ReconnectOptions;
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
  /** Answers kept from an earlier run of the same samples (--resume): these samples are not run again. */
  readonly previous?: ReadonlyMap<number, SampleAnswer>;
  /** Each sample's answer as it arrives (the results file appends it). */
  readonly onAnswer?: (index: number, answer: SampleAnswer) => void;
  /** Ask for INFO again after the run, for the device's dropped-bytes counter (default true). */
  readonly infoAfter?: boolean;
}

export interface ValidateOnDeviceInput extends CollectAnswersInput {
  readonly labels: Uint8Array;
  /** Top-1 of the float model on the same samples, when known. */
  readonly floatTop1?: Uint8Array;
  /** Name for the report: 'emulator', a port path, a board name. */
  readonly board: string;
  /** Receives every sample's outputs once all are in (reports draw confusion matrices from them). */
  readonly onOutputs?: (outputs: SampleOutputs) => void;
}

/** The device's answer for one sample. */
export interface SampleAnswer {
  readonly top1: number;
  readonly cycles: number;
  readonly outputs: Int8Array;
}

/** Per-sample results of one validation, `count` rows of `width` each. */
export interface SampleOutputs {
  readonly count: number;
  readonly width: number;
  readonly device: Int8Array;
  /** The TypeScript reference (TFLM's arithmetic). */
  readonly reference: Int8Array;
  /** The host TFLite interpreter, or null when it did not run. */
  readonly tflite: Int8Array | null;
  /** Cycles per sample, in the report's cycle unit. */
  readonly cycles: Uint32Array;
}

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** How the link fared over a run: the report's `link` field. */
export interface LinkCounts {
  readonly window: number;
  readonly resends: number;
  /** Of the resends, those for a damaged request or answer that named it (NAKs). */
  readonly nakResends: number;
  readonly staleAnswers: number;
  readonly badFrames: number;
  readonly deviceBadFrames: number;
  /** Of the BAD_FRAME reports, those naming no request (the header was damaged). */
  readonly deviceBadFramesUnnamed: number;
  /** Times the port was lost and opened again mid-run. */
  readonly reconnects: number;
  /** Bytes the device's serial write dropped since its boot (INFO after the run; a host that stopped reading). */
  readonly deviceTxDroppedBytes: number;
  /** Device log lines that never arrived (gaps in their line numbers). */
  readonly deviceLogLinesLost: number;
}

/**
 * What a device answered for samples 0..count-1 of a run, and how the link
 * fared: all that validationReport takes from the device. collectAnswers fills
 * it from one link; the farm merges it from the shards of many boards.
 */
export interface DeviceAnswers {
  /** Samples requested. */
  readonly count: number;
  /** Outputs per sample (INFO's output count). */
  readonly width: number;
  /** 1 for each sample answered: all of them unless the run was interrupted. */
  readonly answered: Uint8Array;
  /** `count` rows of `width` int8 outputs in sample order (zero where not answered). */
  readonly outputs: Int8Array;
  /** The device's RESULT top-1 field per sample. */
  readonly top1: Uint8Array;
  /** Cycles per sample, in INFO's cycle unit. */
  readonly cycles: Uint32Array;
  /** Samples this run sent and got answered (not kept from an earlier run), and the wall time they took. */
  readonly sent: number;
  readonly wallMs: number;
  /** True when the run was stopped (Ctrl-C) before every sample was answered. */
  readonly interrupted: boolean;
  /** INFO from the handshake before the run. */
  readonly info: DeviceInfo;
  readonly link: LinkCounts;
  /** The device log lines received, boot lines included, in order. */
  readonly deviceLog: readonly string[];
}

export interface ValidationReport {
  /** Samples the report covers: all requested, or those answered before an interruption (partial). */
  readonly samples: number;
  /** True when the run was interrupted (Ctrl-C): the figures cover only the samples answered by then. */
  readonly partial: boolean;
  readonly samplesRequested: number;
  readonly board: string;
  readonly runtime: Runtime;
  /** The firmware's TML_RUNTIME_VERSION, e.g. "native (tinyml-deploy 0.1.0)". */
  readonly runtimeVersion: string;
  /** What a "cycle" is: DWT CPU cycles on a board, instructions executed under QEMU -icount. */
  readonly cycleUnit: CycleUnit;
  /** CRC-32 of the .tflite, 8 hex digits (host and device agree, or validation stops). */
  readonly modelCrc32: string;
  readonly deviceAccuracy: number;
  /** Accuracy of the TypeScript int8 reference (TFLM's arithmetic). */
  readonly referenceAccuracy: number;
  /** Accuracy of the host TFLite interpreter; null when it cannot run this model (see hostInt8Skipped). */
  readonly hostInt8Accuracy: number | null;
  readonly hostInt8Skipped: string | null;
  readonly hostFloatAccuracy: number | null;
  /** Device vs reference: must be 1 and 1 on a correct device. */
  readonly top1Agreement: number;
  readonly exactAgreement: number;
  /** First sample indices whose device outputs differ from the reference. */
  readonly firstMismatches: readonly number[];
  readonly vsReference: OutputComparison;
  /** Device vs host TFLite (which rounds some ties and its softmax differently), or null. */
  readonly vsTflite: OutputComparison | null;
  /** Samples whose RESULT top-1 field is not the argmax of its own outputs (must be 0). */
  readonly top1FieldMismatches: number;
  readonly latencyCycles: Percentiles;
  /** Cycles / INFO's CPU clock; for 'emulated-instructions' an estimate at one instruction per cycle. */
  readonly latencyMicros: Percentiles | null;
  /** Samples per second of wall clock, link included. */
  readonly throughputSamplesPerSec: number;
  readonly wallSeconds: number;
  readonly link: LinkCounts;
  /** The device log lines received over the link, boot lines included, in order. */
  readonly deviceLog: readonly string[];
  /** Exact agreement with the reference on every sample and consistent top-1 fields. */
  readonly passed: boolean;
  readonly info: DeviceInfo;
}

function sameFloat32(a: number, b: number): boolean {
  return Math.fround(a) === Math.fround(b);
}

/**
 * Checks that the device runs `model`: protocol version, model load status,
 * model CRC-32, input size and quantization, output count and quantization.
 * @throws DeviceModelError saying what differs and what to do
 */
export function checkDeviceInfo(info: DeviceInfo, model: Int8Model, tfliteBytes: Uint8Array, where = 'the device'): void {
  if (info.protocolVersion !== PROTOCOL_VERSION) {
    throw new DeviceModelError(
      `${where} speaks protocol version ${info.protocolVersion}, this host ${PROTOCOL_VERSION}: flash firmware built by this version with tinyml flash`,
    );
  }
  const hostCrc = crc32(tfliteBytes);
  if (info.modelCrc32 !== hostCrc) {
    throw new DeviceModelError(
      `${where} runs another model (CRC-32 ${crc32Hex(info.modelCrc32)}, ${info.modelBytes} bytes) than this .tflite ` +
        `(CRC-32 ${crc32Hex(hostCrc)}, ${tfliteBytes.length} bytes): flash it again with tinyml flash`,
    );
  }
  if (info.modelStatus === ErrorCode.ARENA_TOO_SMALL) {
    const needed = info.arenaUsed > info.arenaSize ? info.arenaUsed : null;
    const num = (n: number) => n.toLocaleString('en-US');
    throw new ArenaTooSmallError(
      `${where} could not load the model: ${describeErrorCode(info.modelStatus)}: the ${info.runtime} runtime needs ` +
        `${needed === null ? `more than ${num(info.arenaSize)}` : `${info.runtime === 'tflm' ? 'at least ' : ''}${num(needed)}`} bytes of tensor arena and the firmware has ` +
        `${num(info.arenaSize)}: build the firmware again with tinyml build, which sizes the arena from the model ` +
        '(TML_ARENA_BYTES), and flash it',
      needed,
      info.arenaSize,
    );
  }
  if (info.modelStatus !== 0) {
    throw new DeviceModelError(`${where} could not load the model: ${describeErrorCode(info.modelStatus)}`);
  }
  const inSize = model.layers[0]!.inputSize;
  const last = model.layers[model.layers.length - 1]!;
  const outQ = model.softmax ? model.softmax.output : last.output;
  const problems: string[] = [];
  if (info.inputBytes !== inSize) problems.push(`input of ${info.inputBytes} bytes, the model takes ${inSize}`);
  if (info.outputCount !== last.outputSize) problems.push(`${info.outputCount} outputs, the model has ${last.outputSize}`);
  if (!sameFloat32(info.inputScale, model.input.scale) || info.inputZeroPoint !== model.input.zeroPoint) {
    problems.push(`input quantization ${info.inputScale}/${info.inputZeroPoint}, the model's is ${model.input.scale}/${model.input.zeroPoint}`);
  }
  if (!sameFloat32(info.outputScale, outQ.scale) || info.outputZeroPoint !== outQ.zeroPoint) {
    problems.push(`output quantization ${info.outputScale}/${info.outputZeroPoint}, the model's is ${outQ.scale}/${outQ.zeroPoint}`);
  }
  if (problems.length) throw new DeviceModelError(`${where} reports ${problems.join('; ')}: flash it again with tinyml flash`);
}

/** Nearest-rank percentiles (p-th value of the sorted list at rank ceil(p/100 * n)). */
export function percentiles(values: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const n = sorted.length;
  const at = (p: number) => (n === 0 ? 0 : sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)]!);
  return { p50: at(50), p90: at(90), p99: at(99), max: n ? sorted[n - 1]! : 0 };
}

function scalePercentiles(p: Percentiles, k: number): Percentiles {
  return { p50: p.p50 * k, p90: p.p90 * k, p99: p.p99 * k, max: p.max * k };
}

/**
 * INFO again after the run, for the counters the device keeps (bytes its serial
 * write dropped) and the log lines it wrote meanwhile; null when the device no
 * longer answers HELLO (the run itself is complete, so that is not fatal).
 */
async function infoAfterRun(link: DeviceLink, signal: AbortSignal | undefined): Promise<DeviceInfo | null> {
  try {
    return await link.handshake({ timeoutMs: 3000, signal });
  } catch (err) {
    if (err instanceof HandshakeTimeoutError) return null;
    throw err;
  }
}

function runHostTflite(bytes: Uint8Array, inputs: Int8Array): Int8Array {
  const interp = TfliteInterpreter.load(bytes, { threads: 1 });
  try {
    return interp.runBatch(inputs);
  } finally {
    interp.close();
  }
}

/** Test samples first..first+count-1 quantized exactly as the reference quantizes them, `inSize` bytes each. */
export function quantizeSamples(model: Int8Model, images: Uint8Array, first: number, count: number, normalized: boolean): Int8Array {
  const inSize = model.layers[0]!.inputSize;
  const out = new Int8Array(count * inSize);
  for (let s = 0; s < count; s++) quantizeInput(images, (first + s) * inSize, model.input, normalized, inSize, out.subarray(s * inSize, (s + 1) * inSize));
  return out;
}

/**
 * Sends samples 0..count-1 to the device (those not in `previous`) and keeps
 * every answer as it arrives. Ctrl-C (`signal`) ends it early with what was
 * answered by then (`interrupted`), unless nothing was.
 * @throws DeviceModelError when INFO names another model; the link's errors;
 *         InterruptedError when interrupted before any sample was answered
 */
export async function collectAnswers(input: CollectAnswersInput): Promise<DeviceAnswers> {
  const { model, info, count, link } = input;
  checkDeviceInfo(info, model, input.tfliteBytes, `the device on ${link.transport.description}`);
  const inSize = model.layers[0]!.inputSize;
  const width = model.layers[model.layers.length - 1]!.outputSize;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`collectAnswers: count ${count} must be a positive whole number`);
  if (input.images.length < count * inSize) throw new RangeError(`collectAnswers: ${count} samples requested, data holds fewer`);
  const quantized = quantizeSamples(model, input.images, 0, count, input.normalized);

  const outputs = new Int8Array(count * width);
  const top1 = new Uint8Array(count);
  const cycles = new Uint32Array(count);
  const answered = new Uint8Array(count);
  const keep = (i: number, a: SampleAnswer) => {
    outputs.set(a.outputs, i * width);
    top1[i] = a.top1;
    cycles[i] = a.cycles >>> 0;
    answered[i] = 1;
  };
  for (const [i, a] of input.previous ?? []) {
    if (!Number.isInteger(i) || i < 0 || i >= count || a.outputs.length !== width) {
      throw new RangeError(`collectAnswers: an earlier answer for sample ${i} with ${a.outputs.length} outputs does not fit ${count} samples of ${width}`);
    }
    keep(i, a);
  }
  const todo: number[] = [];
  for (let i = 0; i < count; i++) if (!answered[i]) todo.push(i);
  const already = count - todo.length;
  let sent = 0;
  let run = { resends: 0, nakResends: 0, staleAnswers: 0, reconnects: 0, wallMs: 0 };
  let interrupted = false;
  const started = performance.now();
  if (todo.length > 0) {
    try {
      const r = await link.inferReconnecting(
        todo.map((i) => quantized.subarray(i * inSize, (i + 1) * inSize)),
        {
          window: input.window,
          encodings: input.encodings,
          timeoutMs: input.timeoutMs,
          retries: input.retries,
          reconnect: input.reconnect,
          onAnswer: (k, msg) => {
            const i = todo[k]!;
            keep(i, msg);
            sent++;
            input.onAnswer?.(i, { top1: msg.top1, cycles: msg.cycles, outputs: msg.outputs });
          },
          onProgress: input.onProgress ? (done) => input.onProgress!(already + done, count) : undefined,
          signal: input.signal,
        },
      );
      run = { resends: r.resends, nakResends: r.nakResends, staleAnswers: r.staleAnswers, reconnects: r.reconnects ?? 0, wallMs: r.wallMs };
    } catch (err) {
      if (!(err instanceof InterruptedError)) throw err;
      if (already + sent === 0) throw err;
      interrupted = true;
      run = { ...run, wallMs: performance.now() - started };
    }
  }
  const finalInfo = interrupted || input.infoAfter === false ? null : await infoAfterRun(link, input.signal);
  const stats = link.stats;
  return {
    count,
    width,
    answered,
    outputs,
    top1,
    cycles,
    sent,
    wallMs: run.wallMs,
    interrupted,
    info,
    link: {
      window: input.window ?? DEFAULT_WINDOW,
      resends: run.resends,
      nakResends: run.nakResends,
      staleAnswers: run.staleAnswers,
      badFrames: stats.badFrames,
      deviceBadFrames: stats.deviceBadFrames,
      deviceBadFramesUnnamed: stats.deviceBadFramesUnnamed,
      reconnects: run.reconnects,
      deviceTxDroppedBytes: (finalInfo ?? info).txDroppedBytes,
      deviceLogLinesLost: stats.logLinesLost,
    },
    deviceLog: [...link.deviceLog],
  };
}

/** What validationReport compares the device's answers with. */
export interface ReportInput {
  readonly answers: DeviceAnswers;
  readonly model: Int8Model;
  /** The .tflite bytes of `model` (their CRC-32 must equal the answers' INFO's). */
  readonly tfliteBytes: Uint8Array;
  /** The same samples the answers are for: raw pixels and labels, `answers.count` at least. */
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly normalized: boolean;
  /** Top-1 of the float model on the same samples, when known. */
  readonly floatTop1?: Uint8Array;
  /** Name for the report: 'emulator', a port path, a board name, a farm. */
  readonly board: string;
}

export interface ReportWithOutputs {
  readonly report: ValidationReport;
  /** Every sample's outputs, device and host; null for an interrupted run. */
  readonly outputs: SampleOutputs | null;
}

/**
 * The validation report over the answered samples (no I/O): accuracies, exact
 * and top-1 agreement with the reference and TFLite, latency, the link's record.
 * @throws DeviceModelError when the answers' INFO is not for this model;
 *         RangeError when the answers do not fit the model or the data
 */
export function validationReport(input: ReportInput): ReportWithOutputs {
  const { model, answers: a } = input;
  const { info, count, width } = a;
  checkDeviceInfo(info, model, input.tfliteBytes);
  const inSize = model.layers[0]!.inputSize;
  if (width !== model.layers[model.layers.length - 1]!.outputSize) throw new RangeError(`validationReport: answers of ${width} outputs for a model of ${model.layers[model.layers.length - 1]!.outputSize}`);
  if (input.images.length < count * inSize || input.labels.length < count) throw new RangeError(`validationReport: answers for ${count} samples, data holds fewer`);

  // The report covers the answered samples: all of them, or those in by an interruption (partial).
  const kept: number[] = [];
  for (let i = 0; i < count; i++) if (a.answered[i]) kept.push(i);
  if (kept.length === 0) throw new RangeError('validationReport: no sample answered');
  const n = kept.length;
  const device = new Int8Array(n * width);
  const top1 = new Uint8Array(n);
  const cycles = new Uint32Array(n);
  const quantized = new Int8Array(n * inSize);
  const labels = new Uint8Array(n);
  const floatTop1 = input.floatTop1 ? new Uint8Array(n) : undefined;
  kept.forEach((i, k) => {
    device.set(a.outputs.subarray(i * width, (i + 1) * width), k * width);
    top1[k] = a.top1[i]!;
    cycles[k] = a.cycles[i]!;
    quantizeInput(input.images, i * inSize, model.input, input.normalized, inSize, quantized.subarray(k * inSize, (k + 1) * inSize));
    labels[k] = input.labels[i]!;
    if (floatTop1) floatTop1[k] = input.floatTop1![i]!;
  });
  const original = (list: readonly number[]) => list.map((k) => kept[k]!);

  const interp = new Int8Interpreter(model);
  const reference = new Int8Array(n * width);
  for (let k = 0; k < n; k++) reference.set(interp.run(quantized.subarray(k * inSize, (k + 1) * inSize)).output, k * width);

  let hostInt8Skipped = tfliteLimitation(model);
  let tflite: Int8Array | null = null;
  if (!hostInt8Skipped) {
    try {
      tflite = runHostTflite(input.tfliteBytes, quantized);
    } catch (err) {
      if (!(err instanceof InterpreterError)) throw err;
      hostInt8Skipped = `the host TFLite interpreter is unavailable: ${err.message}`;
    }
  }

  const deviceTop1 = top1All(device, n, width);
  let top1FieldMismatches = 0;
  for (let k = 0; k < n; k++) if (top1[k] !== argmax(device, k * width, width)) top1FieldMismatches++;
  const cmpRef = compareOutputs(device, reference, n, width);
  const vsReference = { ...cmpRef, firstMismatches: original(cmpRef.firstMismatches) };
  const cmpTfl = tflite ? compareOutputs(device, tflite, n, width) : null;
  const vsTflite = cmpTfl ? { ...cmpTfl, firstMismatches: original(cmpTfl.firstMismatches) } : null;
  const latencyCycles = percentiles(cycles);
  const report: ValidationReport = {
    samples: n,
    partial: a.interrupted,
    samplesRequested: count,
    board: input.board,
    runtime: info.runtime,
    runtimeVersion: info.runtimeVersion,
    cycleUnit: info.cycleUnit,
    modelCrc32: crc32Hex(info.modelCrc32),
    deviceAccuracy: accuracy(deviceTop1, labels),
    referenceAccuracy: accuracy(top1All(reference, n, width), labels),
    hostInt8Accuracy: tflite ? accuracy(top1All(tflite, n, width), labels) : null,
    hostInt8Skipped,
    hostFloatAccuracy: floatTop1 ? accuracy(floatTop1, labels) : null,
    top1Agreement: vsReference.top1Agreement,
    exactAgreement: vsReference.exactAgreement,
    firstMismatches: vsReference.firstMismatches,
    vsReference,
    vsTflite,
    top1FieldMismatches,
    latencyCycles,
    latencyMicros: info.cpuHz > 0 ? scalePercentiles(latencyCycles, 1e6 / info.cpuHz) : null,
    // Over the samples this run sent (a resumed run's earlier answers took no time here).
    throughputSamplesPerSec: a.wallMs > 0 ? a.sent / (a.wallMs / 1000) : 0,
    wallSeconds: a.wallMs / 1000,
    link: { ...a.link },
    deviceLog: [...a.deviceLog],
    passed: !a.interrupted && vsReference.exactAgreement === 1 && top1FieldMismatches === 0,
    info,
  };
  return { report, outputs: a.interrupted ? null : { count, width, device, reference, tflite, cycles } };
}

/** collectAnswers then validationReport: `tinyml validate` on one link. */
export async function validateOnDevice(input: ValidateOnDeviceInput): Promise<ValidationReport> {
  if (input.labels.length < input.count) throw new RangeError(`validateOnDevice: ${input.count} samples requested, data holds fewer`);
  const answers = await collectAnswers(input);
  const { report, outputs } = validationReport({ ...input, answers });
  if (outputs) input.onOutputs?.(outputs);
  return report;
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);
const num = (x: number) => Math.round(x).toLocaleString('en-US');

/** The report as an aligned table for people. */
export function formatValidationReport(r: ValidationReport): string {
  const i = r.info;
  const unit = r.cycleUnit === 'emulated-instructions' ? 'emulated instructions (QEMU -icount)' : 'CPU cycles (DWT)';
  const lines = [
    `board                          ${r.board} (${i.board}, ${r.runtime} runtime, ${(i.cpuHz / 1e6).toFixed(0)} MHz nominal)`,
    `runtime version                ${r.runtimeVersion}`,
    `model                          CRC-32 ${r.modelCrc32}, ${num(i.modelBytes)} bytes; arena ${num(i.arenaUsed)} of ${num(i.arenaSize)} bytes`,
    r.partial
      ? `samples                        PARTIAL: ${r.samples} of ${r.samplesRequested} (interrupted; --resume goes on)`
      : `samples                        ${r.samples}`,
    `device accuracy                ${pct(r.deviceAccuracy)}`,
    `reference accuracy (TS, TFLM)  ${pct(r.referenceAccuracy)}`,
    r.hostInt8Accuracy === null
      ? `host int8 accuracy (TFLite)    n/a: ${r.hostInt8Skipped}`
      : `host int8 accuracy (TFLite)    ${pct(r.hostInt8Accuracy)}`,
    `host float accuracy            ${pct(r.hostFloatAccuracy)}`,
    `device = reference             ${pct(r.exactAgreement)} exact, ${pct(r.top1Agreement)} top-1` +
      (r.firstMismatches.length ? `; first differing samples ${r.firstMismatches.join(', ')} (max ${r.vsReference.maxAbsDiff} step)` : ''),
  ];
  if (r.vsTflite) {
    lines.push(
      `device = TFLite                ${pct(r.vsTflite.exactAgreement)} exact, ${pct(r.vsTflite.top1Agreement)} top-1` +
        (r.vsTflite.firstMismatches.length ? `; first differing samples ${r.vsTflite.firstMismatches.join(', ')} (max ${r.vsTflite.maxAbsDiff} step)` : ''),
    );
  }
  if (r.top1FieldMismatches) lines.push(`top-1 field != argmax          ${r.top1FieldMismatches} samples`);
  const c = r.latencyCycles;
  lines.push(`latency, ${unit}`, `  cycles p50/p90/p99/max        ${num(c.p50)} / ${num(c.p90)} / ${num(c.p99)} / ${num(c.max)}`);
  if (r.latencyMicros) {
    const m = r.latencyMicros;
    const note = r.cycleUnit === 'emulated-instructions' ? ' (estimate: one instruction per cycle)' : '';
    lines.push(`  microseconds p50/p90/p99/max  ${m.p50.toFixed(1)} / ${m.p90.toFixed(1)} / ${m.p99.toFixed(1)} / ${m.max.toFixed(1)}${note}`);
  }
  lines.push(
    `throughput                     ${r.throughputSamplesPerSec.toFixed(1)} samples/s over the link (window ${r.link.window}, ${r.wallSeconds.toFixed(2)} s)`,
    `link                           ${r.link.resends} resends (${r.link.nakResends} for damage), ${r.link.staleAnswers} stale answers dropped, ${r.link.badFrames} bad frames received, ${r.link.deviceBadFrames} BAD_FRAME reports (${r.link.deviceBadFramesUnnamed} naming no request), ${r.link.reconnects} reconnects`,
    `device serial                  ${num(r.link.deviceTxDroppedBytes)} bytes dropped by the device (host not reading)`,
    `device log                     ${r.deviceLog.length} lines${r.link.deviceLogLinesLost ? `, ${r.link.deviceLogLinesLost} lost` : ''}`,
    `result                         ${r.passed ? 'PASS: the device computes exactly what the reference computes' : 'FAIL: the device differs from the reference'}`,
  );
  return lines.join('\n');
}

/** The device ran, but its outputs differ from the reference's. */
export class ValidationFailedError extends TinymlError {}

/** Throws ValidationFailedError when the report did not pass; the message names the first differing samples. */
export function assertValidationPassed(r: ValidationReport): void {
  if (r.passed) return;
  if (r.partial) throw new InterruptedError(`interrupted after ${r.samples} of ${r.samplesRequested} samples: the report above is PARTIAL; run again with --resume to go on`);
  const why = r.top1FieldMismatches
    ? `${r.top1FieldMismatches} RESULT top-1 fields are not the argmax of their outputs`
    : `${pct(1 - r.exactAgreement)} of samples differ from the reference (first: ${r.firstMismatches.join(', ')})`;
  throw new ValidationFailedError(`validation failed on ${r.board}: ${why}; the firmware's arithmetic is not TFLM's`);
}
