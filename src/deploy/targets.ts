/**
 * The boards a user can name on the command line, and what each defaults to.
 * One place so build, flash, validate and deploy agree.
 */
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import type { BoardId, RuntimeKind } from '../firmware-build/budget.ts';

export type BoardName = 'emulator' | 'nano33ble';
export const BOARD_NAMES: readonly BoardName[] = ['emulator', 'nano33ble'];

/** The budget's id for a CLI board name. */
export function budgetBoard(board: BoardName): BoardId {
  return board === 'emulator' ? 'mps2-an386' : 'nano33ble';
}

/**
 * The runtime when none is asked for: TFLM on the Arduino (what users of the
 * course run), our native C core on the emulator (CI has no TFLM sources).
 */
export function defaultRuntime(board: BoardName, tflmDir?: string): RuntimeKind {
  if (board === 'nano33ble') return 'tflm';
  return tflmDir ? 'tflm' : 'native';
}

/** The runtime a command runs: --runtime when given, else the board's default. */
export function resolveRuntime(args: { board: string; runtime?: string; 'tflm-dir'?: string }): RuntimeKind {
  const board = checkBoard(args.board);
  return (args.runtime as RuntimeKind | undefined) ?? defaultRuntime(board, args['tflm-dir']);
}

export function checkBoard(board: string): BoardName {
  if ((BOARD_NAMES as readonly string[]).includes(board)) return board as BoardName;
  throw new UsageError(`--board ${board} is not a board we build for: use --board emulator or --board nano33ble`);
}

/** Build output folder of one model for one board and runtime. */
export function buildDir(board: BoardName, modelDir: string, runtime: RuntimeKind): string {
  const name = basename(resolve(modelDir));
  // The emulator's native build keeps the plain path that `validate --board emulator` looks in.
  if (board === 'emulator') return resolve('build', 'emulator', runtime === 'native' ? name : `${name}-tflm`);
  return resolve('build', 'nano33ble', name);
}

export function emulatorElf(modelDir: string, runtime: RuntimeKind): string {
  return join(buildDir('emulator', modelDir, runtime), 'firmware.elf');
}
