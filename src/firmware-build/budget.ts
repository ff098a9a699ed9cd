/**
 * The memory budget of a firmware build, checked BEFORE anything is compiled:
 * flash = the model array + our runtime's code + the platform's own code (the
 * Arduino mbed core on the Nano 33 BLE Sense) + a safety margin, RAM = the tensor
 * arena + the runtime's static data + the platform's own globals + a margin, each
 * against the board's limits. A model that cannot fit is refused with the numbers
 * and what to do.
 *
 * Exact: the model size (the .tflite is copied byte for byte into flash), the
 * board limits and the native arena (runtime_native.c's planner). Measured on the
 * Nano 33 BLE (see NANO33BLE_MEASUREMENT): each runtime's code and data. Published:
 * the mbed core's empty sketch. Estimated: the emulator's figures (its linker
 * checks the real sizes anyway) and TFLM's arena (TFLM checks it at run time:
 * AllocateTensors fails -> INFO status ARENA_TOO_SMALL / RUNTIME). arduino-cli
 * applies the same kind of check after linking (text > upload.maximum_size or
 * data > upload.maximum_data_size is an error), with real numbers.
 */
import { TinymlError } from '../errors.ts';
import { tflmArenaBytes } from './tflm-arena.ts';
import type { Int8Model } from '../model/types.ts';

export type RuntimeKind = 'native' | 'tflm';
export const RUNTIME_KINDS: readonly RuntimeKind[] = ['native', 'tflm'];

export type BoardId = 'nano33ble' | 'mps2-an386';

export interface RuntimeCost {
  readonly flash: number;
  readonly ram: number;
  readonly note: string;
}

export interface Margin {
  readonly flash: number;
  readonly ram: number;
  readonly note: string;
}

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
  /** Code and static data of each runtime with our protocol, app loop and HAL on this board (no model, no arena). */
  readonly runtimeCost: Readonly<Record<RuntimeKind, RuntimeCost>>;
  /** Reserved on top of the lines above for what they cannot know. */
  readonly margin: Margin;
}

/**
 * How the Nano 33 BLE figures were measured: `scripts/measure-nano-sizes.ts`
 * compiles an empty sketch and each runtime's assembled sketch (784-20-10 and
 * 784-128-10 models) with the mbed core's own recipe (platform.txt, the variant's
 * cflags/cxxflags/defines/includes/ldflags, core.a, the preprocessed
 * linker_script.ld, --gc-sections) and partial-links them without libmbed.a, which
 * the core's source repository does not carry (src/firmware-build/arduino-core-build.ts).
 * A runtime's cost is its sketch minus the empty sketch minus the model array
 * (flash) or the arena (RAM), counted as arduino-cli counts (flash .text + .rodata
 * + .data, RAM .data + .bss). The native runtime's flash includes the model's
 * softmax exponentials, which export writes beside the model array (a few bytes
 * more or less per model); the budget takes the larger of the two:
 *
 *   sketch         flash     RAM   model  arena  runtime flash  runtime RAM
 *   empty sketch   22424    4600       0      0
 *   native, h20    53036   11176   17776    832          12836         5744
 *   native, h128  139180   11272  103968    928          12788         5744
 *   tflm, h20      92008   13664   17776   2000          51808         7064
 *   tflm, h128    178200   13760  103968   2096          51808         7064
 *
 * (Measured again after protocol v4 (chunked inputs in two 1 KB slots, the
 * COMPACT decoder), the softmax table moved to flash and the runtime built -Os.)
 * (The empty sketch here lacks mbed OS; its real figure is platformFlash below.
 * TFLM also adds 28 bytes of .ARM.exidx, which arduino-cli does not count.)
 */
export const NANO33BLE_MEASUREMENT = {
  core: 'arduino/ArduinoCore-mbed 4.6.0 (b4ad4e72), its libraries/ (Wire) at the same commit',
  tflm: 'tensorflow/tflite-micro-arduino-examples 7948b85',
  compiler: 'arm-none-eabi-gcc 12.2.1 (Debian 15:12.2.rel1-1); the core pins 7-2017q4',
  command: 'node --import tsx scripts/measure-nano-sizes.ts --core-dir <ArduinoCore-mbed> --tflm-dir <tflite-micro-arduino-examples>',
} as const;

/**
 * The Nano's safety margin, on top of measured and published figures, for:
 * the compiler (the core pins GCC 7-2017q4, measured with GCC 12: -Os code size
 * differs between them by a few percent either way); the core version (the
 * empty-sketch figure is from mbed_nano 4.1.5, the measurement from 4.6.0); the
 * libraries' own growth between versions; and mbed OS's run-time heap use beyond
 * its static data (the RAM margin). What it does not need to cover: newlib and
 * libstdc++ functions both libmbed.a and our runtime use are charged to the
 * runtime in full (an overestimate).
 */
export const NANO33BLE_MARGIN: Margin = {
  flash: 16 * 1024,
  ram: 8 * 1024,
  note: 'safety margin: GCC 7 vs 12, core and library versions, mbed heap (budget.ts)',
};

export const BOARDS: Readonly<Record<BoardId, BoardLimits>> = {
  nano33ble: {
    id: 'nano33ble',
    name: 'Arduino Nano 33 BLE Sense',
    // ArduinoCore-mbed boards.txt: nano33ble.upload.maximum_size=983040 (1 MB less the
    // 64 KB bootloader), nano33ble.upload.maximum_data_size=262144.
    flashMax: 983040,
    ramMax: 262144,
    limitsSource: 'ArduinoCore-mbed boards.txt nano33ble.upload.maximum_size / maximum_data_size',
    // The core's own share cannot be measured without libmbed.a (prebuilt mbed OS, only in
    // the released core package). Published `arduino-cli compile --fqbn
    // arduino:mbed_nano:nano33ble` output for an empty sketch: "Sketch uses 85328 bytes ...
    // Global variables use 44552 bytes" (github.com/kierdavis/underglow
    // doc/story/toolchain.md), 85328 / 44560 with mbed_nano 4.1.5 (a blink sketch, the same
    // flash), 85288 / 44560 with 4.1.5 (another user's build log). The largest of each.
    platformFlash: 85328,
    platformRam: 44560,
    platformNote: 'mbed_nano core, empty sketch (published arduino-cli output, 4.1.5)',
    runtimeCost: {
      native: {
        flash: 12836,
        ram: 5744,
        note: 'our C core: reader, FC/softmax kernels, protocol, app, HAL (measured, NANO33BLE_MEASUREMENT)',
      },
      tflm: {
        flash: 51808,
        ram: 7064,
        note: 'TFLM + CMSIS-NN + Wire + our protocol/app/adapter (measured, NANO33BLE_MEASUREMENT)',
      },
    },
    margin: NANO33BLE_MARGIN,
  },
  'mps2-an386': {
    id: 'mps2-an386',
    name: 'mps2-an386 (QEMU, stands in for nRF52840)',
    // The emulator build is held to the nRF52840's 1 MB flash / 256 KB RAM so that what
    // passes there fits the real chip's memory; no Arduino core, no bootloader.
    flashMax: 1024 * 1024,
    ramMax: 256 * 1024,
    limitsSource: 'nRF52840 capacity, imposed on the emulator build',
    // Vector table, startup, UART HAL and the main stack: estimates; the emulator's
    // linker script holds the build to the real sizes anyway.
    platformFlash: 4 * 1024,
    platformRam: 8 * 1024,
    platformNote: 'startup, UART HAL, 8 KB stack (estimate)',
    runtimeCost: {
      native: { flash: 12 * 1024, ram: 5 * 1024, note: 'our C core: reader, FC/softmax kernels, protocol, app, HAL (estimate)' },
      tflm: { flash: 88 * 1024, ram: 15 * 1024, note: 'TFLM interpreter + FC/softmax (CMSIS-NN) + our protocol/app/adapter (estimate)' },
    },
    margin: { flash: 0, ram: 0, note: 'none: the emulator link checks the real sizes' },
  },
};

const ALIGN = 16;
const roundUp = (n: number, to = ALIGN): number => Math.ceil(n / to) * to;

const align4 = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * Bytes the native runtime's planner asks for (runtime_info_t.arena_used), computed
 * as firmware/core/runtime_native.c does: per FULLY_CONNECTED a multiplier and a
 * shift per weight scale (8 bytes each; the kernel reads the bias from the model), then two
 * ping-pong activation buffers, A holding the input and the outputs of even ops, B
 * those of odd ops, each as big as its largest tensor, 4-byte aligned.
 */
export function nativeArenaUsed(model: Int8Model): number {
  const persistent = model.layers.reduce((s, l) => s + 8 * l.weightScales.length, 0);
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
  const cost = board.runtimeCost[options.runtime];
  const arenaBytes = options.arenaBytes ?? arenaBytesFor(options.model, options.runtime);
  const memory = (all: BudgetLine[], max: number): MemoryBudget => {
    const lines = all.filter((l) => l.bytes > 0 || l.label !== 'margin');
    const used = lines.reduce((s, l) => s + l.bytes, 0);
    return { lines, used, max, free: max - used };
  };
  const flash = memory(
    [
      { label: 'model', bytes: options.modelBytes, note: 'model_int8.tflite as g_model (exact)' },
      { label: `${options.runtime} runtime`, bytes: cost.flash, note: cost.note },
      { label: 'platform', bytes: board.platformFlash, note: board.platformNote },
      { label: 'margin', bytes: board.margin.flash, note: board.margin.note },
    ],
    board.flashMax,
  );
  const ram = memory(
    [
      {
        label: 'tensor arena',
        bytes: arenaBytes,
        note: `TML_ARENA_BYTES for ${options.runtime} (${options.runtime === 'native' ? 'exact: what runtime_native.c plans' : 'estimate: TFLM checks it at run time'})`,
      },
      { label: `${options.runtime} runtime`, bytes: cost.ram, note: cost.note },
      { label: 'platform', bytes: board.platformRam, note: board.platformNote },
      { label: 'margin', bytes: board.margin.ram, note: board.margin.note },
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
      `flash: ${kb(flash.used)} needed of ${kb(flash.max)} (model ${kb(budget.modelBytes)}, ${kb(room)} left for it after the ${runtime} runtime, platform and margin)`,
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
