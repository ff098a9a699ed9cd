/**
 * `tinyml build`: the memory budget first (so a model that cannot fit is refused
 * before minutes of compiling), then the board's build. For the Nano 33 BLE the
 * sketch folder is written before arduino-cli is looked for, so a user without
 * arduino-cli still gets a sketch to open in the Arduino IDE (`--sketch-only`
 * stops there on purpose).
 */
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { arenaBytesFor, checkBudget, formatBudget, type Budget, type RuntimeKind } from '../firmware-build/budget.ts';
import { buildEmulatorFirmware } from '../firmware-build/build-emulator.ts';
import { tflmBuildInputs } from '../firmware-build/tflm-tree.ts';
import { arduinoIdeSteps, assembleSketch, type AssembledSketch } from '../firmware-build/sketch.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { checkLinkLimits } from '../reference/limits.ts';
import { crc32, crc32Hex } from '../protocol/crc32.ts';
import {
  ArduinoCliNotFoundError,
  compileSketch,
  TFLM_DEBUGLOG_WRAP_PROPERTY,
  ensureCore,
  ensureTflmLibrary,
  findArduinoCli,
  NANO33BLE_FQBN,
  pinMismatchWarning,
  type LibraryStatus,
} from '../firmware-build/arduino-cli.ts';
import { pinLabel, pinnedGitUrl, pinnedZipUrl, runtimeVersion, TFLM_LIBRARY_PIN } from '../firmware-build/tflm-pin.ts';
import { budgetBoard, buildDir, type BoardName } from './targets.ts';

export interface BuildOptions {
  readonly modelDir: string;
  readonly board: BoardName;
  readonly runtime: RuntimeKind;
  /** A TFLM source tree (the tflite-micro-arduino-examples library) for --runtime tflm on the emulator. */
  readonly tflmDir?: string;
  /** An explicit arduino-cli executable. */
  readonly arduinoCli?: string;
  /** Nano 33 BLE only: write the sketch folder and stop (no arduino-cli needed). */
  readonly sketchOnly?: boolean;
  readonly log?: (line: string) => void;
}

/** The TFLM library a Nano sketch is made for, and what arduino-cli has installed. */
export interface TflmLibraryReport {
  readonly name: string;
  /** "tflite-micro-arduino-examples@7948b85". */
  readonly pin: string;
  readonly commit: string;
  /** What `arduino-cli lib install --git-url` is given. */
  readonly gitUrl: string;
  /** For the Arduino IDE's "Add .ZIP Library". */
  readonly zipUrl: string;
  /** The copy arduino-cli compiles with; null when not looked at (--sketch-only). */
  readonly installed: {
    readonly dir: string;
    readonly version: string;
    readonly matchesPin: boolean;
    /** True when this build installed it. */
    readonly installedNow: boolean;
  } | null;
}

/** The Nano 33 BLE sketch folder as written. */
export interface SketchReport {
  /** The folder; open `ino` in the Arduino IDE. */
  readonly sketch: string;
  readonly ino: string;
  readonly runtime: RuntimeKind;
  /** TML_RUNTIME_VERSION in its tinyml_config.h. */
  readonly runtimeVersion: string;
  readonly modelCrc32: string;
  readonly modelBytes: number;
  /** TML_ARENA_BYTES. */
  readonly arenaBytes: number;
  readonly fileCount: number;
  /** null for the native runtime, which needs no library. */
  readonly tflmLibrary: TflmLibraryReport | null;
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
  /** The Arduino sketch; null for the emulator. */
  readonly sketch: SketchReport | null;
  /** True when only the sketch was written (--sketch-only): no sizes then. */
  readonly sketchOnly: boolean;
  readonly flash: { readonly used: number; readonly capacity: number } | null;
  readonly ram: { readonly used: number; readonly capacity: number } | null;
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
  if (board === 'emulator' && options.sketchOnly) {
    throw new UsageError('--sketch-only writes an Arduino sketch: use it with --board nano33ble');
  }
  const { model, bytes } = await readInt8Model(options.modelDir);
  checkLinkLimits(model);
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
    const base = { board, runtime, budget, outDir, sketchDir: null, sketch: null, sketchOnly: false };
    return { ...base, elf: fw.elf, flash: fw.flash, ram: fw.ram };
  }

  const modelCrc32 = crc32Hex(crc32(bytes));
  let sketch = await assembleSketch({ modelDir: options.modelDir, runtime, outDir });
  const base = { board, runtime, budget, outDir, elf: null };
  if (options.sketchOnly) {
    return { ...base, sketchDir: sketch.sketchDir, sketch: sketchReport(sketch, modelCrc32, null), sketchOnly: true, flash: null, ram: null };
  }

  const cli = await findArduinoCli({ explicit: options.arduinoCli }).catch((err: unknown) => {
    if (!(err instanceof ArduinoCliNotFoundError)) throw err;
    throw new ArduinoCliNotFoundError(`${err.message}; or without arduino-cli: ${arduinoIdeSteps(sketch)}`, { cause: err });
  });
  await ensureCore({ cli, onStep: log });
  let library: LibraryStatus | null = null;
  if (runtime === 'tflm') {
    library = await ensureTflmLibrary({ cli, onStep: log });
    if (!library.matchesPin) {
      log(pinMismatchWarning(library));
      // The sketch says which TFLM it really runs on (INFO carries TML_RUNTIME_VERSION to the host).
      sketch = await assembleSketch({ modelDir: options.modelDir, runtime, outDir, runtimeVersion: runtimeVersion(runtime, library) });
    }
  }
  log(`compiling ${sketch.sketchDir} for ${NANO33BLE_FQBN} with arduino-cli (the first TFLM build takes minutes)`);
  const sizes = await compileSketch({
    cli,
    sketchDir: sketch.sketchDir,
    buildPath: join(outDir, 'arduino-build'),
    outputDir: join(outDir, 'output'),
    buildProperties: runtime === 'tflm' ? [TFLM_DEBUGLOG_WRAP_PROPERTY] : [],
  });
  return {
    ...base,
    sketchDir: sketch.sketchDir,
    sketch: sketchReport(sketch, modelCrc32, library),
    sketchOnly: false,
    flash: { used: sizes.flash, capacity: sizes.flashMax },
    ram: { used: sizes.ram, capacity: sizes.ramMax },
  };
}

function sketchReport(sketch: AssembledSketch, modelCrc32: string, library: LibraryStatus | null): SketchReport {
  const tflmLibrary: TflmLibraryReport | null =
    sketch.runtime === 'tflm'
      ? {
          name: TFLM_LIBRARY_PIN.name,
          pin: pinLabel(),
          commit: TFLM_LIBRARY_PIN.commit,
          gitUrl: pinnedGitUrl(),
          zipUrl: pinnedZipUrl(),
          installed: library
            ? { dir: library.installDir, version: library.version, matchesPin: library.matchesPin, installedNow: library.installed }
            : null,
        }
      : null;
  return {
    sketch: sketch.sketchDir,
    ino: sketch.inoPath,
    runtime: sketch.runtime,
    runtimeVersion: sketch.runtimeVersion,
    modelCrc32,
    modelBytes: sketch.modelBytes,
    arenaBytes: sketch.arenaBytes,
    fileCount: sketch.files.length,
    tflmLibrary,
  };
}

/** TFLM's sources and our adapter (runtime_tflm.cc), as extra inputs of the emulator build. */
function tflmExtra(tflmDir: string) {
  const { cSources, cxxSources, includeDirs, defines } = tflmBuildInputs(tflmDir);
  return { cSources, cxxSources, includeDirs, defines };
}

export function formatBuild(r: BuildResult): string {
  const pct = (u: number, c: number) => `${((100 * u) / c).toFixed(1)}%`;
  const lines: string[] = [];
  if (r.sketchOnly && r.sketch) {
    lines.push(r.sketch.sketch, `wrote the ${r.runtime} sketch for ${r.board} (${r.sketch.fileCount} files; open ${r.sketch.ino} in the Arduino IDE)`);
  } else {
    lines.push(`built ${r.runtime} firmware for ${r.board} in ${r.outDir}`);
  }
  if (r.sketch) {
    const s = r.sketch;
    lines.push(`  sketch ${s.sketch}`, `  model  CRC-32 ${s.modelCrc32}, ${s.modelBytes} bytes; arena ${s.arenaBytes} bytes; runtime "${s.runtimeVersion}"`);
    const lib = s.tflmLibrary;
    if (lib) {
      const installed = lib.installed
        ? lib.installed.matchesPin
          ? `${lib.installed.installedNow ? 'installed now' : 'installed'} in ${lib.installed.dir}`
          : `NOT the pinned commit: ${lib.installed.dir} holds another ${lib.name} (${lib.installed.version || 'version unknown'})`
        : `install: arduino-cli lib install --git-url ${lib.gitUrl}, or the IDE's Add .ZIP Library with ${lib.zipUrl}`;
      lines.push(`  TFLM   ${lib.name} pinned at ${lib.pin}; ${installed}`);
    }
  }
  if (r.flash && r.ram) {
    lines.push(
      `  flash ${r.flash.used} of ${r.flash.capacity} bytes (${pct(r.flash.used, r.flash.capacity)})`,
      `  RAM   ${r.ram.used} of ${r.ram.capacity} bytes (${pct(r.ram.used, r.ram.capacity)})`,
    );
  }
  return lines.join('\n');
}

/** `build --json`: with --sketch-only the sketch's fields at the top ({"sketch": "<folder>", ...}), else the build's. */
export function buildJson(r: BuildResult): Record<string, unknown> {
  if (r.sketchOnly && r.sketch) return { board: r.board, ...r.sketch };
  return {
    board: r.board,
    runtime: r.runtime,
    outDir: r.outDir,
    elf: r.elf,
    ...(r.sketch ?? {}),
    flash: r.flash,
    ram: r.ram,
    budget: { fits: r.budget.fits, flash: r.budget.flash, ram: r.budget.ram, arenaBytes: r.budget.arenaBytes },
  };
}
