/**
 * Builds the firmware for QEMU's mps2-an386 (Cortex-M4F), which stands in for
 * the nRF52840: our portable core (firmware/core), the board folder
 * (firmware/boards/mps2-an386) and the model's C array, compiled with
 * arm-none-eabi-gcc/g++ and linked against the nRF52840's 1 MB flash / 256 KB RAM.
 *
 * Nothing is generated into the repository: objects, the ELF, the .bin, the map
 * and (for tflite bytes) the model's C array all go under `outDir`.
 *
 * Kernel ports: a file firmware/ports/cortex-m4/<name>.c replaces
 * firmware/core/kernels/<name>.c of the same name (TFLM's and CMSIS-NN's
 * "optimized file of the same name" rule; no #ifdefs in the kernels).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { DataFormatError, ToolError, UsageError } from '../errors.ts';
import { renderCArray } from '../export/c-array.ts';
import { readTflite } from '../tflite/reader.ts';
import { FIRMWARE_DIR, REPO_ROOT } from './paths.ts';
import { mapLimit, runTool } from './toolchain.ts';
import { dependencyFlags, isUpToDate, recordCommand } from './compile-cache.ts';

/** Capacities of the board stood in for (firmware/boards/mps2-an386/board.h, link.ld). */
export const NRF52840_FLASH_BYTES = 1024 * 1024;
export const NRF52840_RAM_BYTES = 256 * 1024;

export const CORTEX_M4F_FLAGS: readonly string[] = [
  '-mcpu=cortex-m4',
  '-mthumb',
  '-mfloat-abi=hard',
  '-mfpu=fpv4-sp-d16',
  '-O2',
  '-ffunction-sections',
  '-fdata-sections',
  '-g',
];

/**
 * The native runtime's C (the model reader, runtime glue, kernels' prepare and
 * eval C): compiled with -Os, as the Nano's Arduino recipe compiles everything.
 * Its hot loops are hand-written asm (ports/cortex-m4), which flags do not
 * change; the reader and prepare steps run once, and the C around the loops a
 * few hundred instructions per inference. The rest (app, link, board) and TFLM
 * keep -O2.
 */
const SIZE_FIRST_SOURCE = /^(model|runtime_native|exact_f64|fully_connected_s8[a-z_]*|softmax_s8[a-z_]*)\.c$/;

/** Sources and flags another runtime (TFLM) plugs in. */
export interface FirmwareExtra {
  cSources?: readonly string[];
  cxxSources?: readonly string[];
  includeDirs?: readonly string[];
  /** `NAME` or `NAME=value` */
  defines?: readonly string[];
}

export interface BuildEmulatorOptions {
  /** A model folder holding model_data.h and model_data.cc (from `tinyml export`). */
  modelDir?: string;
  /** Or the .tflite bytes of an int8 model; its C array is generated under outDir. */
  tflite?: Uint8Array;
  /** Default `build/emulator/<model name>/` in the repository. */
  outDir?: string;
  /**
   * 'native': our C runtime (firmware/core). 'tflm': the caller's `extra`
   * provides runtime.h (our reader, kernels and runtime_native.c are left out).
   */
  runtime: 'native' | 'tflm';
  extra?: FirmwareExtra;
  /** Static arena of the native runtime, bytes (-DTML_ARENA_BYTES); default the C default (32 KiB). */
  arenaBytes?: number;
}

export interface MemoryUse {
  /** Bytes the firmware takes. */
  used: number;
  /** Bytes the nRF52840 has. */
  capacity: number;
}

export interface EmulatorFirmware {
  elf: string;
  bin?: string;
  /** text + data (code, constants, the model, .data's initial values). */
  flash: MemoryUse;
  /** data + bss (arena, buffers, the reserved stack). */
  ram: MemoryUse;
  /** arm-none-eabi-size (Berkeley) of the ELF. */
  sizes: { text: number; data: number; bss: number };
}

const CC = 'arm-none-eabi-gcc';
const CXX = 'arm-none-eabi-g++';

/** Compiles and links the emulator firmware; see the module comment. */
export async function buildEmulatorFirmware(options: BuildEmulatorOptions): Promise<EmulatorFirmware> {
  const { modelSourceDir, modelName } = await resolveModel(options);
  const outDir = resolve(options.outDir ?? join(REPO_ROOT, 'build', 'emulator', modelName));
  const objDir = join(outDir, 'obj');
  await mkdir(objDir, { recursive: true });
  const model = options.modelDir === undefined ? await writeModelArray(options.tflite!, outDir) : modelSourceDir;

  const board = join(FIRMWARE_DIR, 'boards', 'mps2-an386');
  const extra = options.extra ?? {};
  const includeDirs = [join(FIRMWARE_DIR, 'include'), join(FIRMWARE_DIR, 'core'), board, model, ...(extra.includeDirs ?? [])];
  const defines = [
    ...(options.arenaBytes !== undefined ? [`TML_ARENA_BYTES=${checkArena(options.arenaBytes)}u`] : []),
    ...(options.runtime === 'native' ? [nativeRuntimeVersion()] : []),
    ...(extra.defines ?? []),
  ];
  const common = [...CORTEX_M4F_FLAGS, ...includeDirs.map((d) => `-I${d}`), ...defines.map((d) => `-D${d}`)];

  const cSources = [...(await coreSources(options.runtime)), ...(await cFiles(board)), ...(extra.cSources ?? [])];
  const cxxSources = [join(model, 'model_data.cc'), ...(extra.cxxSources ?? [])];
  const jobs = [
    ...cSources.map((src) => ({
      src,
      tool: CC,
      flags: ['-std=c11', '-Wall', '-Wextra', '-Werror=implicit-function-declaration', ...(SIZE_FIRST_SOURCE.test(basename(src)) ? ['-Os'] : [])],
    })),
    ...cxxSources.map((src) => ({ src, tool: CXX, flags: ['-std=c++17', '-fno-exceptions', '-fno-rtti', '-fno-threadsafe-statics'] })),
  ];
  const objects = await mapLimit(jobs, Math.max(1, availableParallelism()), async (job) => {
    const obj = join(objDir, `${objectName(job.src)}.o`);
    const command = [job.tool, ...common, ...job.flags, '-c', job.src, '-o', obj];
    if (await isUpToDate(obj, command)) return obj;
    await runTool(job.tool, [...command.slice(1), ...dependencyFlags(obj)], `compiling ${job.src}`);
    await recordCommand(obj, command);
    return obj;
  });

  const elf = join(outDir, 'firmware.elf');
  const linkArgs = [
    ...CORTEX_M4F_FLAGS,
    '-nostartfiles',
    '--specs=nano.specs',
    '--specs=nosys.specs',
    '-Wl,--gc-sections',
    `-Wl,-Map=${join(outDir, 'firmware.map')}`,
    '-T',
    join(board, 'link.ld'),
    ...objects,
    '-lm',
    '-o',
    elf,
  ];
  try {
    await runTool(CXX, linkArgs, 'linking the firmware');
  } catch (err) {
    throw overflowError(err, modelName) ?? err;
  }
  const bin = join(outDir, 'firmware.bin');
  await runTool('arm-none-eabi-objcopy', ['-O', 'binary', elf, bin], 'making the .bin');
  const sizes = parseSize(await runTool('arm-none-eabi-size', ['-B', elf], 'measuring the firmware'));
  return {
    elf,
    bin,
    flash: { used: sizes.text + sizes.data, capacity: NRF52840_FLASH_BYTES },
    ram: { used: sizes.data + sizes.bss, capacity: NRF52840_RAM_BYTES },
    sizes,
  };
}

/** INFO's runtime version for our C runtime (TFLM's comes with its sources: tflm-tree.ts). */
function nativeRuntimeVersion(): string {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  return `TML_RUNTIME_VERSION="native (tinyml-deploy ${version})"`;
}

async function resolveModel(options: BuildEmulatorOptions): Promise<{ modelSourceDir: string; modelName: string }> {
  if ((options.modelDir === undefined) === (options.tflite === undefined)) {
    throw new UsageError('buildEmulatorFirmware: give exactly one of modelDir and tflite');
  }
  if (options.runtime !== 'native' && options.runtime !== 'tflm') {
    throw new UsageError(`buildEmulatorFirmware: runtime '${String(options.runtime)}' is not 'native' or 'tflm'`);
  }
  if (options.modelDir !== undefined) {
    const dir = resolve(options.modelDir);
    for (const f of ['model_data.h', 'model_data.cc']) {
      if (!existsSync(join(dir, f))) {
        throw new DataFormatError(`${join(dir, f)} is missing: run \`tinyml export --model ${options.modelDir}\` first`);
      }
    }
    if (options.runtime === 'native' && !readFileSync(join(dir, 'model_data.h'), 'utf8').includes('g_model_softmax_exp[')) {
      throw new DataFormatError(
        `${join(dir, 'model_data.h')} is from an older tinyml export (no g_model_softmax_exp, the softmax table the native runtime reads): run \`tinyml export --model ${options.modelDir}\` again`,
      );
    }
    return { modelSourceDir: dir, modelName: basename(dir) };
  }
  const model = readTflite(options.tflite!);
  return { modelSourceDir: '', modelName: safeName(model.name) };
}

/** model_data.h/.cc for tflite bytes, written under outDir/model. */
async function writeModelArray(tflite: Uint8Array, outDir: string): Promise<string> {
  const model = readTflite(tflite);
  if (model.kind !== 'int8') throw new UsageError(`model '${model.name}' is float32: the firmware runs int8 models only`);
  const dir = join(outDir, 'model');
  await mkdir(dir, { recursive: true });
  const files = renderCArray(tflite, model);
  await writeFile(join(dir, 'model_data.h'), files.header);
  await writeFile(join(dir, 'model_data.cc'), files.source);
  return dir;
}

async function cFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));
}

/** The portable core; kernels replaced by a port of the same name where one exists. */
async function coreSources(runtime: 'native' | 'tflm'): Promise<string[]> {
  const core = (await cFiles(join(FIRMWARE_DIR, 'core'))).filter(
    (f) => runtime === 'native' || !['runtime_native.c', 'model.c'].includes(basename(f)),
  );
  if (runtime !== 'native') return core;
  const portDir = join(FIRMWARE_DIR, 'ports', 'cortex-m4');
  const ports = new Map((await cFiles(portDir)).map((f) => [basename(f), f]));
  const kernels = (await cFiles(join(FIRMWARE_DIR, 'core', 'kernels'))).map((f) => ports.get(basename(f)) ?? f);
  return [...core, ...kernels];
}

function objectName(src: string): string {
  // Readable and unique: TFLM alone has two kernels/kernel_util.cpp, so the name
  // carries a hash of the whole path.
  const path = resolve(src);
  const tag = createHash('sha1').update(path).digest('hex').slice(0, 8);
  return `${basename(path).replace(/[^A-Za-z0-9_.-]/g, '_')}-${tag}`;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_') || 'model';
}

function checkArena(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < 256 || bytes > NRF52840_RAM_BYTES) {
    throw new UsageError(`arena of ${bytes} bytes: give a whole number of bytes from 256 to ${NRF52840_RAM_BYTES}`);
  }
  return bytes;
}

/** `text data bss dec hex filename` -> numbers. */
export function parseSize(stdout: string): { text: number; data: number; bss: number } {
  const line = stdout.trim().split('\n')[1];
  const m = line?.trim().match(/^(\d+)\s+(\d+)\s+(\d+)\s/);
  if (!m) throw new ToolError('could not read the output of arm-none-eabi-size', 'arm-none-eabi-size', stdout);
  return { text: Number(m[1]), data: Number(m[2]), bss: Number(m[3]) };
}

/** ld's "region `FLASH' overflowed by N bytes" as a one-line error. */
function overflowError(err: unknown, modelName: string): ToolError | null {
  if (!(err instanceof ToolError)) return null;
  const m = err.output.match(/region [`']?(\w+)'? overflowed by (\d+) bytes/);
  if (m) {
    const region = m[1]!;
    const what = region === 'FLASH' ? 'the 1 MB flash' : region === 'RAM' ? 'the 256 KB RAM' : `region ${region}`;
    return new ToolError(
      `firmware for model '${modelName}' does not fit ${what} of the nRF52840: region ${region} overflowed by ${m[2]} bytes`,
      err.tool,
      '',
      { cause: err },
    );
  }
  const a = err.output.match(/tinyml: [^\n]*/);
  if (a) return new ToolError(`model '${modelName}': ${a[0]}`, err.tool, '', { cause: err });
  return null;
}
