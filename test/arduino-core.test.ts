/**
 * Opt-in: the staged Nano 33 BLE sketch, for both runtimes, compiled with the real
 * ArduinoCore-mbed recipe and flags (compile + partial link, no libmbed.a; see
 * src/firmware-build/arduino-core-build.ts), with an empty arm_acle.h ahead on the
 * include path as GCC 7-2017q4 (the core's pinned compiler) would have it.
 * Asserts: no compile error, no macro redefinition warning (the core defines
 * BOARD_NAME, for one), no warning at all from our sketch's own sources, no
 * intrinsic left undefined; prints the sizes. And that budget.ts's figures for
 * each runtime cover what the runtime measures here (scripts/measure-nano-sizes.ts's
 * computation: sketch - empty sketch - model array / arena).
 *
 *   TINYML_ARDUINO_CORE_DIR=<ArduinoCore-mbed, with libraries/> \
 *   TINYML_TFLM_DIR=<tflite-micro-arduino-examples> \
 *   node --import tsx --test test/arduino-core.test.ts
 *
 * Without the folders (CI has neither) the tests are skipped. The first run
 * compiles the core and TFLM (minutes); the objects are kept in
 * $TINYML_ARDUINO_BUILD_DIR/cache (default build/nano-sizes, the same layout as
 * scripts/measure-nano-sizes.ts --out, so the two share them).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildWithArduinoCore, builtinLookingSymbols } from '../src/firmware-build/arduino-core-build.ts';
import { BOARDS, type RuntimeKind } from '../src/firmware-build/budget.ts';
import { gcc7AcleDir, measureNanoSizes } from '../src/firmware-build/nano-sizes.ts';
import { assembleSketch } from '../src/firmware-build/sketch.ts';
import { writeInt8ModelFolder } from './helpers/random-model.ts';

const CORE_DIR = process.env.TINYML_ARDUINO_CORE_DIR;
const TFLM_DIR = process.env.TINYML_TFLM_DIR;
const BUILD = resolve(process.env.TINYML_ARDUINO_BUILD_DIR ?? join('build', 'nano-sizes'));
const hasGcc = spawnSync('arm-none-eabi-g++', ['--version'], { stdio: 'ignore' }).status === 0;

function skipReason(runtime: RuntimeKind): string | false {
  if (!CORE_DIR) return 'set TINYML_ARDUINO_CORE_DIR to an ArduinoCore-mbed checkout (with libraries/) to compile the sketch with the core\'s recipe';
  if (!existsSync(join(CORE_DIR, 'platform.txt'))) return `TINYML_ARDUINO_CORE_DIR=${CORE_DIR} has no platform.txt`;
  if (!hasGcc) return 'needs arm-none-eabi-g++';
  if (runtime === 'tflm' && !TFLM_DIR) return 'set TINYML_TFLM_DIR to a tflite-micro-arduino-examples folder as well for the tflm sketch';
  return false;
}

let tmp: string | undefined;
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the staged sketch with the real mbed core recipe (GCC 7 headers)', () => {
  for (const runtime of ['native', 'tflm'] as const) {
    it(`${runtime}: compiles, no redefined macros, no warnings in our sources, no undefined intrinsics`, { skip: skipReason(runtime), timeout: 60 * 60_000 }, async (t) => {
      tmp ??= await mkdtemp(join(tmpdir(), 'tinyml-arduino-core-'));
      const modelDir = join(tmp, `model-${runtime}`);
      await writeInt8ModelFolder(modelDir, [20]);
      const sketch = await assembleSketch({ modelDir, runtime, outDir: join(tmp, 'sketches') });
      const build = await buildWithArduinoCore({
        coreDir: CORE_DIR!,
        tflmDir: runtime === 'tflm' ? TFLM_DIR : undefined,
        sketchDir: sketch.sketchDir,
        buildDir: join(BUILD, 'build', `test-${runtime}`),
        cacheDir: join(BUILD, 'cache'),
        includeFirst: [await gcc7AcleDir(BUILD)],
      });
      const redefined = build.messages.filter((m) => /redefined|redefinition/.test(m.text));
      assert.deepEqual(redefined.map((m) => `${m.source}: ${m.text}`), [], 'macro or symbol redefinitions');
      const ours = build.messages.filter((m) => m.part === 'sketch');
      assert.deepEqual(ours.map((m) => `${m.source}: ${m.text}`), [], 'warnings from the sketch sources');
      assert.deepEqual(build.sketchIntrinsics, [], 'intrinsics the sketch leaves for the linker');
      assert.deepEqual(builtinLookingSymbols(build.unresolved), [], 'intrinsics unresolved in the linked ELF');
      if (runtime === 'tflm') assert.ok(build.libraries.some((l) => existsSync(join(l, 'src', 'TensorFlowLite.h'))), 'TFLM was linked');
      assert.ok(build.sizes.flash > sketch.modelBytes, 'the model array is in flash');
      const budgetCost = BOARDS.nano33ble.runtimeCost[runtime];
      const { empty } = await measureNanoSizes({ coreDir: CORE_DIR!, modelDirs: [], outDir: BUILD });
      const runtimeFlash = build.sizes.flash - empty.flash - sketch.modelBytes;
      const runtimeRam = build.sizes.ram - empty.ram - sketch.arenaBytes;
      assert.ok(runtimeFlash <= budgetCost.flash, `${runtime} measures ${runtimeFlash} bytes of flash, budget.ts charges ${budgetCost.flash}`);
      assert.ok(runtimeRam <= budgetCost.ram, `${runtime} measures ${runtimeRam} bytes of RAM, budget.ts charges ${budgetCost.ram}`);
      t.diagnostic(`${runtime}: runtime share ${runtimeFlash} flash, ${runtimeRam} RAM (budget.ts: ${budgetCost.flash}, ${budgetCost.ram})`);
      t.diagnostic(
        `${runtime}: flash ${build.sizes.flash} (model ${sketch.modelBytes}), RAM ${build.sizes.ram} (arena ${sketch.arenaBytes}); ` +
          `${build.objects} objects (${build.compiled} compiled now), ${build.messages.length} sources with warnings (core/libraries), ` +
          `${build.unresolved.length} symbols left to libmbed.a; libraries: ${build.libraries.map((l) => l.split('/').pop()).join(', ') || 'none'}`,
      );
    });
  }
});
