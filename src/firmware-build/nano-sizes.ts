/**
 * What each runtime costs on the Nano 33 BLE, measured: an empty sketch and the
 * assembled sketch of each runtime (for one or more models) are compiled with the
 * mbed core's recipe and partial-linked (arduino-core-build.ts); a runtime's share
 * is its sketch minus the empty sketch minus the per-model parts (the model array
 * in flash, the tensor arena in RAM). Two models of different sizes show whether
 * that share really is independent of the model.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { buildWithArduinoCore, type ArduinoCoreBuild } from './arduino-core-build.ts';
import type { RuntimeKind } from './budget.ts';
import { assembleSketch } from './sketch.ts';

/** The empty sketch arduino-cli's "Sketch uses N bytes" figures are quoted for. */
const EMPTY_INO = 'void setup() {}\n\nvoid loop() {}\n';

/** An empty arm_acle.h ahead on the include path: what GCC 7-2017q4 (the core's pinned compiler) offers for __sxtb16/__smlad. */
const GCC7_ARM_ACLE = '/* Stands in for arm-none-eabi-gcc 7-2017q4: no __sxtb16, no __smlad. */\n';

export interface NanoSizesOptions {
  readonly coreDir: string;
  /** Arduino_TensorFlowLite folder; without it only the native runtime is measured. */
  readonly tflmDir?: string;
  /** Model folders (model_int8.tflite, model_data.h/.cc) to build each runtime with. */
  readonly modelDirs: readonly string[];
  /** Scratch: sketches, objects, ELFs. */
  readonly outDir: string;
  readonly onCompile?: (source: string) => void;
}

export interface MeasuredSketch {
  readonly label: string;
  readonly runtime: RuntimeKind | 'empty';
  readonly model: string | null;
  readonly flash: number;
  readonly ram: number;
  /** Model array and tensor arena (0 for the empty sketch). */
  readonly modelBytes: number;
  readonly arenaBytes: number;
  /** flash - empty flash - modelBytes, ram - empty ram - arenaBytes. */
  readonly runtimeFlash: number;
  readonly runtimeRam: number;
  readonly build: ArduinoCoreBuild;
}

export interface NanoSizes {
  readonly empty: MeasuredSketch;
  readonly sketches: readonly MeasuredSketch[];
}

/** The folder holding an empty arm_acle.h, created under `dir`. */
export async function gcc7AcleDir(dir: string): Promise<string> {
  const d = join(dir, 'gcc7-arm-acle');
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'arm_acle.h'), GCC7_ARM_ACLE);
  return d;
}

export async function measureNanoSizes(options: NanoSizesOptions): Promise<NanoSizes> {
  const outDir = resolve(options.outDir);
  const cacheDir = join(outDir, 'cache');
  const includeFirst = [await gcc7AcleDir(outDir)];
  const build = (sketchDir: string, label: string) =>
    buildWithArduinoCore({ coreDir: options.coreDir, tflmDir: options.tflmDir, sketchDir, buildDir: join(outDir, 'build', label), cacheDir, includeFirst, onCompile: options.onCompile });

  const emptyDir = join(outDir, 'sketches', 'empty', 'tinyml_empty');
  await mkdir(emptyDir, { recursive: true });
  await writeFile(join(emptyDir, 'tinyml_empty.ino'), EMPTY_INO);
  const emptyBuild = await build(emptyDir, 'empty');
  const empty: MeasuredSketch = {
    label: 'empty sketch',
    runtime: 'empty',
    model: null,
    flash: emptyBuild.sizes.flash,
    ram: emptyBuild.sizes.ram,
    modelBytes: 0,
    arenaBytes: 0,
    runtimeFlash: 0,
    runtimeRam: 0,
    build: emptyBuild,
  };

  const runtimes: RuntimeKind[] = options.tflmDir ? ['native', 'tflm'] : ['native'];
  const sketches: MeasuredSketch[] = [];
  for (const runtime of runtimes) {
    for (const modelDir of options.modelDirs) {
      const model = basename(resolve(modelDir));
      const sketch = await assembleSketch({ modelDir, runtime, outDir: join(outDir, 'sketches', model) });
      const b = await build(sketch.sketchDir, `${runtime}-${model}`);
      sketches.push({
        label: `${runtime}, ${model}`,
        runtime,
        model,
        flash: b.sizes.flash,
        ram: b.sizes.ram,
        modelBytes: sketch.modelBytes,
        arenaBytes: sketch.arenaBytes,
        runtimeFlash: b.sizes.flash - empty.flash - sketch.modelBytes,
        runtimeRam: b.sizes.ram - empty.ram - sketch.arenaBytes,
        build: b,
      });
    }
  }
  return { empty, sketches };
}

/** The table the measuring script prints. */
export function formatNanoSizes(sizes: NanoSizes): string {
  const head = ['sketch', 'flash', 'RAM', 'model', 'arena', 'runtime flash', 'runtime RAM', 'warnings', 'intrinsics'];
  const rows = [sizes.empty, ...sizes.sketches].map((s) => [
    s.label,
    s.flash,
    s.ram,
    s.modelBytes,
    s.arenaBytes,
    s.runtime === 'empty' ? '-' : s.runtimeFlash,
    s.runtime === 'empty' ? '-' : s.runtimeRam,
    s.build.messages.filter((m) => m.part === 'sketch').length,
    s.build.sketchIntrinsics.join(' ') || 'none',
  ].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}
