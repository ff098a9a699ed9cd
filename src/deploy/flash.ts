/**
 * Putting firmware on a board. The emulator's "flash" is booting the ELF in
 * QEMU; the Nano 33 BLE's is arduino-cli upload, after which the board
 * re-enumerates and its port comes back (possibly under another name).
 */
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { findArduinoCli, uploadSketch, type WaitForPort } from '../firmware/arduino-cli.ts';
import { boardMatcher, findPorts, NANO33BLE, waitForPort } from '../device/ports.ts';
import { startQemu, type QemuInstance } from '../device/qemu.ts';
import { buildDir, type BoardName } from './targets.ts';
import { sketchName } from '../firmware/sketch.ts';
import type { RuntimeKind } from '../firmware/budget.ts';

/** Boots the emulator firmware; the caller owns the instance and must stop() it. */
export function flashEmulator(elf: string): Promise<QemuInstance> {
  return startQemu({ elf });
}

/** The Nano 33 BLE's port: the one given, or the only one with its USB ids. */
export async function findBoardPort(port?: string): Promise<string> {
  if (port) return port;
  const found = await findPorts(boardMatcher(NANO33BLE, 'any'));
  if (found.length === 1) return found[0].path;
  if (found.length === 0) {
    throw new UsageError(
      `no Arduino Nano 33 BLE found (USB ${NANO33BLE.vendorId.toString(16)}): plug it in with a data cable, or pass --port /dev/ttyACM0`,
    );
  }
  throw new UsageError(`several Nano 33 BLE boards found (${found.map((p) => p.path).join(', ')}): choose one with --port`);
}

/** After an upload the sketch's USB port comes back; wait for it (any Nano 33 BLE app port). */
const waitForApp: WaitForPort = async (_port, { timeoutMs }) =>
  (await waitForPort(boardMatcher(NANO33BLE, 'app'), { timeoutMs, what: 'the Arduino Nano 33 BLE' })).path;

export interface FlashArduinoOptions {
  readonly modelDir: string;
  readonly runtime: RuntimeKind;
  readonly port?: string;
  readonly arduinoCli?: string;
  readonly log?: (line: string) => void;
}

/** arduino-cli upload of the sketch `tinyml build` compiled; returns the port the board came back on. */
export async function flashArduino(options: FlashArduinoOptions): Promise<string> {
  const cli = await findArduinoCli({ explicit: options.arduinoCli });
  const port = await findBoardPort(options.port);
  const outDir = buildDir('nano33ble', options.modelDir, options.runtime);
  options.log?.(`uploading to ${port} with arduino-cli (the board resets into its bootloader, then comes back)`);
  const result = await uploadSketch({
    cli,
    port,
    inputDir: join(outDir, 'output'),
    sketchDir: join(outDir, sketchName(options.runtime)),
    waitForPort: waitForApp,
  });
  return result.port;
}

export type { BoardName };
