/**
 * The memory budget of a firmware build, checked BEFORE anything is compiled:
 * flash = the model array + our runtime's code + the platform's own code (the
 * Arduino mbed core on the Nano 33 BLE Sense), RAM = the tensor arena + the
 * runtime's static buffers + the platform's own globals, each against the board's
 * limits. A model that cannot fit is refused with the numbers and what to do.
 *
 * Exact: the model size (the .tflite is copied byte for byte into flash) and the
 * board limits. Estimates, marked as such in every line's note: the code sizes
 * and the arena formula; the lead refines the native numbers from
 * `arm-none-eabi-size` of the emulator build, and TFLM checks its arena at run
 * time anyway (AllocateTensors fails -> INFO status ARENA_TOO_SMALL / RUNTIME).
 * arduino-cli applies the same kind of check after linking (text > upload.maximum_size
 * or data > upload.maximum_data_size is an error), with real numbers.
 */
import { TinymlError } from '../errors.ts';
import { tflmArenaBytes } from './tflm-arena.ts';
import type { Int8Model } from '../model/types.ts';

export type RuntimeKind = 'native' | 'tflm';
export const RUNTIME_KINDS: readonly RuntimeKind[] = ['native', 'tflm'];

export type BoardId = 'nano33ble' | 'mps2-an386';

export interface BoardLimits {
  readonly id: BoardId;
  readonly name: string;
  /** Bytes of flash a program may occupy (what the uploader/linker allows, not the chip's total). */
  readonly flashMax: number;
  /** Bytes of RAM for static data (.data + .bss). */
  readonly ramMax: number;
  readonly limitsSource: string;
  /** Flash and RAM the platform takes before our code: core, RTOS, USB stack, startup. */
  readonly platformFlash: number;
  readonly platformRam: number;
  readonly platformNote: string;
}

export const BOARDS: Readonly<Record<BoardId, BoardLimits>> = {
  nano33ble: {
    id: 'nano33ble',
    name: 'Arduino Nano 33 BLE Sense',
    // ArduinoCore-mbed boards.txt: nano33ble.upload.maximum_size=983040 (1 MB less the
    // 64 KB bootloader), nano33ble.upload.maximum_data_size=262144.
    flashMax: 983040,
    ramMax: 262144,
    limitsSource: 'ArduinoCore-mbed boards.txt nano33ble.upload.maximum_size / maximum_data_size',
    // An empty sketch (setup(){} loop(){}) built with `arduino-cli compile --fqbn
    // arduino:mbed_nano:nano33ble`: "Sketch uses 85328 bytes (8%) of program storage space.
    // Global variables use 44552 bytes (16%) of dynamic memory" (published in
    // github.com/kierdavis/underglow doc/story/toolchain.md, mbed_nano 4.x). Measured,
    // but on one core version; mbed OS also takes heap at run time beyond this.
    platformFlash: 85328,
    platformRam: 44552,
    platformNote: 'mbed_nano core, empty sketch (measured, one core version)',
  },
  'mps2-an386': {
    id: 'mps2-an386',
    name: 'mps2-an386 (QEMU, stands in for nRF52840)',
    // The emulator build is held to the nRF52840's 1 MB flash / 256 KB RAM so that what
    // passes there fits the real chip's memory; no Arduino core, no bootloader.
    flashMax: 1024 * 1024,
    ramMax: 256 * 1024,
    limitsSource: 'nRF52840 capacity, imposed on the emulator build',
    // Vector table, startup, UART HAL and the main stack: an estimate until the emulator
    // build's linker script and arm-none-eabi-size give the real numbers.
    platformFlash: 4 * 1024,
    platformRam: 8 * 1024,
    platformNote: 'startup, UART HAL, 8 KB stack (estimate)',
  },
};

export interface RuntimeCost {
  readonly flash: number;
  readonly ram: number;
  readonly note: string;
}

/**
 * Code and static data of each runtime together with our protocol + app loop + HAL,
 * on a Cortex-M4 at -Os. Estimates (see `note`).
 */
export const RUNTIME_COST: Readonly<Record<RuntimeKind, RuntimeCost>> = {
  native: {
    // Model reader, int8 FULLY_CONNECTED + SOFTMAX, protocol (COBS, CRC-32), app loop,
    // HAL: small C; RAM is mostly the protocol's frame buffers (~4 x 1038 bytes).
    flash: 12 * 1024,
    ram: 5 * 1024,
    note: 'our C core: reader, FC/softmax kernels, protocol, app, HAL (estimate)',
  },
  tflm: {
    // A published Nano 33 BLE build of a dense int8 model with MicroMutableOpResolver
    // (veysiadn/acustic-emission-models dense_model_specs.md: 169328 bytes flash, 60440
    // bytes RAM, model 6496 bytes, arena 6040) minus the empty sketch above leaves
    // ~77 KB flash and ~10 KB RAM for TFLM and that sketch; plus our protocol/app/adapter.
    flash: 88 * 1024,
    ram: 15 * 1024,
    note: 'TFLM interpreter + FC/softmax (CMSIS-NN) + our protocol/app/adapter (estimate)',
  },
};

const ALIGN = 16;
const roundUp = (n: number, to = ALIGN): number => Math.ceil(n / to) * to;

const align4 = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * Bytes the native runtime's planner asks for (runtime_info_t.arena_used), computed
 * as firmware/core/runtime_native.c does: per FULLY_CONNECTED a folded bias (4 bytes
 * per output) plus a multiplier and a shift per weight scale (8 bytes each), then two
 * ping-pong activation buffers, A holding the input and the outputs of even ops, B
 * those of odd ops, each as big as its largest tensor, 4-byte aligned.
 */
export function nativeArenaUsed(model: Int8Model): number {
  const persistent = model.layers.reduce((s, l) => s + 4 * l.outputSize + 8 * l.weightScales.length, 0);
  const act = [model.layers[0]?.inputSize ?? 0, 0];
  let op = 0;
  for (const l of model.layers) {
    const slot = (op + 1) & 1;
    act[slot] = Math.max(act[slot]!, l.outputSize);
    op++;
  }
  if (model.softmax && model.layers.length > 0) {
    const slot = (op + 1) & 1;
    act[slot] = Math.max(act[slot]!, model.layers[model.layers.length - 1]!.outputSize);
  }
  return persistent + align4(act[0]!) + align4(act[1]!);
}

/**
 * Bytes of tensor arena to compile in for `model` (TML_ARENA_BYTES), a multiple of 16.
 *
 * native: exactly what runtime_native.c's planner uses (nativeArenaUsed), rounded
 * up to 16; the runtime refuses a smaller arena with ARENA_TOO_SMALL.
 * tflm: TFLM's own need as measured on real TFLM, with headroom (tflm-arena.ts).
 */
export function arenaBytesFor(model: Int8Model, runtime: RuntimeKind): number {
  return runtime === 'native' ? roundUp(nativeArenaUsed(model)) : tflmArenaBytes(model);
}

export interface BudgetLine {
  readonly label: string;
  readonly bytes: number;
  readonly note: string;
}

export interface MemoryBudget {
  readonly lines: readonly BudgetLine[];
  readonly used: number;
  readonly max: number;
  /** max - used; negative when over. */
  readonly free: number;
}

export interface Budget {
  readonly board: BoardLimits;
  readonly runtime: RuntimeKind;
  readonly modelBytes: number;
  readonly arenaBytes: number;
  readonly flash: MemoryBudget;
  readonly ram: MemoryBudget;
  readonly fits: boolean;
}

export interface BudgetOptions {
  /** The int8 model (for the arena) ... */
  readonly model: Int8Model;
  /** ... and the byte length of its .tflite, which is what goes into flash. */
  readonly modelBytes: number;
  readonly runtime: RuntimeKind;
  readonly board: BoardId;
  /** Overrides arenaBytesFor(model, runtime). */
  readonly arenaBytes?: number;
}

/** Computes the budget; never throws for a model that does not fit (see checkBudget). */
export function planBudget(options: BudgetOptions): Budget {
  const board = BOARDS[options.board];
  const cost = RUNTIME_COST[options.runtime];
  const arenaBytes = options.arenaBytes ?? arenaBytesFor(options.model, options.runtime);
  const memory = (lines: BudgetLine[], max: number): MemoryBudget => {
    const used = lines.reduce((s, l) => s + l.bytes, 0);
    return { lines, used, max, free: max - used };
  };
  const flash = memory(
    [
      { label: 'model', bytes: options.modelBytes, note: 'model_int8.tflite as g_model (exact)' },
      { label: `${options.runtime} runtime`, bytes: cost.flash, note: cost.note },
      { label: 'platform', bytes: board.platformFlash, note: board.platformNote },
    ],
    board.flashMax,
  );
  const ram = memory(
    [
      { label: 'tensor arena', bytes: arenaBytes, note: `TML_ARENA_BYTES for ${options.runtime} (estimate)` },
      { label: `${options.runtime} runtime`, bytes: cost.ram, note: cost.note },
      { label: 'platform', bytes: board.platformRam, note: board.platformNote },
    ],
    board.ramMax,
  );
  return {
    board,
    runtime: options.runtime,
    modelBytes: options.modelBytes,
    arenaBytes,
    flash,
    ram,
    fits: flash.free >= 0 && ram.free >= 0,
  };
}

/** A model (with a runtime) that does not fit a board; `budget` has the numbers. */
export class BudgetError extends TinymlError {
  constructor(
    message: string,
    readonly budget: Budget,
  ) {
    super(message);
  }
}

/** planBudget, then a BudgetError with a one-line message when the model does not fit. */
export function checkBudget(options: BudgetOptions): Budget {
  const budget = planBudget(options);
  if (budget.fits) return budget;
  const { board, runtime, flash, ram } = budget;
  const problems: string[] = [];
  if (flash.free < 0) {
    const room = flash.max - (flash.used - budget.modelBytes);
    problems.push(
      `flash: ${kb(flash.used)} needed of ${kb(flash.max)} (model ${kb(budget.modelBytes)}, ${kb(room)} left for it after the ${runtime} runtime and platform)`,
    );
  }
  if (ram.free < 0) {
    problems.push(`RAM: ${kb(ram.used)} needed of ${kb(ram.max)} (arena ${kb(budget.arenaBytes)})`);
  }
  const hint = runtime === 'tflm' && flash.free < 0 && fitsWith({ ...options, runtime: 'native' }) ? "; --runtime native fits, or" : ';';
  throw new BudgetError(
    `model does not fit the ${board.name} with --runtime ${runtime}: ${problems.join('; ')}${hint} train a smaller model (--hidden 128, or --preset seed-base)`,
    budget,
  );
}

function fitsWith(options: BudgetOptions): boolean {
  const { arenaBytes: _ignored, ...rest } = options;
  return planBudget(rest).fits;
}

/** Bytes as KB with one decimal (1 KB = 1024 bytes), e.g. "812.3 KB". */
export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/** A small table for the terminal. */
export function formatBudget(budget: Budget): string {
  const rows: string[] = [`${budget.board.name}, runtime ${budget.runtime}:`];
  for (const [title, mem] of [
    ['flash', budget.flash],
    ['RAM', budget.ram],
  ] as const) {
    const pct = ((100 * mem.used) / mem.max).toFixed(1);
    rows.push(`  ${title}: ${mem.used} of ${mem.max} bytes (${pct}%), ${mem.free >= 0 ? `${mem.free} free` : `${-mem.free} over`}`);
    for (const line of mem.lines) rows.push(`    ${line.label.padEnd(16)} ${String(line.bytes).padStart(8)}  ${line.note}`);
  }
  return rows.join('\n');
}
