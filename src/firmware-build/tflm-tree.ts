/**
 * What it takes to compile TensorFlow Lite Micro from a user's copy of the
 * tflite-micro-arduino-examples library (`--tflm-dir`). We ship no TFLM code:
 * the user points us at their tree and we list its sources for the firmware
 * build (src/firmware-build/build-emulator.ts, `extra`).
 *
 * Layout expected (the library as Arduino installs it, or its `src` folder):
 *
 *   src/tensorflow/lite/...          TFLM, sources named .cpp (.cc accepted)
 *   src/tensorflow/lite/micro/kernels/cmsis_nn/   optimized kernels; in this
 *                                    library they are the only FULLY_CONNECTED
 *                                    and SOFTMAX there are
 *   src/third_party/cmsis_nn/        CMSIS-NN (C)
 *   src/third_party/{flatbuffers,gemmlowp,ruy,cmsis}/   headers only
 *
 * Every include in the library is rooted at `src`, so that is the one include
 * folder. We compile all of TFLM but tests, test helpers and the audio
 * frontend, and all of CMSIS-NN: the linker's --gc-sections keeps what the
 * resolver in firmware/runtime/tflm/runtime_tflm.cc references (the
 * interpreter, FULLY_CONNECTED and SOFTMAX). Choosing files by hand would break
 * with the next TFLM release; compiling a few dozen unused ones costs seconds.
 *
 * Checked against tflite-micro-arduino-examples 7948b85 (2023-12-21) with
 * arm-none-eabi-g++ 12.2 for QEMU mps2-an386 (Cortex-M4).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { FIRMWARE_DIR } from './paths.ts';

/** Our runtime.h implementation on TFLM; the first of `cxxSources`. */
export const TFLM_RUNTIME_SOURCE = join(FIRMWARE_DIR, 'runtime', 'tflm', 'runtime_tflm.cc');

/**
 * What to add to a firmware build so that TFLM provides runtime.h: our adapter
 * (TFLM_RUNTIME_SOURCE) and the TFLM and CMSIS-NN sources. Absolute paths,
 * sorted after the adapter. Fits build-emulator.ts's `extra` as is; the C++
 * flags there already equal `cxxFlags`.
 */
export interface TflmBuildInputs {
  /** The library's `src` folder (the root every include is relative to). */
  readonly srcDir: string;
  readonly cxxSources: string[];
  readonly cSources: string[];
  readonly includeDirs: string[];
  /** Preprocessor defines without `-D`, for C and C++ alike. */
  readonly defines: string[];
  /** Flags for the C++ sources only (TFLM needs C++17 without RTTI or exceptions). */
  readonly cxxFlags: string[];
}

/**
 * TF_LITE_STATIC_MEMORY: no heap in TFLM. ARDUINO: selects this library's
 * int8-only kernel registrations (Register_FULLY_CONNECTED_INT8 and friends are
 * defined by the CMSIS-NN kernels, not inlined in the headers) and leaves
 * DebugLog to runtime_tflm.cc (system_setup.cpp defines it only for the Nano 33
 * BLE). CMSIS_NN names the kernel flavour; CMSIS-NN itself turns on its DSP code
 * (ARM_MATH_DSP) from the compiler's __ARM_FEATURE_DSP, i.e. from -mcpu.
 */
const DEFINES = ['TF_LITE_STATIC_MEMORY', 'ARDUINO', 'CMSIS_NN'];
const CXX_FLAGS = ['-std=c++17', '-fno-rtti', '-fno-exceptions', '-fno-threadsafe-statics'];

/** Files that must exist under `src`; the first missing one is named in the error. */
const REQUIRED = [
  'tensorflow/lite/micro/micro_interpreter.h',
  'tensorflow/lite/micro/micro_mutable_op_resolver.h',
  'tensorflow/lite/schema/schema_generated.h',
  'third_party/flatbuffers/include/flatbuffers/flatbuffers.h',
  'third_party/gemmlowp/fixedpoint/fixedpoint.h',
  'third_party/cmsis_nn/Include/arm_nnfunctions.h',
];

/**
 * Test code, test helpers and the audio frontend (needs kissfft): never linked
 * into firmware. Nor debug_log: runtime_tflm.cc supplies DebugLog (into the
 * device log); this library's debug_log.cpp is empty, upstream's prints to stderr.
 */
const SKIP_FILE = /(_test\.|^test_helper|^kernel_runner\.|^mock_micro_graph\.|^fake_micro_context\.|^debug_log\.)/;
const SKIP_DIR = new Set(['experimental', 'examples', 'testing', 'tools']);

/**
 * @param tflmDir the tflite-micro-arduino-examples library folder, or its `src`
 * @throws UsageError naming the first file the tree lacks
 */
export function tflmBuildInputs(tflmDir: string): TflmBuildInputs {
  const root = resolve(tflmDir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new UsageError(`--tflm-dir ${tflmDir}: no such folder: point it at the tflite-micro-arduino-examples library folder`);
  }
  // The library folder holds `src`; a user may also give `src` itself.
  const givenSrc = !existsSync(join(root, 'src', 'tensorflow')) && basename(root) === 'src';
  const srcDir = givenSrc ? root : join(root, 'src');
  for (const file of REQUIRED) {
    if (!existsSync(join(srcDir, file))) {
      throw new UsageError(`--tflm-dir ${tflmDir}: no ${givenSrc ? '' : 'src/'}${file}: point it at the tflite-micro-arduino-examples library folder`);
    }
  }

  const lite = join(srcDir, 'tensorflow', 'lite');
  const kernels = join(lite, 'micro', 'kernels');
  const tfSources = listSources(lite, (dir) => {
    // Under micro/kernels only the cmsis_nn port folder; other ports (xtensa, ...) are for other chips.
    if (resolve(dir, '..') === kernels) return basename(dir) === 'cmsis_nn';
    return !SKIP_DIR.has(basename(dir));
  }).filter((f) => !SKIP_FILE.test(basename(f)));

  // A cmsis_nn kernel replaces the reference kernel of the same name (the
  // library ships only one of the two, upstream trees both).
  const optimized = new Set(tfSources.filter((f) => resolve(f, '..') === join(kernels, 'cmsis_nn')).map(stem));
  const cxx = tfSources.filter((f) => !(resolve(f, '..') === kernels && optimized.has(stem(f))));
  const kernelNames = new Set(cxx.filter((f) => f.startsWith(kernels)).map(stem));
  for (const op of ['fully_connected', 'softmax']) {
    if (!kernelNames.has(op)) {
      throw new UsageError(`--tflm-dir ${tflmDir}: no ${relative(root, kernels)}/cmsis_nn/${op}.cpp: point it at the tflite-micro-arduino-examples library folder`);
    }
  }

  const cmsisNn = join(srcDir, 'third_party', 'cmsis_nn', 'Source');
  return {
    srcDir,
    cxxSources: [TFLM_RUNTIME_SOURCE, ...cxx.filter((f) => /\.(cc|cpp)$/.test(f)).sort()],
    cSources: [...cxx.filter((f) => f.endsWith('.c')), ...listSources(cmsisNn, () => true).filter((f) => f.endsWith('.c'))].sort(),
    includeDirs: [srcDir],
    defines: [...DEFINES, ...runtimeVersion(root, srcDir)],
    cxxFlags: [...CXX_FLAGS],
  };
}

/**
 * TML_RUNTIME_VERSION (INFO's runtime version) from the library's
 * library.properties (`name` and `version`), when it has one.
 */
function runtimeVersion(root: string, srcDir: string): string[] {
  const props = [join(root, 'library.properties'), join(srcDir, '..', 'library.properties')].find((f) => existsSync(f));
  if (!props) return [];
  const field = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(readFileSync(props, 'utf8'))?.[1]?.trim().replace(/[^\x20-\x7e]|["\\]/g, '');
  const version = field('version');
  if (!version) return [];
  return [`TML_RUNTIME_VERSION="tflm (${field('name') || 'TFLM'} ${version})"`];
}

function stem(file: string): string {
  return basename(file).replace(/\.[^.]+$/, '');
}

/** .c/.cc/.cpp files under `dir`, descending only into folders `enter` accepts. */
function listSources(dir: string, enter: (dir: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (enter(path)) out.push(...listSources(path, enter));
    } else if (/\.(c|cc|cpp)$/.test(entry.name)) {
      out.push(path);
    }
  }
  return out;
}
