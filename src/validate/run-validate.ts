/**
 * `tinyml validate`'s flow: boot the emulator (or open a board's port), handshake,
 * run the test samples through validateOnDevice, and write the report into the
 * model folder as validation.json.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { crc32, crc32Hex } from '../protocol/crc32.ts';
import { openResultsFile } from './results-file.ts';
import { ToolError, UsageError } from '../errors.ts';
import { loadFashionMnist } from '../data/fashion-mnist.ts';
import { initBackend } from '../train/backend.ts';
import { loadFloatModel, predictFloat } from '../train/float-model.ts';
import { startQemu, type QemuInstance } from '../device/qemu.ts';
import { SerialTransport } from '../device/serial-transport.ts';
import { DEFAULT_WINDOW, DeviceLink } from '../device/link.ts';
import { ImageEncoding } from '../protocol/image-codec.ts';
import { InterruptedError, TransportClosedError } from '../device/errors.ts';
import { validateOnDevice, type ValidationReport } from './validate.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { checkLinkLimits } from '../reference/limits.ts';
import { modelPaths } from '../model/model-dir.ts';
import { writeJsonAtomic } from '../util/atomic-write.ts';
import { validationDetail, type ValidationDetail } from './detail.ts';

export interface ValidateArgs {
  model: string;
  board?: string;
  port?: string;
  elf?: string;
  samples?: number;
  window?: number;
  /** How inputs travel: 'best' (the shortest encoding the device offers) or 'raw'. */
  encoding?: string;
  /** Per-request answer timeout, ms. */
  timeout?: number;
  /** How long to wait for the device to answer HELLO, ms. */
  'handshake-timeout'?: number;
  /** How long to keep reopening a lost port before giving up, seconds (0: never reconnect). */
  'reconnect-timeout'?: number;
  /** Results file (JSON lines, one per answered sample); default <model dir>/validation-results.jsonl. */
  results?: string;
  /** Continue the run recorded in the results file: only the samples not in it are sent. */
  resume?: boolean;
  json?: boolean;
  'data-dir'?: string;
}

/** Where `tinyml build --board emulator` puts the firmware of a model folder. */
export function defaultEmulatorElf(modelDir: string): string {
  return resolve('build', 'emulator', basename(resolve(modelDir)), 'firmware.elf');
}

function positive(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!Number.isInteger(x) || x < 1) throw new UsageError(`--${name} ${v} is not a positive whole number`);
  return x;
}

export interface RunValidateOptions {
  /** Progress per answered sample; the CLI draws a counter on a TTY. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Status lines ("booting QEMU ..."), for people. */
  readonly log?: (line: string) => void;
  /** Each device log line as it arrives; default `log` with a "device: " prefix. */
  readonly onDeviceLog?: (line: string) => void;
}

/**
 * Validates a model folder's int8 model on the emulator or a board on a serial
 * port, and writes the report with its per-sample detail to DIR/validation.json.
 * QEMU and the port are closed however it ends, Ctrl-C included (which ends it
 * with InterruptedError, exit code 130).
 */
export async function runValidate(args: ValidateArgs, options: RunValidateOptions = {}): Promise<ValidationReport> {
  if (!args.board === !args.port) throw new UsageError('give either --board emulator or --port PATH');
  if (args.board && args.board !== 'emulator') {
    throw new UsageError(`--board ${args.board}: only 'emulator' boots here; for a real board pass its serial port with --port`);
  }
  const samples = positive('samples', args.samples, 1000);
  const window = positive('window', args.window, DEFAULT_WINDOW);
  const encodings = inputEncodings(args.encoding);
  const timeoutMs = positive('timeout', args.timeout, 2000);
  const handshakeMs = positive('handshake-timeout', args['handshake-timeout'], 15_000);
  const reconnectS = args['reconnect-timeout'] ?? 15;
  if (!(reconnectS >= 0 && reconnectS <= 3600)) throw new UsageError(`--reconnect-timeout ${args['reconnect-timeout']} is not a number of seconds in 0..3600`);
  const log = options.log ?? (() => undefined);

  const { model, bytes: tfliteBytes } = await readInt8Model(args.model);
  checkLinkLimits(model);
  const elf = args.board ? (args.elf ? resolve(args.elf) : defaultEmulatorElf(args.model)) : null;
  if (elf && !existsSync(elf)) {
    throw new UsageError(`firmware ${elf} is missing: run tinyml build --model ${args.model} --board emulator first`);
  }

  await initBackend();
  const { tfModel, floatModel } = await loadFloatModel(args.model);
  const test = await loadFashionMnist({ dataDir: args['data-dir'], split: 'test', limit: samples });
  const floatTop1 = predictFloat(tfModel, test.images, floatModel.normalized).top1;
  tfModel.dispose();

  const resultsPath = resolve(args.results ?? join(args.model, 'validation-results.jsonl'));
  const results = openResultsFile(
    resultsPath,
    {
      modelCrc32: crc32Hex(crc32(tfliteBytes)),
      samples: test.count,
      testDataSha256: test.sha256,
      settings: { board: elf ? 'emulator' : args.port, window, timeoutMs },
    },
    args.resume ?? false,
  );
  if (results.previous.size > 0) log(`resuming: ${results.previous.size} of ${test.count} samples already answered in ${resultsPath}`);

  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let qemu: QemuInstance | null = null;
  let link: DeviceLink | null = null;
  try {
    let path: string;
    if (elf) {
      log(`booting ${elf} in QEMU`);
      qemu = await startQemu({ elf });
      path = qemu.ptyPath;
    } else {
      path = args.port!;
    }
    if (abort.signal.aborted) throw new InterruptedError('interrupted');
    const transport = new SerialTransport({ path });
    await transport.open();
    link = new DeviceLink(transport, { onLog: options.onDeviceLog ?? ((line) => log(`device: ${line}`)) });
    log(`connecting on ${path}`);
    const info = await link.handshake({ timeoutMs: handshakeMs, signal: abort.signal });
    log(`${info.board}: ${info.runtime} runtime, model CRC-32 ${info.modelCrc32.toString(16).padStart(8, '0')}; running ${test.count} samples`);
    let detail: ValidationDetail | null = null;
    const report = await validateOnDevice({
      link,
      info,
      model,
      tfliteBytes,
      images: test.images,
      labels: test.labels,
      count: test.count,
      normalized: floatModel.normalized,
      floatTop1,
      board: elf ? 'emulator' : path,
      window,
      encodings,
      timeoutMs,
      reconnect:
        reconnectS > 0
          ? {
              timeoutMs: reconnectS * 1000,
              reopen: async () => {
                if (qemu && !qemu.running) throw new ToolError('QEMU exited during validation', 'qemu-system-arm', qemu.output());
                const t = new SerialTransport({ path });
                await t.open();
                return t;
              },
              onReconnect: (n, why) => log(`reconnected to ${path} (${n}; ${why})`),
            }
          : undefined,
      previous: results.previous,
      onAnswer: (i, a) => results.append(i, a),
      onProgress: options.onProgress,
      signal: abort.signal,
      onOutputs: (outputs) => {
        detail = validationDetail({ outputs, labels: test.labels, images: test.images, inSize: model.layers[0]!.inputSize, floatTop1 });
      },
    });
    // An interrupted run's partial report is only printed: the results file holds what it got, for --resume.
    if (report.partial) return report;
    // Written whether or not it passed: a failed validation is worth a look too.
    await writeJsonAtomic(modelPaths(args.model).validation, { ...report, testDataSha256: test.sha256, detail });
    return report;
  } catch (err) {
    // The pty vanishing usually means QEMU died: say so with its output.
    if (qemu && err instanceof TransportClosedError) {
      await Promise.race([qemu.exited, new Promise((r) => setTimeout(r, 500))]);
      if (!qemu.running) throw new ToolError('QEMU exited during validation', 'qemu-system-arm', qemu.output(), { cause: err });
    }
    throw err;
  } finally {
    results.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await link?.close().catch(() => undefined);
    await qemu?.stop();
  }
}

/** --encoding as InferOptions.encodings: undefined lets the link take the shortest the device offers. */
function inputEncodings(encoding: string | undefined): number | undefined {
  if (encoding === undefined || encoding === 'best') return undefined;
  if (encoding === 'raw') return 1 << ImageEncoding.RAW;
  throw new UsageError(`--encoding ${encoding}: use best (the shortest the device offers) or raw`);
}
