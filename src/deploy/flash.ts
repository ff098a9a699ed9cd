/**
 * Putting firmware on a board. The emulator's "flash" is booting the ELF in
 * QEMU; the Nano 33 BLE's is arduino-cli upload, after which the board
 * re-enumerates and its port comes back, possibly under another name. The board
 * is followed by its USB serial number, so with two Nanos plugged in the one
 * validated is the one flashed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { findArduinoCli, uploadSketch, type UploadedPorts } from '../firmware-build/arduino-cli.ts';
import {
  boardMatcher,
  describePort,
  findListedPort,
  listPorts,
  NANO33BLE,
  waitForFlashedPort,
  waitUntilOpens,
  type FlashedBoard,
  type ListPortsOptions,
  type SerialPortInfo,
} from '../device/ports.ts';
import { startQemu, type QemuInstance } from '../device/qemu.ts';
import { buildDir, type BoardName } from './targets.ts';
import { sketchName } from '../firmware-build/sketch.ts';
import type { RuntimeKind } from '../firmware-build/budget.ts';

/** Boots the emulator firmware; the caller owns the instance and must stop() it. */
export function flashEmulator(elf: string): Promise<QemuInstance> {
  return startQemu({ elf });
}

/**
 * The Nano 33 BLE to flash, as listed now: the port given (with its USB data when
 * it is listed), or the only Nano plugged in.
 */
export async function findBoardPort(port?: string, options: ListPortsOptions = {}): Promise<SerialPortInfo> {
  const ports = await listPorts(options);
  if (port) return findListedPort(ports, port) ?? { path: port };
  const found = ports.filter(boardMatcher(NANO33BLE, 'any'));
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    throw new UsageError(
      `no Arduino Nano 33 BLE found (USB ${NANO33BLE.vendorId.toString(16)}): plug it in with a data cable, or pass --port /dev/ttyACM0`,
    );
  }
  throw new UsageError(`several Nano 33 BLE boards found (${found.map(describePort).join(', ')}): choose one with --port`);
}

/** What to remember of the board before the upload: its serial number (from its sketch port) and the other boards' ports. */
export function flashedBoard(target: SerialPortInfo, before: readonly SerialPortInfo[]): FlashedBoard {
  // Only a sketch port's serial number is the one the new sketch will show; the bootloader's may differ.
  const serialNumber = boardMatcher(NANO33BLE, 'app')(target) && target.serialNumber ? target.serialNumber : undefined;
  const otherPaths = before.filter((p) => p.path !== target.path && boardMatcher(NANO33BLE, 'app')(p)).map((p) => p.path);
  return { board: NANO33BLE, path: target.path, serialNumber, otherPaths };
}

/** What `tinyml flash` is told: the model, the board and how to reach it. */
export interface FlashArgs {
  model: string;
  board: string;
  runtime?: string;
  'tflm-dir'?: string;
  port?: string;
  'arduino-cli'?: string;
}

export interface FlashArduinoOptions {
  readonly modelDir: string;
  readonly runtime: RuntimeKind;
  readonly port?: string;
  readonly arduinoCli?: string;
  readonly log?: (line: string) => void;
  /** How ports are listed (tests: a fake /sys tree). */
  readonly ports?: ListPortsOptions;
  /** Opens and closes the port once; default a serial port at 115200 baud (tests: a stand-in). */
  readonly openPort?: (path: string) => Promise<void>;
  /** How long the board may take to come back, and then to open; default 15 s and 10 s. */
  readonly comeBackMs?: number;
  readonly openMs?: number;
  /** Polling interval; default 250 ms. */
  readonly intervalMs?: number;
}

/**
 * arduino-cli upload of the sketch `tinyml build` compiled; returns the port the
 * flashed board's sketch came back on, once it opens.
 */
export async function flashArduino(options: FlashArduinoOptions): Promise<string> {
  const log = options.log ?? (() => undefined);
  const outDir = buildDir('nano33ble', options.modelDir, options.runtime);
  if (!existsSync(join(outDir, 'output'))) {
    throw new UsageError(
      `nothing built for the Nano 33 BLE in ${outDir}: run 'tinyml build --model ${options.modelDir} --board nano33ble --runtime ${options.runtime}' first`,
    );
  }
  const cli = await findArduinoCli({ explicit: options.arduinoCli });
  const before = await listPorts(options.ports);
  const target = await findBoardPort(options.port, { ...options.ports, list: async () => before });
  const flashed = flashedBoard(target, before);
  const id = flashed.serialNumber ? `serial number ${flashed.serialNumber}` : 'no USB serial number listed';
  log(`uploading to ${target.path} (${id}) with arduino-cli (the board resets into its bootloader, then comes back)`);

  const waitForApp = async ({ reported }: UploadedPorts, { timeoutMs }: { timeoutMs: number }) => {
    const { port, how } = await waitForFlashedPort(flashed, reported, {
      ...options.ports,
      timeoutMs: options.comeBackMs ?? timeoutMs,
      intervalMs: options.intervalMs,
    });
    log(`the flashed board is on ${port.path}: ${comeBackReason(how, flashed, reported)}`);
    return port.path;
  };
  const result = await uploadSketch({
    cli,
    port: target.path,
    inputDir: join(outDir, 'output'),
    sketchDir: join(outDir, sketchName(options.runtime)),
    waitForPort: waitForApp,
  });
  const tries = await waitUntilOpens(result.port, { open: options.openPort, timeoutMs: options.openMs, intervalMs: options.intervalMs });
  if (tries > 1) log(`${result.port} opened after ${tries} tries (udev permissions or ModemManager held it at first)`);
  return result.port;
}

function comeBackReason(how: 'reported' | 'serial-number' | 'only-new', flashed: FlashedBoard, reported: string | null): string {
  const serial = flashed.serialNumber ? `serial number ${flashed.serialNumber}` : '';
  if (how === 'reported') return `the port arduino-cli reported${serial ? `, ${serial}` : ''}`;
  const said = reported ? `arduino-cli reported ${reported}, where this board is not` : 'arduino-cli reported no port';
  return how === 'serial-number' ? `found by its ${serial} (${said})` : `the only new Nano 33 BLE sketch port (${said})`;
}

export type { BoardName };
