/**
 * `tinyml build`: the memory budget first (so a model that cannot fit is refused
 * before minutes of compiling), then the board's build.
 */
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { arenaBytesFor, checkBudget, formatBudget, type Budget, type RuntimeKind } from '../firmware/budget.ts';
import { buildEmulatorFirmware } from '../firmware/build-emulator.ts';
import { tflmBuildInputs } from '../firmware/tflm-tree.ts';
import { assembleSketch } from '../firmware/sketch.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { compileSketch, ensureCore, ensureTflmLibrary, findArduinoCli, NANO33BLE_FQBN } from '../firmware/arduino-cli.ts';
import { budgetBoard, buildDir, type BoardName } from './targets.ts';

export interface BuildOptions {
  readonly modelDir: string;
  readonly board: BoardName;
  readonly runtime: RuntimeKind;
  /** A TFLM source tree (the tflite-micro-arduino-examples library) for --runtime tflm on the emulator. */
  readonly tflmDir?: string;
  /** An explicit arduino-cli executable. */
  readonly arduinoCli?: string;
  readonly log?: (line: string) => void;
}

export interface BuildResult {
  readonly board: BoardName;
  readonly runtime: RuntimeKind;
  readonly budget: Budget;
  readonly outDir: string;
  /** The emulator's ELF; null for the Arduino (arduino-cli keeps its artifacts in outDir). */
  readonly elf: string | null;
  /** The Arduino sketch folder (upload needs it); null for the emulator. */
  readonly sketchDir: string | null;
  readonly flash: { readonly used: number; readonly capacity: number };
  readonly ram: { readonly used: number; readonly capacity: number };
}

export async function buildFirmware(options: BuildOptions): Promise<BuildResult> {
  const log = options.log ?? (() => undefined);
  const { board, runtime } = options;
  if (board === 'emulator' && runtime === 'tflm' && !options.tflmDir) {
    throw new UsageError(
      '--runtime tflm on the emulator needs --tflm-dir pointing at a TFLM source tree (the tflite-micro-arduino-examples library folder)',
    );
  }
  if (board === 'nano33ble' && options.tflmDir) {
    throw new UsageError('--tflm-dir is for the emulator: on the Nano 33 BLE arduino-cli installs and uses the TFLM library');
  }
  const { model, bytes } = await readInt8Model(options.modelDir);
  if (runtime === 'tflm' && model.layers.some((l) => l.weightScales.length > 1)) {
    // Measured: that TFLM's FULLY_CONNECTED silently uses the first scale for every channel.
    throw new UsageError(
      `${options.modelDir} has per-channel weights, which the Arduino TFLM library's FULLY_CONNECTED reads as per-tensor: quantize without --per-channel, or use --runtime native`,
    );
  }
  const budget = checkBudget({ model, modelBytes: bytes.length, runtime, board: budgetBoard(board) });
  log(formatBudget(budget));
  const outDir = buildDir(board, options.modelDir, runtime);

  if (board === 'emulator') {
    const extra = runtime === 'tflm' ? tflmExtra(options.tflmDir!) : undefined;
    log(`compiling the ${runtime} firmware for mps2-an386 (QEMU) with arm-none-eabi-gcc`);
    const fw = await buildEmulatorFirmware({
      modelDir: options.modelDir,
      outDir,
      runtime,
      extra,
      arenaBytes: arenaBytesFor(model, runtime),
    });
    return { board, runtime, budget, outDir, elf: fw.elf, sketchDir: null, flash: fw.flash, ram: fw.ram };
  }

  const cli = await findArduinoCli({ explicit: options.arduinoCli });
  await ensureCore({ cli, onStep: log });
  if (runtime === 'tflm') await ensureTflmLibrary({ cli, onStep: log });
  const sketch = await assembleSketch({ modelDir: options.modelDir, runtime, outDir });
  log(`compiling ${sketch.sketchDir} for ${NANO33BLE_FQBN} with arduino-cli (the first TFLM build takes minutes)`);
  const sizes = await compileSketch({
    cli,
    sketchDir: sketch.sketchDir,
    buildPath: join(outDir, 'arduino-build'),
    outputDir: join(outDir, 'output'),
  });
  return {
    board,
    runtime,
    budget,
    outDir,
    elf: null,
    sketchDir: sketch.sketchDir,
    flash: { used: sizes.flash, capacity: sizes.flashMax },
    ram: { used: sizes.ram, capacity: sizes.ramMax },
  };
}

/** TFLM's sources and our adapter (runtime_tflm.cc), as extra inputs of the emulator build. */
function tflmExtra(tflmDir: string) {
  const { cSources, cxxSources, includeDirs, defines } = tflmBuildInputs(tflmDir);
  return { cSources, cxxSources, includeDirs, defines };
}

export function formatBuild(r: BuildResult): string {
  const pct = (u: number, c: number) => `${((100 * u) / c).toFixed(1)}%`;
  return [
    `built ${r.runtime} firmware for ${r.board} in ${r.outDir}`,
    `  flash ${r.flash.used} of ${r.flash.capacity} bytes (${pct(r.flash.used, r.flash.capacity)})`,
    `  RAM   ${r.ram.used} of ${r.ram.capacity} bytes (${pct(r.ram.used, r.ram.capacity)})`,
  ].join('\n');
}
