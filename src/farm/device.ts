/**
 * The board a worker drives, and "flashing" it only when a job's model differs
 * from what it runs:
 *  - emulator: the ELF for (model SHA-256, runtime) is built once into the cache
 *    folder (a lock folder keeps concurrent workers on one host from building
 *    it twice), and QEMU is booted on it; the same QEMU serves every job of
 *    that model;
 *  - nano33ble: the board's INFO says which model it runs (CRC-32 of the
 *    .tflite); only when that differs is the sketch built and uploaded with
 *    arduino-cli, as `tinyml deploy` does.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildEmulatorFirmware } from '../firmware-build/build-emulator.ts';
import { arenaBytesFor, type RuntimeKind } from '../firmware-build/budget.ts';
import { tflmBuildInputs } from '../firmware-build/tflm-tree.ts';
import { renderCArray } from '../export/c-array.ts';
import { buildFirmware } from '../deploy/build.ts';
import { flashArduino } from '../deploy/flash.ts';
import { startQemu, type QemuInstance } from '../device/qemu.ts';
import { SerialTransport } from '../device/serial-transport.ts';
import { DeviceLink } from '../device/link.ts';
import { crc32 } from '../protocol/crc32.ts';
import type { DeviceInfo } from '../protocol/frames.ts';
import type { Int8Model } from '../model/types.ts';
import type { FarmBoard } from './queues.ts';

/** Flash and RAM the firmware takes, as its build measured them. */
export interface FirmwareSizes {
  readonly flash: { readonly used: number; readonly capacity: number };
  readonly ram: { readonly used: number; readonly capacity: number };
}

export interface LoadedBoard {
  readonly link: DeviceLink;
  readonly info: DeviceInfo;
  /** Whether this call flashed (built and booted, or uploaded). */
  readonly flashed: boolean;
  /** The sizes of the firmware the board runs, when this worker built it; null when the board already ran the model. */
  readonly firmware: FirmwareSizes | null;
}

export interface BoardDeviceOptions {
  readonly board: FarmBoard;
  readonly runtime: RuntimeKind;
  /** Serial port of a nano33ble. */
  readonly port?: string;
  /** Where firmware and model folders are cached; default ./build/farm. */
  readonly cacheDir?: string;
  readonly tflmDir?: string;
  readonly log?: (line: string) => void;
  readonly handshakeMs?: number;
}

export class BoardDevice {
  private qemu: QemuInstance | null = null;
  private link: DeviceLink | null = null;
  private info: DeviceInfo | null = null;
  private sha: string | null = null;
  private firmware: FirmwareSizes | null = null;
  private readonly cacheDir: string;
  private readonly log: (line: string) => void;
  private port: string | undefined;

  constructor(readonly options: BoardDeviceOptions) {
    this.cacheDir = resolve(options.cacheDir ?? join('build', 'farm'));
    this.log = options.log ?? (() => undefined);
    this.port = options.port;
  }

  /** Where the board is: its serial port, or the emulator's pty. */
  get where(): string {
    return this.options.board === 'emulator' ? (this.qemu?.ptyPath ?? 'emulator') : (this.port ?? '');
  }

  /** CRC-32 of the model the board runs, as INFO reported it; null before the first job. */
  get modelCrc32(): number | null {
    return this.info?.modelCrc32 ?? null;
  }

  /** Makes the board run `bytes` (SHA-256 `sha`) and returns a link that has done its handshake. */
  async load(sha: string, bytes: Uint8Array, model: Int8Model, signal?: AbortSignal): Promise<LoadedBoard> {
    if (this.link && this.info && this.sha === sha && (this.options.board !== 'emulator' || this.qemu?.running)) {
      return { link: this.link, info: this.info, flashed: false, firmware: this.firmware };
    }
    await this.close();
    if (this.options.board === 'emulator') {
      const { elf, sizes } = await this.emulatorElf(sha, bytes, model);
      this.log(`booting ${elf} in QEMU`);
      this.qemu = await startQemu({ elf });
      await this.connect(this.qemu.ptyPath, signal);
      this.sha = sha;
      this.firmware = sizes;
      return { link: this.link!, info: this.info!, flashed: true, firmware: sizes };
    }
    await this.connect(this.port!, signal);
    let flashed = false;
    if (this.info!.modelCrc32 !== crc32(bytes)) {
      await this.close();
      const modelDir = await this.modelFolder(sha, bytes, model);
      this.log(`the board on ${this.port} runs another model: building and uploading ${sha.slice(0, 12)}`);
      const built = await buildFirmware({ modelDir, board: 'nano33ble', runtime: this.options.runtime, log: this.log });
      this.port = await flashArduino({ modelDir, runtime: this.options.runtime, port: this.port, log: this.log });
      await this.connect(this.port, signal);
      flashed = true;
      this.firmware = built.flash && built.ram ? { flash: built.flash, ram: built.ram } : null;
    }
    this.sha = sha;
    return { link: this.link!, info: this.info!, flashed, firmware: this.firmware };
  }

  /** Forgets the board's state (after a link failure): the next job reconnects, reboots or reflashes. */
  async reset(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    const link = this.link;
    const qemu = this.qemu;
    this.link = null;
    this.info = null;
    this.qemu = null;
    this.sha = null;
    this.firmware = null;
    await link?.close().catch(() => undefined);
    await qemu?.stop();
  }

  private async connect(path: string, signal?: AbortSignal): Promise<void> {
    const transport = new SerialTransport({ path });
    await transport.open();
    this.link = new DeviceLink(transport);
    this.info = await this.link.handshake({ timeoutMs: this.options.handshakeMs ?? 15_000, signal });
  }

  /** A model folder (the .tflite and its C array) for arduino-cli's sketch, written once per hash. */
  private async modelFolder(sha: string, bytes: Uint8Array, model: Int8Model): Promise<string> {
    const dir = join(this.cacheDir, 'models', sha);
    if (existsSync(join(dir, 'model_data.cc'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    await mkdir(tmp, { recursive: true });
    const { header, source } = renderCArray(bytes, model, {});
    await writeFile(join(tmp, 'model_int8.tflite'), bytes);
    await writeFile(join(tmp, 'model_data.h'), header);
    await writeFile(join(tmp, 'model_data.cc'), source);
    await rename(tmp, dir).catch(async () => rm(tmp, { recursive: true, force: true }));
    return dir;
  }

  /** The emulator ELF of (sha, runtime) and its sizes, built at most once per host. */
  private async emulatorElf(sha: string, bytes: Uint8Array, model: Int8Model): Promise<{ elf: string; sizes: FirmwareSizes }> {
    const runtime = this.options.runtime;
    const outDir = join(this.cacheDir, 'emulator', `${sha}-${runtime}`);
    // Written last: its presence means the ELF is complete.
    const done = join(outDir, 'built.json');
    const elf = join(outDir, 'firmware.elf');
    const read = async () => ({ elf, sizes: JSON.parse(await readFile(done, 'utf8')) as FirmwareSizes });
    if (existsSync(done)) return read();
    await mkdir(join(this.cacheDir, 'emulator'), { recursive: true });
    const lock = `${outDir}.lock`;
    await acquireLock(lock);
    try {
      if (existsSync(done)) return read();
      this.log(`building the ${runtime} emulator firmware for model ${sha.slice(0, 12)}`);
      const extra = runtime === 'tflm' ? tflmBuildInputs(this.options.tflmDir!) : undefined;
      const fw = await buildEmulatorFirmware({ tflite: bytes, outDir, runtime, extra, arenaBytes: arenaBytesFor(model, runtime) });
      const sizes: FirmwareSizes = { flash: { used: fw.flash.used, capacity: fw.flash.capacity }, ram: { used: fw.ram.used, capacity: fw.ram.capacity } };
      await writeFile(`${done}.tmp`, `${JSON.stringify(sizes)}\n`);
      await rename(`${done}.tmp`, done);
      return { elf, sizes };
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

/** mkdir is atomic: whoever creates the folder holds the lock. A lock older than 10 minutes is stale. */
async function acquireLock(lock: string): Promise<void> {
  for (;;) {
    try {
      await mkdir(lock);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 10 * 60_000) await rm(lock, { recursive: true, force: true });
      else await sleep(250);
    }
  }
}
