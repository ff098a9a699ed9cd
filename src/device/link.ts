/**
 * A session with a device over any Transport (docs/protocol.md, "Host behaviour").
 *
 * handshake(): the device sends nothing unprompted and QEMU / USB CDC drop what it
 * sends while nobody has the port open, so HELLO is repeated (every 200 ms by
 * default) until an INFO answers one of them.
 *
 * infer(): each input, encoded in the shortest encoding the device offers
 * (encodeForLink), goes into a free device slot as INFER_CHUNKs of INFO's chunk
 * size followed at once by its INFER_RUN; with two slots the next input streams
 * while the device runs this one, and at most `window` frames are unanswered.
 * A fault costs one chunk: a chunk the device NAKs (BAD_FRAME naming it) is sent
 * again at once, with its RUN after it; a RUN that finds a chunk missing
 * (INPUT_INCOMPLETE) gets the chunks not acknowledged and is sent again; one
 * whose chunks decode to another input (INPUT_MISMATCH: its CRC-32 differs, a
 * stale chunk) gets every chunk again. A RUN whose answer is overtaken by three
 * later answers, or a link silent for `timeoutMs`, is a loss.
 * Answers to sequence numbers not on their way (duplicates, late answers to
 * resent requests, leftovers from HELLO) are dropped, and a sample's first
 * RESULT is the one kept, so each sample is counted exactly once.
 *
 * Sequence numbers run 0..0xFFFE and wrap; 0xFFFF is reserved for BAD_FRAME.
 *
 * inferReconnecting(): infer() that survives a port that errors or disappears
 * (a pulled cable, a board that resets its USB): it keeps reopening the same
 * path until `timeoutMs`, says HELLO again, checks that INFO names the same
 * model CRC, and runs the samples not answered yet. Each sample is still
 * counted once: answers are kept as they arrive (onAnswer), not at the end.
 *
 * LOG frames (the device log) may arrive at any time, in any exchange or none:
 * they never answer a request. Each line is kept once in `deviceLog` and passed
 * to `onLog`: the device replays the lines it kept after every HELLO, and its
 * line numbers tell a replayed line (already had) from a new one; a line with
 * another boot id comes from a device that restarted and numbers from 0 again.
 */
import {
  decodeFrame,
  describeErrorCode,
  encodeFrame,
  ErrorCode,
  int8Bytes,
  FrameError,
  MessageType,
  SEQ_UNKNOWN,
  type DeviceInfo,
  type LogMessage,
  type Message,
  type ResultMessage,
} from '../protocol/frames.ts';
import { FrameSplitter } from '../protocol/frame-parser.ts';
import { crc32 } from '../protocol/crc32.ts';
import { encodeForLink } from '../protocol/image-codec.ts';
import { randomInt } from 'node:crypto';
import {
  DeviceModelError,
  DeviceReportedError,
  DeviceTimeoutError,
  HandshakeTimeoutError,
  InterruptedError,
  SerialPortError,
  TransportClosedError,
} from './errors.ts';
import type { Transport } from './transport.ts';

export interface HandshakeOptions {
  /** Give up after this long; default 10 s. */
  readonly timeoutMs?: number;
  /** HELLO repeat interval; default 200 ms. */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
}

export interface InferOptions {
  /** Frames (chunks and runs) unanswered at most; default 16. */
  readonly window?: number;
  /** Time a request may wait for its answer before it is sent again; default 2000 ms. */
  readonly timeoutMs?: number;
  /** Resends allowed per sample for a lost request or answer (timeout, overtaken) before infer() fails; default 5. */
  readonly retries?: number;
  /**
   * Resends allowed per sample for a damaged request or answer that names it,
   * or a run that found its input incomplete or different (each proves the
   * device alive and reading, so the budget is larger); default 50.
   */
  readonly nakRetries?: number;
  /** Called after each sample is answered, with (answered, total). */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called with each sample's answer as it arrives (index into `inputs`), before onProgress. */
  readonly onAnswer?: (index: number, answer: ResultMessage) => void;
  /**
   * Input encodings the host may use, bit e for encoding e (ImageEncoding), of
   * those the device offers; default all. Raw is always allowed.
   */
  readonly encodings?: number;
  readonly signal?: AbortSignal;
}

export interface ReconnectOptions {
  /** Opens the same port again and returns it open (throws while it cannot). */
  readonly reopen: () => Promise<Transport>;
  /** Give up reopening after this long; default 15 s. */
  readonly timeoutMs?: number;
  /** Pause between attempts; default 250 ms. */
  readonly intervalMs?: number;
  /** Told after each successful reconnect, with why the link was lost. */
  readonly onReconnect?: (count: number, why: string) => void;
}

export interface ReconnectingInferOptions extends InferOptions {
  /** Without it, a lost port ends the run (as infer()). */
  readonly reconnect?: ReconnectOptions;
}

export interface InferResult {
  readonly count: number;
  /** Outputs per sample (INFO's output count). */
  readonly width: number;
  /** `count` rows of `width` int8 outputs, in sample order. */
  readonly outputs: Int8Array;
  /** The device's top-1 field per sample. */
  readonly top1: Uint8Array;
  /** Cycles per sample, in INFO's cycle unit. */
  readonly cycles: Uint32Array;
  /** Wall-clock time from the first request to the last answer. */
  readonly wallMs: number;
  /** Requests sent again (timeouts, overtaken, NAKs and damaged answers). */
  readonly resends: number;
  /** Of those, the ones for a NAK or a damaged answer naming the request. */
  readonly nakResends: number;
  /** Answers dropped because their sequence number was not outstanding. */
  readonly staleAnswers: number;
  /** Times the port was lost and opened again (inferReconnecting). */
  readonly reconnects?: number;
}

/** Counters over the link's lifetime. */
export interface LinkStats {
  framesSent: number;
  framesReceived: number;
  /** Bytes received, frames or not. */
  bytesReceived: number;
  /** Received blocks that failed COBS, CRC or a length check. */
  badFrames: number;
  /** ERROR BAD_FRAME answers (the device could not read a request). */
  deviceBadFrames: number;
  /** Of those, the ones that could not name the request (its header was damaged). */
  deviceBadFramesUnnamed: number;
  /** Device log lines never received (gaps in their line numbers: overwritten on the device, or lost on the link). */
  logLinesLost: number;
}

export interface DeviceLinkOptions {
  /** Called with each new device log line, as it arrives. */
  readonly onLog?: (line: string) => void;
}

/** Answers to later requests that may overtake a run's answer before it is presumed lost (see overtake()). */
const OVERTAKEN_AFTER = 2;

/** Frames (input chunks and runs) in flight by default: enough to keep both input slots streaming. */
export const DEFAULT_WINDOW = 16;

const DEFAULTS = { window: DEFAULT_WINDOW, timeoutMs: 2000, retries: 5, nakRetries: 50, handshakeMs: 10_000, helloMs: 200 } as const;

export class DeviceLink {
  readonly stats: LinkStats = { framesSent: 0, framesReceived: 0, bytesReceived: 0, badFrames: 0, deviceBadFrames: 0, deviceBadFramesUnnamed: 0, logLinesLost: 0 };
  /** INFO from the last handshake. */
  info: DeviceInfo | null = null;
  /** The device log lines received over this link, each once, in order. */
  readonly deviceLog: string[] = [];
  private lastLogSeq: number | null = null;
  private logBootId: number | null = null;
  private readonly splitter = new FrameSplitter();
  private seq = 0;
  private handler: ((msg: Message) => void) | null = null;
  private problemHandler: ((err: FrameError) => void) | null = null;
  private closeHandler: ((err: Error) => void) | null = null;
  private closedError: Error | null = null;
  private unsubscribe: (() => void)[] = [];
  private transport_: Transport;

  constructor(
    transport: Transport,
    private readonly options: DeviceLinkOptions = {},
  ) {
    this.transport_ = transport;
    this.subscribe(transport);
  }

  get transport(): Transport {
    return this.transport_;
  }

  private subscribe(transport: Transport): void {
    this.unsubscribe = [
      transport.onData((chunk) => this.onData(chunk)),
      transport.onClose((err) => {
        this.closedError = err
          ? new TransportClosedError(`lost the device on ${transport.description}: ${err.message}`, { cause: err })
          : new TransportClosedError(`${transport.description} was closed`);
        this.closeHandler?.(this.closedError);
      }),
    ];
  }

  /** Carries on over another transport (the same port opened again); the old one is closed. */
  async attach(transport: Transport): Promise<void> {
    if (this.handler) throw new Error('DeviceLink.attach: an exchange is running');
    for (const u of this.unsubscribe) u();
    await this.transport_.close().catch(() => undefined);
    this.transport_ = transport;
    this.closedError = null;
    this.splitter.reset();
    this.subscribe(transport);
  }

  /** The next request sequence number: 0..0xFFFE, wrapping, never 0xFFFF. */
  nextSeq(): number {
    const s = this.seq;
    this.seq = s + 1 >= SEQ_UNKNOWN ? 0 : s + 1;
    return s;
  }

  /** Starts the sequence numbers elsewhere (tests of the wrap-around). */
  setNextSeq(seq: number): void {
    if (!Number.isInteger(seq) || seq < 0 || seq >= SEQ_UNKNOWN) throw new RangeError(`sequence number ${seq} not in 0..0xFFFE`);
    this.seq = seq;
  }

  private onData(chunk: Uint8Array): void {
    this.stats.bytesReceived += chunk.length;
    for (const block of this.splitter.push(chunk)) {
      let msg: Message;
      try {
        msg = decodeFrame(block);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        this.stats.badFrames++;
        this.problemHandler?.(err);
        continue;
      }
      this.stats.framesReceived++;
      if (msg.type === 'log') this.onLogLine(msg);
      else this.handler?.(msg);
    }
  }

  /**
   * Keeps a line whose number follows the last one kept (within half the u16
   * range); a replayed one is dropped. Line numbers count from 0 at the device's
   * boot: a line from another boot id (the device restarted) starts the count again.
   */
  private onLogLine(msg: LogMessage): void {
    if (msg.bootId !== this.logBootId) {
      this.logBootId = msg.bootId;
      this.lastLogSeq = null;
    }
    const ahead = this.lastLogSeq === null ? msg.seq + 1 : (msg.seq - this.lastLogSeq) & 0xffff;
    if (ahead === 0 || ahead >= 0x8000) return;
    this.stats.logLinesLost += ahead - 1;
    this.lastLogSeq = msg.seq;
    this.deviceLog.push(msg.text);
    this.options.onLog?.(msg.text);
  }

  /**
   * Runs one exchange: installs the handlers, and guarantees that timers and
   * handlers are removed however it ends (answer, error, close, abort).
   */
  private session<T>(
    signal: AbortSignal | undefined,
    body: (ctx: { resolve: (v: T) => void; fail: (e: Error) => void; timers: Set<NodeJS.Timeout>; ended: () => boolean }) => void,
  ): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.handler) return Promise.reject(new Error('DeviceLink: one exchange at a time'));
    return new Promise<T>((resolvePromise, rejectPromise) => {
      const timers = new Set<NodeJS.Timeout>();
      let settled = false;
      const cleanup = () => {
        settled = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        this.handler = null;
        this.problemHandler = null;
        this.closeHandler = null;
        signal?.removeEventListener('abort', onAbort);
      };
      const resolve = (v: T) => {
        if (settled) return;
        cleanup();
        resolvePromise(v);
      };
      const fail = (e: Error) => {
        if (settled) return;
        cleanup();
        rejectPromise(e);
      };
      const onAbort = () => fail(new InterruptedError('interrupted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
      this.closeHandler = fail;
      body({ resolve, fail, timers, ended: () => settled });
    });
  }

  /**
   * Sends HELLO every `intervalMs` until INFO answers one of them.
   * @throws HandshakeTimeoutError after `timeoutMs` without INFO
   */
  handshake(options: HandshakeOptions = {}): Promise<DeviceInfo> {
    const timeoutMs = options.timeoutMs ?? DEFAULTS.handshakeMs;
    const intervalMs = options.intervalMs ?? DEFAULTS.helloMs;
    const where = this.transport.description;
    return this.session<DeviceInfo>(options.signal, ({ resolve, fail, timers }) => {
      const sent = new Set<number>();
      let hellos = 0;
      let heard = '';
      const bytesBefore = this.stats.bytesReceived;
      const hello = () => {
        const seq = this.nextSeq();
        sent.add(seq);
        hellos++;
        // A leading 0x00 ends whatever partial frame the device may hold from an earlier session.
        const frame = encodeFrame({ type: 'hello', seq, nonce: randomInt(0x1_0000_0000) });
        const wire = hellos === 1 ? Uint8Array.of(0, ...frame) : frame;
        this.stats.framesSent++;
        this.transport.write(wire).catch(fail);
        const t = setTimeout(() => {
          timers.delete(t);
          hello();
        }, intervalMs);
        timers.add(t);
      };
      this.handler = (msg) => {
        if (msg.type === 'info' && sent.has(msg.seq)) {
          this.info = msg.info;
          resolve(msg.info);
        } else if (msg.type === 'error' && msg.code !== ErrorCode.BAD_FRAME) {
          heard = `; the device answered ERROR ${describeErrorCode(msg.code)}`;
        }
      };
      this.problemHandler = (err) => {
        heard = `; it sent frames the host cannot read (${err.message})`;
      };
      const deadline = setTimeout(() => {
        const bytes = this.stats.bytesReceived - bytesBefore;
        if (!heard) {
          heard =
            bytes === 0
              ? '; the device sent nothing'
              : `; it sent ${bytes} bytes but no frame (a serial console or other firmware, or the wrong baud rate)`;
        }
        fail(
          new HandshakeTimeoutError(
            `no INFO from the device on ${where} after ${hellos} HELLOs in ${timeoutMs} ms${heard}: ` +
              'check that the firmware is running on this port (reset the board, or flash it again with tinyml flash)',
          ),
        );
      }, timeoutMs);
      timers.add(deadline);
      hello();
    });
  }

  /**
   * Runs every input on the device and returns the outputs in input order.
   * @param inputs one int8 tensor per sample, each INFO's `inputBytes` long
   * @throws DeviceTimeoutError naming the sample when one exhausts its retries;
   *         DeviceReportedError when the device answers with an ERROR the link
   *         does not recover from; TransportClosedError; InterruptedError on abort
   */
  infer(inputs: readonly Int8Array[], options: InferOptions = {}): Promise<InferResult> {
    const info = this.info;
    if (!info) return Promise.reject(new Error('DeviceLink.infer: call handshake() first'));
    const window = options.window ?? DEFAULTS.window;
    const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    const retries = options.retries ?? DEFAULTS.retries;
    const nakRetries = options.nakRetries ?? DEFAULTS.nakRetries;
    if (!Number.isInteger(window) || window < 1 || window > 0x7fff) throw new RangeError(`window ${window} must be a whole number in 1..32767`);
    if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries ${retries} must be a whole number >= 0`);
    if (!Number.isInteger(nakRetries) || nakRetries < 0) throw new RangeError(`nakRetries ${nakRetries} must be a whole number >= 0`);
    const count = inputs.length;
    const width = info.outputCount;
    const outputs = new Int8Array(count * width);
    const top1 = new Uint8Array(count);
    const cycles = new Uint32Array(count);
    const where = this.transport.description;

    return this.session<InferResult>(options.signal, ({ resolve, fail, timers, ended }) => {
      /** One frame of a job: chunk k (k >= 0) or the job's INFER_RUN (k = -1). */
      interface Request {
        readonly seq: number;
        readonly frame: Uint8Array;
        readonly job: Job;
        readonly chunk: number;
        /** Transmission order of its latest sending (a serial device answers in this order); -1 before the first. */
        order: number;
      }
      /** One sample on its way: its chunks and INFER_RUN, in one device slot. */
      interface Job {
        readonly index: number;
        readonly slot: number;
        readonly chunks: Request[];
        readonly run: Request;
        /** CHUNK_ACK received for chunk k since it was last (re)sent in full. */
        readonly acked: boolean[];
        /** INFER_RUN transmissions whose answer is still due: an INCOMPLETE to one of several is stale. */
        runsDue: number;
        /** Answers to later requests that arrived while the run's answer is due. */
        overtaken: number;
        attempts: number;
        naks: number;
        losses: number;
      }
      const bySeq = new Map<number, Request>();
      const active = new Set<Job>();
      const freeSlots = Array.from({ length: info.inputSlots }, (_, i) => info.inputSlots - 1 - i);
      const queue: Request[] = [];
      let next = 0;
      let done = 0;
      let resends = 0;
      let nakResends = 0;
      let stale = 0;
      let transmissions = 0;
      const started = performance.now();
      let lastProgress = started;

      const outstanding = () => {
        let n = 0;
        for (const j of active) {
          for (const c of j.chunks) if (c.order >= 0 && !j.acked[c.chunk]) n++;
          n += j.runsDue;
        }
        return n;
      };
      const transmit = (r: Request) => {
        if (ended()) return;
        this.stats.framesSent++;
        r.order = transmissions++;
        if (r.chunk < 0) {
          r.job.runsDue++;
          r.job.overtaken = 0;
        }
        this.transport.write(r.frame).catch(fail);
      };
      /** Charges one attempt to the job; false (and the run failed) when its budget is spent. */
      const charge = (job: Job, why: string, named: boolean): boolean => {
        if (named ? job.naks >= nakRetries : job.losses >= retries) {
          const advice = named
            ? 'the link damages most frames: check the cable and the port'
            : 'the link is losing frames or the device hangs: reset it, check the cable, or raise --timeout';
          fail(
            new DeviceTimeoutError(
              `sample ${job.index} (sequence ${job.run.seq}) got no valid answer from ${where} after ${job.attempts} attempts ` +
                `(${job.losses} lost, ${job.naks} damaged; last: ${why}); ${advice}`,
              job.index,
              job.run.seq,
              job.attempts,
            ),
          );
          return false;
        }
        job.attempts++;
        if (named) job.naks++;
        else job.losses++;
        return true;
      };
      const resendFrame = (r: Request, named: boolean) => {
        resends++;
        if (named) nakResends++;
        transmit(r);
      };
      /** One chunk again, and the run after it when the run had already gone (it will find the chunk missing). */
      const resendChunk = (r: Request, why: string) => {
        const job = r.job;
        if (!charge(job, why, true)) return;
        resendFrame(r, true);
        if (job.run.order >= 0) resendFrame(job.run, true);
      };
      /** The chunks not acknowledged (all of them with `all`: the device emptied the slot), then the run. */
      const resendJob = (job: Job, why: string, named: boolean, all: boolean) => {
        if (!charge(job, why, named)) return;
        if (!named) job.runsDue = 0; // answers presumed lost
        for (const c of job.chunks) {
          if (all) job.acked[c.chunk] = false;
          if (c.order >= 0 && !job.acked[c.chunk]) resendFrame(c, named);
        }
        if (job.run.order >= 0) resendFrame(job.run, named);
      };
      const finish = (job: Job) => {
        active.delete(job);
        bySeq.delete(job.run.seq);
        for (const c of job.chunks) bySeq.delete(c.seq);
        freeSlots.push(job.slot);
      };
      const start = (): boolean => {
        const index = next;
        const input = inputs[index]!;
        if (input.length !== info.inputBytes) {
          fail(new RangeError(`sample ${index} has ${input.length} input bytes, the device expects ${info.inputBytes}`));
          return false;
        }
        const { encoding, bytes } = encodeForLink(input, info.encodings & (options.encodings ?? ~0));
        if (bytes.length > info.stagingBytes) {
          fail(new RangeError(`sample ${index} is ${bytes.length} bytes once encoded, the device holds at most ${info.stagingBytes}`));
          return false;
        }
        next++;
        const slot = freeSlots.pop()!;
        const chunks: Request[] = [];
        const job: Job = {
          index,
          slot,
          chunks,
          run: null as unknown as Request,
          acked: [],
          runsDue: 0,
          overtaken: 0,
          attempts: 1,
          naks: 0,
          losses: 0,
        };
        for (let offset = 0, k = 0; offset < bytes.length; offset += info.chunkBytes, k++) {
          const seq = this.nextSeq();
          const data = bytes.subarray(offset, offset + info.chunkBytes);
          const r: Request = { seq, frame: encodeFrame({ type: 'infer-chunk', seq, slot, offset, data }), job, chunk: k, order: -1 };
          chunks.push(r);
          job.acked.push(false);
          bySeq.set(seq, r);
          queue.push(r);
        }
        const seq = this.nextSeq();
        const crc = crc32(int8Bytes(input));
        const run: Request = { seq, frame: encodeFrame({ type: 'infer-run', seq, slot, encoding, length: bytes.length, crc32: crc }), job, chunk: -1, order: -1 };
        (job as { run: Request }).run = run;
        bySeq.set(seq, run);
        queue.push(run);
        active.add(job);
        return true;
      };
      const pump = () => {
        for (;;) {
          if (queue.length === 0) {
            if (freeSlots.length === 0 || next >= count || !start()) break;
          }
          if (outstanding() >= window) break;
          transmit(queue.shift()!);
        }
        if (done === count && !ended()) {
          resolve({ count, width, outputs, top1, cycles, wallMs: performance.now() - started, resends, nakResends, staleAnswers: stale });
        }
      };
      /**
       * A run whose answer later answers overtook was lost, or its answer was: send it again now. A serial
       * device answers in order, so one overtaking answer is proof; OVERTAKEN_AFTER of them leave room for
       * a transport that reorders a little, and still act long before the other slot runs dry.
       */
      const overtakenAfter = Math.min(window, OVERTAKEN_AFTER);
      const overtake = (order: number) => {
        for (const job of [...active]) {
          if (job.runsDue > 0 && job.run.order < order && ++job.overtaken > overtakenAfter && active.has(job)) {
            resendJob(job, `overtaken by ${overtakenAfter + 1} later answers`, false, false);
          }
        }
      };
      const accept = (msg: ResultMessage, job: Job) => {
        if (msg.outputs.length !== width) {
          fail(new DeviceReportedError(`the device answered sample ${job.index} with ${msg.outputs.length} outputs, but INFO announced ${width}`, 0, 0, job.index));
          return;
        }
        outputs.set(msg.outputs, job.index * width);
        top1[job.index] = msg.top1;
        cycles[job.index] = msg.cycles;
        done++;
        options.onAnswer?.(job.index, msg);
        options.onProgress?.(done, count);
      };
      const refuse = (msg: { code: number; detail: number }, job: Job) =>
        fail(
          new DeviceReportedError(
            `the device refused sample ${job.index}: ERROR ${describeErrorCode(msg.code)}, detail ${describeErrorCode(msg.detail)}`,
            msg.code,
            msg.detail,
            job.index,
          ),
        );

      this.handler = (msg) => {
        const r = bySeq.get(msg.seq);
        if (msg.type === 'error' && msg.code === ErrorCode.BAD_FRAME) {
          this.stats.deviceBadFrames++;
          if (r) {
            lastProgress = performance.now();
            if (r.chunk >= 0) resendChunk(r, 'the device reported BAD_FRAME');
            else {
              r.job.runsDue = Math.max(0, r.job.runsDue - 1);
              if (charge(r.job, 'the device reported BAD_FRAME', true)) resendFrame(r, true);
            }
          } else if (msg.seq === SEQ_UNKNOWN) this.stats.deviceBadFramesUnnamed++;
          return;
        }
        if (!r || (msg.type !== 'result' && msg.type !== 'error' && msg.type !== 'chunk-ack')) {
          stale++;
          return;
        }
        const job = r.job;
        lastProgress = performance.now();
        if (r.chunk >= 0) {
          if (msg.type !== 'chunk-ack') {
            if (msg.type === 'error') refuse(msg, job);
            else stale++;
            return;
          }
          if (job.acked[r.chunk]) stale++;
          job.acked[r.chunk] = true;
          overtake(r.order);
          pump();
          return;
        }
        if (msg.type === 'chunk-ack') {
          stale++;
          return;
        }
        job.runsDue = Math.max(0, job.runsDue - 1);
        if (msg.type === 'error') {
          if (msg.code !== ErrorCode.INPUT_INCOMPLETE && msg.code !== ErrorCode.INPUT_MISMATCH) {
            refuse(msg, job);
            return;
          }
          // An answer to an earlier sending of this run: the latest one is still on its way.
          if (job.runsDue > 0) return;
          if (msg.code === ErrorCode.INPUT_INCOMPLETE) {
            // The device names the first chunk it lacks; if the host thought it had them all, the slot was emptied (a reset).
            const k = msg.detail;
            const all = job.acked.every(Boolean);
            if (k < job.acked.length) job.acked[k] = false;
            resendJob(job, `chunk ${k} did not arrive`, true, all);
          } else {
            resendJob(job, 'its chunks did not decode to the input', true, true);
          }
          return;
        }
        finish(job);
        overtake(r.order);
        accept(msg, job);
        pump();
      };
      // An answer damaged after its header still names its request.
      this.problemHandler = (err) => {
        if (err.seq === null) return;
        const r = bySeq.get(err.seq);
        if (!r) return;
        lastProgress = performance.now();
        if (r.chunk >= 0) {
          // A damaged CHUNK_ACK: the chunk most likely arrived; the run will say if not. A damaged ERROR was its NAK.
          if (err.typeCode === MessageType.ERROR) resendChunk(r, `its answer arrived damaged (${err.message})`);
          return;
        }
        if (err.typeCode !== MessageType.RESULT && err.typeCode !== MessageType.ERROR) return;
        r.job.runsDue = Math.max(0, r.job.runsDue - 1);
        if (r.job.runsDue > 0) return;
        // A RESULT means the device emptied the slot: every chunk again.
        resendJob(r.job, `its answer arrived damaged (${err.message})`, true, err.typeCode === MessageType.RESULT);
      };
      // The last resort: no answer at all for timeoutMs (a lost frame nothing overtook, a device that hung).
      const watchdog = (ms: number) => {
        const t = setTimeout(() => {
          timers.delete(t);
          const quiet = performance.now() - lastProgress;
          if (quiet >= timeoutMs) {
            lastProgress = performance.now();
            for (const job of [...active]) if (active.has(job)) resendJob(job, `no answer within ${timeoutMs} ms`, false, false);
            if (ended()) return;
            watchdog(timeoutMs);
          } else watchdog(timeoutMs - quiet);
        }, ms);
        timers.add(t);
      };
      watchdog(timeoutMs);
      pump();
    });
  }

  /**
   * infer(), reopening the port when it is lost (see the file comment).
   * @throws what infer() throws; TransportClosedError when the port stays away
   *         past the reconnect timeout; DeviceModelError when the device that
   *         comes back runs another model
   */
  async inferReconnecting(inputs: readonly Int8Array[], options: ReconnectingInferOptions = {}): Promise<InferResult> {
    const rc = options.reconnect;
    if (!rc) return this.infer(inputs, options);
    const info = this.info;
    if (!info) throw new Error('DeviceLink.inferReconnecting: call handshake() first');
    const count = inputs.length;
    const width = info.outputCount;
    const outputs = new Int8Array(count * width);
    const top1 = new Uint8Array(count);
    const cycles = new Uint32Array(count);
    const answered = new Uint8Array(count);
    let done = 0;
    let resends = 0;
    let nakResends = 0;
    let stale = 0;
    let reconnects = 0;
    const started = performance.now();
    for (;;) {
      const todo: number[] = [];
      for (let i = 0; i < count; i++) if (!answered[i]) todo.push(i);
      if (todo.length === 0) break;
      try {
        const r = await this.infer(
          todo.map((i) => inputs[i]!),
          {
            ...options,
            onAnswer: (k, msg) => {
              const i = todo[k]!;
              outputs.set(msg.outputs, i * width);
              top1[i] = msg.top1;
              cycles[i] = msg.cycles;
              answered[i] = 1;
              done++;
              options.onAnswer?.(i, msg);
              options.onProgress?.(done, count);
            },
            onProgress: undefined,
          },
        );
        resends += r.resends;
        nakResends += r.nakResends;
        stale += r.staleAnswers;
        break;
      } catch (err) {
        if (!(err instanceof TransportClosedError || err instanceof SerialPortError)) throw err;
        await this.reconnect(rc, info.modelCrc32, err, options.signal);
        reconnects++;
        rc.onReconnect?.(reconnects, err.message);
      }
    }
    return { count, width, outputs, top1, cycles, wallMs: performance.now() - started, resends, nakResends, staleAnswers: stale, reconnects };
  }

  private async reconnect(rc: ReconnectOptions, modelCrc32: number, lost: Error, signal: AbortSignal | undefined): Promise<void> {
    const timeoutMs = rc.timeoutMs ?? 15_000;
    const deadline = performance.now() + timeoutMs;
    let last: unknown = lost;
    const where = this.transport_.description;
    await this.transport_.close().catch(() => undefined);
    while (performance.now() < deadline) {
      if (signal?.aborted) throw new InterruptedError('interrupted');
      try {
        const t = await rc.reopen();
        await this.attach(t);
        const info = await this.handshake({ timeoutMs: Math.max(500, Math.min(3000, deadline - performance.now())), signal });
        if (info.modelCrc32 !== modelCrc32) {
          throw new DeviceModelError(
            `the device that came back on ${where} runs another model (CRC-32 ${info.modelCrc32.toString(16).padStart(8, '0')}, ` +
              `was ${modelCrc32.toString(16).padStart(8, '0')}): flash it again with tinyml flash`,
          );
        }
        return;
      } catch (err) {
        // Only "not there (yet)" is worth another try; anything else (another model, Ctrl-C, the emulator gone) ends it.
        if (!(err instanceof TransportClosedError || err instanceof SerialPortError || err instanceof HandshakeTimeoutError)) throw err;
        last = err;
        await this.transport_.close().catch(() => undefined);
        await new Promise((r) => setTimeout(r, rc.intervalMs ?? 250));
      }
    }
    const why = last instanceof Error ? last.message : String(last);
    throw new TransportClosedError(
      `lost the device on ${where} and could not reconnect within ${timeoutMs} ms (last: ${why}): check the cable, ` +
        'or raise --reconnect-timeout',
      { cause: last },
    );
  }

  /** Stops listening and closes the transport. */
  async close(): Promise<void> {
    for (const u of this.unsubscribe) u();
    await this.transport_.close();
  }
}
