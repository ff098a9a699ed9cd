/**
 * Assembles the Arduino sketch folder for the Nano 33 BLE Sense from the repo's
 * firmware/ tree and a model folder.
 *
 * arduino-cli compiles only a sketch folder (the .ino named like the folder, plus
 * everything under its src/, recursively) and installed libraries, and adds no -I
 * for the sketch's subfolders. So the firmware is FLATTENED into src/:
 *
 *   <outDir>/tinyml_<runtime>/
 *     tinyml_<runtime>.ino     from firmware/boards/nano33ble/sketch.ino.in
 *     src/*.h                  firmware/include/*.h, firmware/core/**\/*.h, the board's *.h,
 *                              firmware/runtime/tflm/*.h (tflm)
 *     src/*.c, src/*.cpp       firmware/core sources (native: all, a kernel replaced by
 *                              firmware/ports/cortex-m4/<same name> where one exists;
 *                              tflm: the top-level ones but runtime_native.c and model.c,
 *                              no kernels), as build-emulator.ts picks them;
 *                              firmware/boards/nano33ble/hal.cpp, runtime_tflm.cpp (tflm)
 *     src/model_data.h/.cpp    the model folder's C array
 *     src/tinyml_config.h      generated: TML_ARENA_BYTES for this model and runtime, and
 *                              TML_RUNTIME_VERSION ("native", "tflm tflite-micro-arduino-examples@7948b85")
 *
 * A file keeps its base name unless two files share it; then it is named after
 * its path under firmware/ ("core/kernels/fc.h" -> "core_kernels_fc.h"). `.cc`
 * becomes `.cpp` (arduino-cli before ~0.31 does not compile .cc in a sketch).
 * Every `#include "x"` that resolves to a copied file (relative to the including
 * file, then firmware/include, firmware/core, the board and runtime folders, as the
 * emulator build's -I would) is rewritten to the flattened name; others (TFLM's
 * "tensorflow/...", system headers) are left alone.
 *
 * Every copied C/C++ source gets two lines on top, `#include "tinyml_config.h"` and
 * `#line 1 "<its path under firmware/>"`: the equivalent of -include, so the arena
 * size reaches the runtimes without build flags (the folder also builds in the
 * Arduino IDE) while compiler messages still name the original file and line.
 * tinyml_config.h guards each macro with #ifndef, so a -D still wins.
 *
 * The folder is written under a temporary name next to its place and renamed
 * when complete, so a failure leaves no half-written sketch.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, posix, relative, resolve, sep } from 'node:path';
import { DataFormatError, UsageError } from '../errors.ts';
import { modelPaths } from '../model/model-dir.ts';
import type { Int8Model } from '../model/types.ts';
import { arenaBytesFor, type RuntimeKind } from './budget.ts';
import { FIRMWARE_DIR } from './paths.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { pinLabel, pinnedZipUrl, runtimeVersion as defaultRuntimeVersion, TFLM_LIBRARY_PIN } from './tflm-pin.ts';
import { exists } from '../util/fs.ts';

/** The board folder this module assembles for. */
export const SKETCH_BOARD = 'nano33ble';

/** Top-level core sources NOT linked with TFLM (our reader and runtime); core/kernels/ is left out too. */
export const TFLM_EXCLUDED_CORE_SOURCES: readonly string[] = ['runtime_native.c', 'model.c'];

/** Optimized kernels for the Nano's Cortex-M4: ports/cortex-m4/<name>.c replaces core/kernels/<name>.c. */
export const KERNEL_PORT_DIR = 'ports/cortex-m4';

/** The TFLM adapter, relative to firmware/. */
export const TFLM_ADAPTER_SOURCE = 'runtime/tflm/runtime_tflm.cc';

/** Header that makes arduino-cli add Arduino_TensorFlowLite to the build (its library.properties `includes`). */
export const TFLM_LIBRARY_HEADER = 'TensorFlowLite.h';

const SOURCE_EXTS = new Set(['.c', '.cc', '.cpp']);
const HEADER_EXTS = new Set(['.h']);
const CONFIG_HEADER = 'tinyml_config.h';

export interface AssembleSketchOptions {
  /** Model folder holding model_int8.tflite, model_data.h and model_data.cc (`tinyml export`). */
  readonly modelDir: string;
  readonly runtime: RuntimeKind;
  /** The sketch folder is created as <outDir>/tinyml_<runtime>/ (replacing an earlier one). */
  readonly outDir: string;
  /** The firmware tree to copy from; default: this repository's firmware/. */
  readonly firmwareDir?: string;
  /** TML_ARENA_BYTES; default arenaBytesFor(model, runtime). */
  readonly arenaBytes?: number;
  /** TML_RUNTIME_VERSION; default "native", or "tflm" and the pinned TFLM library. */
  readonly runtimeVersion?: string;
}

export interface SketchFile {
  /** Where it came from: a path under firmware/, `model:<file>`, or `generated`. */
  readonly from: string;
  /** Path inside the sketch folder, '/'-separated, e.g. "src/app.c". */
  readonly to: string;
}

export interface AssembledSketch {
  /** tinyml_<runtime>: the folder's and the .ino's name. */
  readonly name: string;
  readonly sketchDir: string;
  readonly inoPath: string;
  readonly runtime: RuntimeKind;
  readonly files: readonly SketchFile[];
  readonly arenaBytes: number;
  /** TML_RUNTIME_VERSION as written into tinyml_config.h. */
  readonly runtimeVersion: string;
  readonly model: Int8Model;
  /** Length of the .tflite, i.e. of g_model. */
  readonly modelBytes: number;
}

export function sketchName(runtime: RuntimeKind): string {
  return `tinyml_${runtime}`;
}

export async function assembleSketch(options: AssembleSketchOptions): Promise<AssembledSketch> {
  const { runtime } = options;
  const firmwareDir = resolve(options.firmwareDir ?? FIRMWARE_DIR);
  const name = sketchName(runtime);
  const sketchDir = resolve(options.outDir, name);
  const { model, bytes } = await readInt8Model(options.modelDir);
  const arenaBytes = options.arenaBytes ?? arenaBytesFor(model, runtime);
  if (!Number.isInteger(arenaBytes) || arenaBytes <= 0) throw new UsageError(`arena size ${arenaBytes} is not a positive integer`);
  const runtimeVersion = options.runtimeVersion ?? defaultRuntimeVersion(runtime);
  if (/[\x00-\x1f]/.test(runtimeVersion)) throw new UsageError(`runtime version ${JSON.stringify(runtimeVersion)} has control characters`);

  const modelFiles = await checkModelArray(options.modelDir, bytes.length, runtime);
  const sources = await collectFirmware(firmwareDir, runtime);
  const boardDir = join(firmwareDir, 'boards', SKETCH_BOARD);
  const template = await readFile(join(boardDir, 'sketch.ino.in'), 'utf8');

  // Flattened names: base name (.cc -> .cpp) unless taken twice, then the path under firmware/.
  const entries = [
    ...sources.map((abs) => ({ abs, rel: toPosix(relative(firmwareDir, abs)), fromModel: false })),
    { abs: modelFiles.header, rel: 'model_data.h', fromModel: true },
    { abs: modelFiles.source, rel: 'model_data.cc', fromModel: true },
  ];
  const flatBase = (rel: string) => cppExt(posix.basename(rel));
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(flatBase(e.rel), (counts.get(flatBase(e.rel)) ?? 0) + 1);
  counts.set(CONFIG_HEADER, (counts.get(CONFIG_HEADER) ?? 0) + 1);
  const flatName = new Map<string, string>();
  for (const e of entries) {
    const base = flatBase(e.rel);
    flatName.set(e.abs, counts.get(base) === 1 ? base : cppExt(e.rel.replace(/\//g, '_')));
  }
  const taken = new Set<string>([CONFIG_HEADER]);
  for (const [abs, flat] of flatName) {
    if (taken.has(flat)) throw new UsageError(`cannot flatten ${abs} into the sketch: '${flat}' is already used; rename one of the files`);
    taken.add(flat);
  }

  await checkReplaceable(sketchDir, name);
  const tmpDir = join(dirname(sketchDir), `.${name}.tmp-${process.pid}`);
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(join(tmpDir, 'src'), { recursive: true });
  const searchDirs = [join(firmwareDir, 'include'), join(firmwareDir, 'core'), boardDir, join(firmwareDir, 'runtime', 'tflm')];
  const files: SketchFile[] = [];
  try {
    for (const e of entries) {
      const flat = flatName.get(e.abs)!;
      let text = await readFile(e.abs, 'utf8');
      text = await rewriteIncludes(text, dirname(e.abs), searchDirs, flatName);
      if (!e.fromModel && SOURCE_EXTS.has(extname(e.abs))) {
        text = `#include "${CONFIG_HEADER}" /* added by tinyml-deploy sketch assembly */\n#line 1 "${e.rel}"\n${text}`;
      }
      await writeFile(join(tmpDir, 'src', flat), text);
      files.push({ from: e.fromModel ? `model:${e.rel}` : e.rel, to: `src/${flat}` });
    }
    await writeFile(join(tmpDir, 'src', CONFIG_HEADER), renderConfig(model, bytes.length, runtime, arenaBytes, runtimeVersion));
    files.push({ from: 'generated', to: `src/${CONFIG_HEADER}` });
    await writeFile(join(tmpDir, `${name}.ino`), renderIno(template, model, bytes.length, runtime));
    files.push({ from: `boards/${SKETCH_BOARD}/sketch.ino.in`, to: `${name}.ino` });
    await rm(sketchDir, { recursive: true, force: true });
    await rename(tmpDir, sketchDir);
  } catch (err) {
    await rm(tmpDir, { recursive: true, force: true });
    throw err;
  }
  files.sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
  const inoPath = join(sketchDir, `${name}.ino`);
  return { name, sketchDir, inoPath, runtime, files, arenaBytes, runtimeVersion, model, modelBytes: bytes.length };
}

/** model_data.h/.cc must exist, use the symbol g_model and match the .tflite's length (and, native, hold the softmax table). */
async function checkModelArray(modelDir: string, tfliteLength: number, runtime: RuntimeKind): Promise<{ header: string; source: string }> {
  const paths = modelPaths(modelDir);
  const fix = `run 'tinyml export --model ${modelDir}'`;
  for (const p of [paths.cHeader, paths.cSource]) {
    if (!(await exists(p))) throw new UsageError(`${p} is missing: ${fix}`);
  }
  const header = await readFile(paths.cHeader, 'utf8');
  if (!/extern const unsigned char g_model\[\];/.test(header)) {
    throw new DataFormatError(`${paths.cHeader} does not declare g_model, which the sketch uses: ${fix} (without --symbol)`);
  }
  const len = /#define G_MODEL_LEN (\d+)u?/.exec(header);
  if (!len || Number(len[1]) !== tfliteLength) {
    throw new DataFormatError(
      `${paths.cHeader} is out of date: it holds ${len ? `${len[1]} bytes` : 'no G_MODEL_LEN'}, model_int8.tflite has ${tfliteLength}; ${fix}`,
    );
  }
  if (runtime === 'native' && !header.includes('g_model_softmax_exp[')) {
    throw new DataFormatError(`${paths.cHeader} is from an older tinyml export (no g_model_softmax_exp, the softmax table the native runtime reads): ${fix}`);
  }
  return { header: resolve(paths.cHeader), source: resolve(paths.cSource) };
}

/** Absolute paths of every firmware file the runtime's sketch needs, sorted. */
async function collectFirmware(firmwareDir: string, runtime: RuntimeKind): Promise<string[]> {
  const need = async (dir: string, what: string) => {
    if (!(await exists(dir))) throw new UsageError(`${dir} is missing: the ${what} is needed to build the sketch`);
  };
  const includeDir = join(firmwareDir, 'include');
  const coreDir = join(firmwareDir, 'core');
  const boardDir = join(firmwareDir, 'boards', SKETCH_BOARD);
  await need(includeDir, 'firmware interface (hal.h, runtime.h, ...)');
  await need(coreDir, 'portable firmware core');
  await need(boardDir, `${SKETCH_BOARD} board folder`);

  const out: string[] = [];
  out.push(...(await listFiles(includeDir, false)).filter(isHeader));
  const core = await listFiles(coreDir, true);
  out.push(...core.filter(isHeader));
  const topLevel = core.filter((f) => isSource(f) && dirname(f) === coreDir);
  if (runtime === 'native') {
    const portDir = join(firmwareDir, KERNEL_PORT_DIR);
    const ports = new Map(((await exists(portDir)) ? await listFiles(portDir, false) : []).filter(isSource).map((f) => [basename(f), f]));
    out.push(...core.filter(isSource).map((f) => (dirname(f) === join(coreDir, 'kernels') ? (ports.get(basename(f)) ?? f) : f)));
  } else {
    const linked = topLevel.filter((f) => !TFLM_EXCLUDED_CORE_SOURCES.includes(basename(f)));
    if (linked.length === 0) throw new UsageError(`${coreDir} has no protocol/app sources for the tflm sketch`);
    out.push(...linked);
    const tflmDir = join(firmwareDir, dirname(TFLM_ADAPTER_SOURCE));
    const adapter = join(firmwareDir, TFLM_ADAPTER_SOURCE);
    if (!(await exists(adapter))) throw new UsageError(`${adapter} is missing: --runtime tflm needs the TFLM adapter`);
    out.push(adapter, ...(await listFiles(tflmDir, false)).filter(isHeader));
  }
  out.push(...(await listFiles(boardDir, false)).filter((f) => isHeader(f) || isSource(f)));
  return [...new Set(out)].sort();
}

const INCLUDE_RE = /^([ \t]*#[ \t]*include[ \t]*)"([^"]+)"/gm;

async function rewriteIncludes(text: string, fileDir: string, searchDirs: string[], flatName: Map<string, string>): Promise<string> {
  const replacements = new Map<string, string>();
  for (const m of text.matchAll(INCLUDE_RE)) {
    const target = m[2]!;
    if (replacements.has(target)) continue;
    for (const dir of [fileDir, ...searchDirs]) {
      const candidate = resolve(dir, target);
      if (flatName.has(candidate)) {
        replacements.set(target, flatName.get(candidate)!);
        break;
      }
      if (await exists(candidate)) break; // a real file we do not copy: leave the include alone
    }
  }
  if (replacements.size === 0) return text;
  return text.replace(INCLUDE_RE, (whole, head: string, target: string) =>
    replacements.has(target) ? `${head}"${replacements.get(target)}"` : whole,
  );
}

function renderConfig(model: Int8Model, modelBytes: number, runtime: RuntimeKind, arenaBytes: number, runtimeVersion: string): string {
  const formula =
    runtime === 'native'
      ? 'what runtime_native.c plans for this model (folded biases, multipliers, two ping-pong buffers), rounded up to 16'
      : 'activations plus an estimate of TFLM\'s persistent and per-tensor allocations; TFLM checks it at run time';
  return [
    `/* Generated by tinyml-deploy for int8 model '${oneLine(model.name)}' (${modelBytes} bytes), runtime ${runtime}. Do not edit. */`,
    '#ifndef TINYML_CONFIG_H',
    '#define TINYML_CONFIG_H',
    '',
    `/* Bytes of the static tensor arena: ${formula}. A -D on the command line wins. */`,
    '#ifndef TML_ARENA_BYTES',
    `#define TML_ARENA_BYTES ${arenaBytes}`,
    '#endif',
    '',
    '/* The runtime and, for TFLM, the library version this sketch was made for. A -D on the command line wins. */',
    '#ifndef TML_RUNTIME_VERSION',
    `#define TML_RUNTIME_VERSION ${cString(runtimeVersion)}`,
    '#endif',
    '',
    '#endif',
    '',
  ].join('\n');
}

/** A C string literal (the text has no control characters: assembleSketch checks). */
const cString = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

function renderIno(template: string, model: Int8Model, modelBytes: number, runtime: RuntimeKind): string {
  const includes =
    runtime === 'tflm'
      ? [
          '// arduino-cli adds a library to the build only when the sketch includes one of its',
          '// headers: this one brings in Arduino_TensorFlowLite.',
          `// Made for ${pinLabel()}: in the Arduino IDE, Sketch > Include Library > Add .ZIP Library`,
          `// with ${pinnedZipUrl()}`,
          `// (arduino-cli: lib install --git-url ${TFLM_LIBRARY_PIN.gitUrl}#${TFLM_LIBRARY_PIN.commit}).`,
          `#include <${TFLM_LIBRARY_HEADER}>`,
          '',
        ].join('\n')
      : '';
  const note =
    runtime === 'tflm'
      ? 'TensorFlow Lite Micro runs the model, our core does the protocol and app loop'
      : 'our C core (model reader and int8 kernels) runs the model';
  const values: Record<string, string> = {
    BANNER: `Generated by tinyml-deploy for int8 model '${oneLine(model.name)}' (${modelBytes} bytes). Do not edit.`,
    RUNTIME: runtime,
    RUNTIME_NOTE: note,
    RUNTIME_INCLUDES: includes,
  };
  return template.replace(/@([A-Z_]+)@/g, (whole, key: string) => {
    if (!(key in values)) throw new DataFormatError(`sketch.ino.in: unknown placeholder ${whole}`);
    return values[key]!;
  });
}

/** An earlier sketch folder of ours may be replaced; anything else there is refused. */
async function checkReplaceable(sketchDir: string, name: string): Promise<void> {
  if (!(await exists(sketchDir))) return;
  const ino = join(sketchDir, `${name}.ino`);
  const ours = (await exists(ino)) && (await readFile(ino, 'utf8')).includes('Generated by tinyml-deploy');
  if (!ours) throw new UsageError(`${sketchDir} exists and is not a sketch tinyml-deploy made: choose another --out or remove it`);
}

async function listFiles(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...(await listFiles(p, true)));
    } else if (entry.isFile()) out.push(p);
  }
  return out;
}

const isHeader = (f: string) => HEADER_EXTS.has(extname(f));
const isSource = (f: string) => SOURCE_EXTS.has(extname(f));
const cppExt = (name: string) => (name.endsWith('.cc') ? `${name.slice(0, -3)}.cpp` : name);
const toPosix = (p: string) => p.split(sep).join('/');
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ').replace(/\*\//g, '* /');

/**
 * One line: how to build and upload the sketch in the Arduino IDE, for when
 * arduino-cli is not there. The core's Boards Manager name and the board's menu
 * name are the ones ArduinoCore-mbed's package index and boards.txt give.
 */
export function arduinoIdeSteps(sketch: Pick<AssembledSketch, 'sketchDir' | 'inoPath' | 'runtime'>): string {
  const library =
    sketch.runtime === 'tflm'
      ? ` and the library ${TFLM_LIBRARY_PIN.name} at ${pinLabel()} (Sketch > Include Library > Add .ZIP Library, with ${pinnedZipUrl()})`
      : ' (no library: the native runtime is all in src/)';
  return (
    `the sketch is ready in ${sketch.sketchDir}: in the Arduino IDE open ${sketch.inoPath}, ` +
    `install the core 'Arduino Mbed OS Nano Boards' (Tools > Board > Boards Manager)${library}, ` +
    'select Tools > Board > Arduino Mbed OS Nano Boards > Arduino Nano 33 BLE and the port, then Upload'
  );
}
