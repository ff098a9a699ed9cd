/**
 * Measures what the native and TFLM runtimes cost on the Arduino Nano 33 BLE:
 * builds an empty sketch and each runtime's assembled sketch (for a 784-20-10 and
 * a 784-128-10 model, random weights: only the sizes matter) with the mbed core's
 * own recipe and flags, partial-linked without libmbed.a, and prints the table
 * budget.ts takes its figures from. Nothing is downloaded: pass local copies.
 *
 *   node --import tsx scripts/measure-nano-sizes.ts --core-dir <ArduinoCore-mbed> \
 *     [--tflm-dir <tflite-micro-arduino-examples>] [--out build/nano-sizes] [--json]
 *
 * The first run compiles the core (~30 files) and TFLM (~220 files): some
 * minutes on 2 cores; later runs reuse the objects under <out>/cache.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TinymlError, UsageError } from '../src/errors.ts';
import { renderCArray } from '../src/export/c-array.ts';
import { formatNanoSizes, measureNanoSizes } from '../src/firmware-build/nano-sizes.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { randomInt8Model } from './golden-vectors.ts';

const MODELS: ReadonlyArray<readonly [name: string, widths: number[]]> = [
  ['h20', [784, 20, 10]],
  ['h128', [784, 128, 10]],
];

async function writeModelFolder(dir: string, name: string, widths: number[]): Promise<string> {
  const modelDir = join(dir, name);
  await mkdir(modelDir, { recursive: true });
  const model = randomInt8Model(name, widths, 7);
  const bytes = writeTflite(model);
  const { header, source } = renderCArray(bytes, model);
  await writeFile(join(modelDir, 'model_int8.tflite'), bytes);
  await writeFile(join(modelDir, 'model_data.h'), header);
  await writeFile(join(modelDir, 'model_data.cc'), source);
  return modelDir;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'core-dir': { type: 'string' },
      'tflm-dir': { type: 'string' },
      out: { type: 'string', default: 'build/nano-sizes' },
      json: { type: 'boolean', default: false },
    },
  });
  const coreDir = values['core-dir'];
  if (!coreDir) throw new UsageError('--core-dir is required: pass a local ArduinoCore-mbed checkout (the folder with platform.txt)');
  const outDir = resolve(values.out!);
  const modelDirs = [];
  for (const [name, widths] of MODELS) modelDirs.push(await writeModelFolder(join(outDir, 'models'), name, widths));
  let compiled = 0;
  const sizes = await measureNanoSizes({
    coreDir,
    tflmDir: values['tflm-dir'],
    modelDirs,
    outDir,
    onCompile: () => {
      compiled++;
      if (!values.json && process.stderr.isTTY) process.stderr.write(`\rcompiled ${compiled} sources`);
    },
  });
  if (!values.json && process.stderr.isTTY) process.stderr.write('\n');
  if (values.json) {
    const plain = [sizes.empty, ...sizes.sketches].map(({ build, ...s }) => ({ ...s, sections: build.sizes.sections, sketchWarnings: build.messages.filter((m) => m.part === 'sketch'), unresolved: build.unresolved.length }));
    console.log(JSON.stringify(plain, null, 2));
    return;
  }
  console.log(formatNanoSizes(sizes));
  console.log('flash: .text + .rodata + .data, RAM: .data + .bss (arduino-cli recipe.size.regex); runtime = sketch - empty sketch - model (flash) or arena (RAM)');
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`error: ${message}`);
  process.exitCode = err instanceof TinymlError ? err.exitCode : 1;
});
