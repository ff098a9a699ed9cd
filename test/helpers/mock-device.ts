/**
 * An in-memory device behind the Transport interface: it speaks protocol
 * version 4 (inputs assembled from INFER_CHUNKs in slots, run by INFER_RUN,
 * decoded with the host's image codec as the firmware decodes them) and runs our TypeScript int8 reference (TFLM's arithmetic), so the
 * link, the retry logic and validation are tested without hardware. Knobs drop,
 * corrupt, duplicate and delay frames in either direction, deterministically
 * (a FaultPlan function, or randomFaults with a seed), and `byteFaults` damages
 * the byte stream itself (bytes flipped, lost or inserted at a seeded rate), as
 * a noisy cable does. All state lives in the instance.
 *
 * Its device log behaves as the firmware's (firmware/core/app.c): it keeps the
 * last LOG_KEPT lines, sends new ones as LOG frames just before its next answer,
 * and replays the kept ones before INFO on every HELLO.
 *
 * Like the firmware it answers one request at a time: requests queue while it
 * "computes" (computeMs, for an INFER_RUN), which is how `maxQueued` shows the
 * host's window. `reset()` plays a reboot: slots and log emptied, a new boot id.
 */
import type { Int8Model } from '../../src/model/types.ts';
import { Int8Interpreter } from '../../src/reference/int8-interpreter.ts';
import { argmax } from '../../src/evaluate/compare.ts';
import {
  ErrorCode,
  FrameError,
  decodeFrame,
  encodeFrame,
  encodePayload,
  framePayload,
  PROTOCOL_VERSION,
  SEQ_UNKNOWN,
  type CycleUnit,
  type DeviceInfo,
  type InferChunkMessage,
  type InferRunMessage,
  type Message,
  type Runtime,
} from '../../src/protocol/frames.ts';
import { FrameSplitter } from '../../src/protocol/frame-parser.ts';
import { crc32 } from '../../src/protocol/crc32.ts';
import { decodeImage, ImageEncoding } from '../../src/protocol/image-codec.ts';
import { TransportClosedError } from '../../src/device/errors.ts';
import type { Transport } from '../../src/device/transport.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { TransportEvents } from '../../src/device/transport-events.ts';

export type Direction = 'to-device' | 'to-host';

export interface FrameFault {
  /** The frame never arrives. */
  readonly drop?: boolean;
  /** One byte of the frame is flipped (the receiver's CRC or COBS check fails). */
  readonly corrupt?: boolean;
  /** With corrupt: which byte of the wire block (to the device) or payload (to the host); default one that varies with the frame. */
  readonly corruptAt?: number;
  /** The frame arrives twice. */
  readonly duplicate?: boolean;
  /** The frame arrives this much later (later frames may overtake it). */
  readonly delayMs?: number;
  /** To the device: this well-formed message arrives instead (a stale chunk of another input, say). */
  readonly replace?: Message;
}

export interface FaultContext {
  readonly direction: Direction;
  /** 0-based count of frames seen so far in this direction. */
  readonly index: number;
  /** The message, or null when the frame does not decode (already corrupt). */
  readonly message: Message | null;
}

export type FaultPlan = (ctx: FaultContext) => FrameFault | undefined;

export interface MockDeviceOptions {
  readonly model: Int8Model;
  /** CRC-32 the device reports for its model (normally crc32 of the host's .tflite). */
  readonly modelCrc32: number;
  readonly modelBytes?: number;
  readonly board?: string;
  readonly runtime?: Runtime;
  readonly cycleUnit?: CycleUnit;
  readonly cpuHz?: number;
  /** Frames arriving before the device "opens" its port are lost, as QEMU and USB CDC lose them. */
  readonly deafFrames?: number;
  /** Time each request takes; requests queue meanwhile. Default 0 (next tick). */
  readonly computeMs?: number;
  /** Largest chunk the host receives at once (frames are split across chunks); default whole frames. */
  readonly chunkBytes?: number;
  readonly faults?: FaultPlan;
  /** Fields of INFO to misreport (wrong CRC, input size...). */
  readonly infoOverrides?: Partial<DeviceInfo>;
  /** Cycles reported for a sample; default a deterministic function of the input. */
  readonly cycles?: (input: Int8Array) => number;
  /** Changes the outputs before they are sent, to play a faulty runtime. */
  readonly tamper?: (input: Int8Array, outputs: Int8Array) => void;
  /** Device log lines written at boot, before any host listens (each 1..MAX_LOG_TEXT printable ASCII). */
  readonly bootLog?: readonly string[];
  /** Byte-level faults on the wire in both directions; may be swapped later through `byteFaults`. */
  readonly byteFaults?: ByteFaultOptions;
  /** INFO's chunk size C (TML_CHUNK_BYTES); default 256. */
  readonly inferChunkBytes?: number;
  /** INFO's input slots (TML_INPUT_SLOTS); default 2. */
  readonly inputSlots?: number;
  /** INFO's staging bytes per slot (TML_STAGING_BYTES); default 1024. */
  readonly stagingBytes?: number;
  /** INFO's offered encodings; default every encoding image-codec.ts knows. */
  readonly encodings?: number;
  /** Answers at once (a microtask after write(), no timers): for measuring the host's own cost. */
  readonly synchronous?: boolean;
  /** Replaces the reference interpreter (e.g. fixed outputs, to time the host alone). */
  readonly compute?: (input: Int8Array) => Int8Array;
}

export interface ByteFaultOptions {
  readonly seed: number;
  /** Probability per byte that it is damaged: flipped, lost, or followed by an inserted random byte, a third each. */
  readonly rate: number;
}

/** What a ByteFaulter did. */
export interface ByteFaultStats {
  corrupted: number;
  dropped: number;
  inserted: number;
}

/** Damages a byte stream at a seeded rate (mixed flips, losses and insertions). Pure apart from its generator. */
export class ByteFaulter {
  readonly stats: ByteFaultStats = { corrupted: 0, dropped: 0, inserted: 0 };
  private readonly rand: () => number;
  constructor(readonly options: ByteFaultOptions) {
    this.rand = mulberry32(options.seed);
  }

  apply(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const b of bytes) {
      if (this.rand() >= this.options.rate) {
        out.push(b);
        continue;
      }
      const kind = Math.floor(this.rand() * 3);
      if (kind === 0) {
        this.stats.corrupted++;
        out.push(b ^ (1 + Math.floor(this.rand() * 255)));
      } else if (kind === 1) {
        this.stats.dropped++;
      } else {
        this.stats.inserted++;
        out.push(b, Math.floor(this.rand() * 256));
      }
    }
    return Uint8Array.from(out);
  }
}

/** Lines the simulated device keeps for replay, as firmware/core/app.c (LOG_LINES). */
export const LOG_KEPT = 8;

/** What the simulated device saw and did. */
export interface MockDeviceStats {
  framesReceived: number;
  badFramesReceived: number;
  /** INFER_RUNs read (whole frames). */
  infersReceived: number;
  /** INFER_RUNs per input encoding they named. */
  readonly runsByEncoding: Map<number, number>;
  /** Distinct INFER_RUN sequence numbers seen, with how often each arrived. */
  readonly inferSeqCounts: Map<number, number>;
  /** INFER_RUN sequence numbers answered with a RESULT, with how often (a lost RESULT makes it run again). */
  readonly resultSeqCounts: Map<number, number>;
  chunksReceived: number;
  /** Distinct INFER_CHUNK sequence numbers seen, with how often each arrived. */
  readonly chunkSeqCounts: Map<number, number>;
  /** Most requests received and not yet answered at any one time. */
  maxQueued: number;
  framesSent: number;
}


export interface RandomFaultOptions {
  readonly seed: number;
  /** Probabilities per frame, each 0..1. */
  readonly drop?: number;
  readonly corrupt?: number;
  readonly duplicate?: number;
  readonly delay?: number;
  /** Delay range in ms when a frame is delayed; default [1, 30]. */
  readonly delayMs?: readonly [number, number];
  /** Directions faults apply to; default both. */
  readonly directions?: readonly Direction[];
}

/** A FaultPlan drawing each fault at random from a seeded generator. */
export function randomFaults(options: RandomFaultOptions): FaultPlan {
  const rand = mulberry32(options.seed);
  const [lo, hi] = options.delayMs ?? [1, 30];
  const dirs = options.directions ?? ['to-device', 'to-host'];
  return (ctx) => {
    if (!dirs.includes(ctx.direction)) return undefined;
    const fault = {
      drop: rand() < (options.drop ?? 0),
      corrupt: rand() < (options.corrupt ?? 0),
      duplicate: rand() < (options.duplicate ?? 0),
      delayMs: rand() < (options.delay ?? 0) ? lo + Math.floor(rand() * (hi - lo + 1)) : 0,
    };
    return fault;
  };
}

function corruptByte(block: Uint8Array, at: number): void {
  const i = at % block.length;
  const b = block[i]!;
  block[i] = (b ^ 0x55) !== 0 ? b ^ 0x55 : b ^ 0xaa;
}

export class MockDevice implements Transport {
  readonly description = 'mock device';
  readonly stats: MockDeviceStats = {
    framesReceived: 0,
    badFramesReceived: 0,
    infersReceived: 0,
    runsByEncoding: new Map(),
    inferSeqCounts: new Map(),
    resultSeqCounts: new Map(),
    chunksReceived: 0,
    chunkSeqCounts: new Map(),
    maxQueued: 0,
    framesSent: 0,
  };
  /** Fault plan in force; starts as options.faults and may be swapped at any time (e.g. after the handshake). */
  faults: FaultPlan | undefined;
  /** Byte faults in force, one generator per direction; null for a clean wire. */
  byteFaults: { readonly toDevice: ByteFaulter; readonly toHost: ByteFaulter } | null = null;
  private readonly interp: Int8Interpreter;
  private info: DeviceInfo;
  /** The slots' bytes and, per chunk, its length (0: not arrived since the slot was emptied), as app.c. */
  private readonly slots: { bytes: Uint8Array; chunkLen: number[] }[];
  private static nextBootId = 0x1000;
  private readonly splitter = new FrameSplitter();
  private readonly events = new TransportEvents();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Requests read and not yet answered, in order (a NAK waits its turn as the firmware's does). */
  private readonly queue: { readonly run: boolean; readonly act: () => void }[] = [];
  private busy = false;
  private open_ = false;
  private closed = false;
  private inFrames = 0;
  private outFrames = 0;
  /** The kept log lines (at most LOG_KEPT), oldest first; nextLogSeq is the next line's number. */
  private readonly logKept: string[] = [];
  private nextLogSeq = 0;
  private logUnsent = 0;

  constructor(readonly options: MockDeviceOptions) {
    this.faults = options.faults;
    if (options.byteFaults) this.setByteFaults(options.byteFaults);
    this.interp = new Int8Interpreter(options.model);
    const m = options.model;
    const last = m.layers[m.layers.length - 1]!;
    const out = m.softmax ? m.softmax.output : last.output;
    this.info = {
      protocolVersion: PROTOCOL_VERSION,
      runtime: options.runtime ?? 'native',
      cycleUnit: options.cycleUnit ?? 'emulated-instructions',
      modelCrc32: options.modelCrc32 >>> 0,
      modelBytes: options.modelBytes ?? 0,
      arenaUsed: 2048,
      arenaSize: 16384,
      cpuHz: options.cpuHz ?? 25_000_000,
      inputDims: [1, ...m.inputShape].slice(0, 4),
      inputBytes: m.layers[0]!.inputSize,
      inputScale: m.input.scale,
      inputZeroPoint: m.input.zeroPoint,
      outputCount: last.outputSize,
      modelStatus: 0,
      outputScale: out.scale,
      outputZeroPoint: out.zeroPoint,
      txDroppedBytes: 0,
      board: options.board ?? 'mock',
      runtimeVersion: options.runtime ?? 'native',
      chunkBytes: options.inferChunkBytes ?? 256,
      inputSlots: options.inputSlots ?? 2,
      stagingBytes: options.stagingBytes ?? 1024,
      encodings: options.encodings ?? Object.values(ImageEncoding).reduce<number>((m, e) => m | (1 << e), 0),
      bootId: MockDevice.nextBootId++,
      ...options.infoOverrides,
    };
    this.slots = Array.from({ length: this.info.inputSlots }, () => ({
      bytes: new Uint8Array(this.info.stagingBytes),
      chunkLen: new Array<number>(Math.ceil(this.info.stagingBytes / this.info.chunkBytes)).fill(0),
    }));
    for (const line of options.bootLog ?? []) this.log(line);
  }

  /** Plays a reboot: slots, queue and log emptied, the boot lines written again, a new boot id. */
  reset(): void {
    for (const s of this.slots) s.chunkLen.fill(0);
    this.queue.length = 0;
    this.logKept.length = 0;
    this.nextLogSeq = 0;
    this.logUnsent = 0;
    this.info = { ...this.info, bootId: MockDevice.nextBootId++ };
    for (const line of this.options.bootLog ?? []) this.log(line);
  }

  /** This boot's id (INFO's bootId). */
  get bootId(): number {
    return this.info.bootId;
  }

  /** Starts (or, with null, stops) damaging the byte stream in both directions. */
  setByteFaults(options: ByteFaultOptions | null): void {
    this.byteFaults = options
      ? { toDevice: new ByteFaulter(options), toHost: new ByteFaulter({ ...options, seed: options.seed ^ 0x5a5a5a5a }) }
      : null;
  }

  /** Writes a line to the device log: it is sent just before the device's next answer. */
  log(line: string): void {
    this.logKept.push(line);
    if (this.logKept.length > LOG_KEPT) this.logKept.shift();
    this.nextLogSeq = (this.nextLogSeq + 1) & 0xffff;
    this.logUnsent = Math.min(this.logUnsent + 1, LOG_KEPT);
  }

  private flushLog(): void {
    for (; this.logUnsent > 0; this.logUnsent--) {
      const text = this.logKept[this.logKept.length - this.logUnsent]!;
      this.sendFrame({ type: 'log', seq: (this.nextLogSeq - this.logUnsent) & 0xffff, bootId: this.info.bootId, text });
    }
  }

  get isOpen(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    if (this.closed) throw new TransportClosedError('mock device was closed');
    if (this.open_) throw new Error('mock device is already open');
    this.open_ = true;
  }

  async close(): Promise<void> {
    this.finish(null);
  }

  /** Plays the device disappearing (cable pulled): onClose listeners get an error. */
  disconnect(error: Error = new TransportClosedError('mock device disconnected')): void {
    this.finish(error);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.open_) throw new TransportClosedError('mock device is not open');
    const wire = this.byteFaults ? this.byteFaults.toDevice.apply(bytes) : bytes;
    for (const block of this.splitter.push(wire)) this.arrive(block);
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error: Error | null) => void): () => void {
    return this.events.onClose(listener);
  }

  private finish(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.open_ = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.events.emitClose(error);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  private tryDecode(block: Uint8Array): Message | null {
    try {
      return decodeFrame(block);
    } catch {
      return null;
    }
  }

  /** One wire block from the host: fault injection on the way in, then the device. */
  private arrive(block: Uint8Array): void {
    const index = this.inFrames++;
    const fault = this.faults?.({ direction: 'to-device', index, message: this.tryDecode(block) }) ?? {};
    if (fault.drop) return;
    if (fault.replace) block = encodeFrame(fault.replace).subarray(0, -1);
    if (fault.corrupt) corruptByte(block, fault.corruptAt ?? 1 + index * 7);
    const deliver = () => {
      this.receive(block);
      if (fault.duplicate) this.receive(block);
    };
    if (fault.delayMs) this.later(fault.delayMs, deliver);
    else deliver();
  }

  private receive(block: Uint8Array): void {
    this.stats.framesReceived++;
    if (this.stats.framesReceived <= (this.options.deafFrames ?? 0)) return;
    let msg: Message;
    try {
      msg = decodeFrame(block);
    } catch (err) {
      this.stats.badFramesReceived++;
      const e = err as FrameError;
      const code = e.problem === 'version' ? ErrorCode.BAD_VERSION : e.problem === 'type' ? ErrorCode.BAD_TYPE : e.problem === 'length' ? ErrorCode.BAD_LENGTH : ErrorCode.BAD_FRAME;
      // As the firmware: a frame whose header survived is NAKed with its sequence number.
      this.enqueue(false, () => this.send({ type: 'error', seq: e.seq ?? SEQ_UNKNOWN, code, detail: 0 }));
      return;
    }
    if (msg.type === 'infer-run') {
      this.stats.infersReceived++;
      this.stats.runsByEncoding.set(msg.encoding, (this.stats.runsByEncoding.get(msg.encoding) ?? 0) + 1);
      this.stats.inferSeqCounts.set(msg.seq, (this.stats.inferSeqCounts.get(msg.seq) ?? 0) + 1);
    } else if (msg.type === 'infer-chunk') {
      this.stats.chunksReceived++;
      this.stats.chunkSeqCounts.set(msg.seq, (this.stats.chunkSeqCounts.get(msg.seq) ?? 0) + 1);
    }
    this.enqueue(msg.type === 'infer-run', () => this.handle(msg));
  }

  private enqueue(run: boolean, act: () => void): void {
    if (this.options.synchronous) {
      // In order, without timers; a microtask, so a host writing from its answer handler does not recurse.
      queueMicrotask(() => {
        if (!this.closed) act();
      });
      return;
    }
    this.queue.push({ run, act });
    this.pump();
  }

  private pump(): void {
    const queued = this.queue.length + (this.busy ? 1 : 0);
    if (queued > this.stats.maxQueued) this.stats.maxQueued = queued;
    if (this.busy || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    this.busy = true;
    this.later(job.run ? (this.options.computeMs ?? 0) : 0, () => {
      this.busy = false;
      job.act();
      this.pump();
    });
  }

  private handle(msg: Message): void {
    switch (msg.type) {
      case 'hello':
        this.logUnsent = this.logKept.length;
        this.send({ type: 'info', seq: msg.seq, info: this.info });
        return;
      case 'infer-chunk':
        this.chunk(msg);
        return;
      case 'infer-run':
        this.run(msg);
        return;
      default:
        // A device never receives INFO/RESULT/ERROR: answer as the firmware does.
        this.send({ type: 'error', seq: msg.seq, code: ErrorCode.BAD_TYPE, detail: 0 });
    }
  }

  /** INFER_CHUNK, checked as app.c's handle_chunk(). */
  private chunk(msg: InferChunkMessage): void {
    const { chunkBytes, inputSlots, stagingBytes } = this.info;
    if (msg.data.length > chunkBytes) return this.send({ type: 'error', seq: msg.seq, code: ErrorCode.BAD_LENGTH, detail: 0 });
    if (msg.slot >= inputSlots || msg.offset % chunkBytes !== 0 || msg.offset + msg.data.length > stagingBytes) {
      return this.send({ type: 'error', seq: msg.seq, code: ErrorCode.BAD_LENGTH, detail: 1 });
    }
    const slot = this.slots[msg.slot]!;
    slot.bytes.set(msg.data, msg.offset);
    slot.chunkLen[msg.offset / chunkBytes] = msg.data.length;
    this.send({ type: 'chunk-ack', seq: msg.seq });
  }

  /** INFER_RUN, checked as app.c's handle_run(). */
  private run(msg: InferRunMessage): void {
    const error = (code: number, detail: number) => this.send({ type: 'error', seq: msg.seq, code, detail });
    if (this.info.modelStatus !== 0) return error(ErrorCode.MODEL_NOT_READY, this.info.modelStatus);
    const { chunkBytes, inputSlots, stagingBytes, encodings } = this.info;
    if (msg.slot >= inputSlots || msg.length === 0 || msg.length > stagingBytes) return error(ErrorCode.BAD_LENGTH, 1);
    if (msg.encoding >= 32 || ((encodings >>> msg.encoding) & 1) === 0) return error(ErrorCode.BAD_ENCODING, msg.encoding);
    const slot = this.slots[msg.slot]!;
    const chunks = Math.ceil(msg.length / chunkBytes);
    for (let k = 0; k < chunks; k++) {
      const want = k + 1 < chunks ? chunkBytes : msg.length - k * chunkBytes;
      if (slot.chunkLen[k] !== want) return error(ErrorCode.INPUT_INCOMPLETE, Math.min(k, 255));
    }
    slot.chunkLen.fill(0);
    let input: Int8Array;
    try {
      input = decodeImage(slot.bytes.subarray(0, msg.length), msg.encoding, this.interp.inputSize);
    } catch {
      return error(ErrorCode.INPUT_MISMATCH, 1);
    }
    if (crc32(new Uint8Array(input.buffer, input.byteOffset, input.byteLength)) !== msg.crc32 >>> 0) return error(ErrorCode.INPUT_MISMATCH, 2);
    const outputs = this.options.compute ? this.options.compute(input) : this.interp.run(input).output;
    this.options.tamper?.(input, outputs);
    const cycles = this.options.cycles ? this.options.cycles(input) : defaultCycles(input);
    this.stats.resultSeqCounts.set(msg.seq, (this.stats.resultSeqCounts.get(msg.seq) ?? 0) + 1);
    this.send({ type: 'result', seq: msg.seq, top1: argmax(outputs), cycles, outputs });
  }

  /** An answer, preceded by the log lines not sent yet (as the firmware's send()). */
  private send(msg: Message): void {
    this.flushLog();
    this.sendFrame(msg);
  }

  private sendFrame(msg: Message): void {
    const index = this.outFrames++;
    const fault = this.faults?.({ direction: 'to-host', index, message: msg }) ?? {};
    if (fault.drop) return;
    const payload = encodePayload(msg);
    if (fault.corrupt) corruptByte(payload, fault.corruptAt ?? 4 + index * 13);
    const wire = framePayload(payload);
    const deliver = () => {
      this.emit(wire);
      if (fault.duplicate) this.emit(wire);
    };
    if (fault.delayMs) this.later(fault.delayMs, deliver);
    else deliver();
  }

  private emit(clean: Uint8Array): void {
    this.stats.framesSent++;
    const wire = this.byteFaults ? this.byteFaults.toHost.apply(clean) : clean;
    const step = this.options.chunkBytes ?? wire.length;
    for (let i = 0; i < wire.length; i += step) {
      const chunk = wire.slice(i, i + step);
      this.events.emitData(chunk);
    }
  }
}

/** Deterministic fake cycle count: 100000 plus a spread from the input. */
function defaultCycles(input: Int8Array): number {
  let s = 0;
  for (let i = 0; i < input.length; i += 7) s = (s + (input[i]! & 0xff)) & 0xfff;
  return 100_000 + s;
}
