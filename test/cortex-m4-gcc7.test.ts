/**
 * The Nano 33 BLE's core pins arm-none-eabi-gcc 7-2017q4, whose <arm_acle.h> has
 * no __sxtb16 / __smlad: a kernel calling them compiles with an implicit
 * declaration and fails at link with an undefined reference. This compiles the
 * C/C++ of the native sketch (as assembleSketch stages it, the Cortex-M4 port
 * included) with the installed arm-none-eabi-gcc, an EMPTY arm_acle.h ahead on
 * the include path (what GCC 7 offers for these intrinsics) and the core's
 * language and target flags, then asserts with `arm-none-eabi-nm -u` that no
 * builtin-looking name is left for the linker to find.
 *
 * hal.cpp needs the mbed core's headers: it is compiled, with the rest, by the
 * opt-in test/arduino-core.test.ts against a real core.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ARM_TARGET_FLAGS, builtinLookingSymbols, undefinedSymbols } from '../src/firmware-build/arduino-core-build.ts';
import { assembleSketch } from '../src/firmware-build/sketch.ts';
import { writeInt8ModelFolder } from './helpers/random-model.ts';

const run = promisify(execFile);

let tmp: string;
let haveToolchain = true;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tinyml-gcc7-'));
  try {
    await run('arm-none-eabi-gcc', ['--version']);
  } catch {
    haveToolchain = false;
  }
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('Cortex-M4 sources without ACLE intrinsics (GCC 7)', () => {
  it('builtinLookingSymbols keeps ACLE-style names and leaves the ABI helpers alone', () => {
    assert.deepEqual(
      builtinLookingSymbols(['__sxtb16', '__smlad', '__aeabi_uidiv', '__cxa_pure_virtual', 'memcpy', '__ssat', '__builtin_arm_smlad', '__errno']),
      ['__sxtb16', '__smlad', '__ssat', '__builtin_arm_smlad'],
    );
  });

  it('the native sketch compiles with an empty arm_acle.h and leaves no intrinsic undefined', async (t) => {
    if (!haveToolchain) {
      t.skip('arm-none-eabi-gcc is not installed');
      return;
    }
    const modelDir = join(tmp, 'model');
    await writeInt8ModelFolder(modelDir, [20]);
    const sketch = await assembleSketch({ modelDir, runtime: 'native', outDir: join(tmp, 'sketch') });
    const gcc7 = join(tmp, 'gcc7-include');
    await mkdir(gcc7);
    await writeFile(join(gcc7, 'arm_acle.h'), '/* GCC 7: no __sxtb16, no __smlad */\n');

    const src = join(sketch.sketchDir, 'src');
    const compiled: string[] = [];
    const undefinedByFile: Record<string, string[]> = {};
    for (const f of (await readdir(src)).sort()) {
      const isC = f.endsWith('.c');
      if (!isC && !f.endsWith('.cpp')) continue;
      if (/#include\s*<Arduino\.h>/.test(await readFile(join(src, f), 'utf8'))) continue;
      const obj = join(tmp, `${f}.o`);
      const [cc, std] = isC ? ['arm-none-eabi-gcc', '-std=gnu11'] : ['arm-none-eabi-g++', '-std=gnu++14'];
      await run(cc, ['-c', std, '-Os', ...ARM_TARGET_FLAGS, '-I', gcc7, join(src, f), '-o', obj]);
      compiled.push(f);
      const bad = builtinLookingSymbols(await undefinedSymbols(obj));
      if (bad.length > 0) undefinedByFile[f] = bad;
    }
    const port = sketch.files.find((f) => f.from.startsWith('ports/cortex-m4/'));
    assert.ok(port, 'the native sketch carries the Cortex-M4 port');
    assert.ok(compiled.includes(port.to.replace('src/', '')), `${port.to} was compiled`);
    for (const f of ['app.c', 'protocol.c', 'runtime_native.c', 'model.c', 'model_data.cpp']) assert.ok(compiled.includes(f), f);
    assert.deepEqual(undefinedByFile, {}, 'intrinsics left for the linker, which GCC 7 cannot resolve');
  });
});
