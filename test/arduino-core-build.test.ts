/**
 * The parts of the mbed-core build and the size measurement that need no core
 * sources (CI has none): `size -A` parsing as arduino-cli counts, the intrinsic
 * filter, and the one-line errors for a wrong folder or a missing flag. The build
 * itself runs in the opt-in test/arduino-core.test.ts.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { UsageError } from '../src/errors.ts';
import { buildWithArduinoCore, parseSizeA } from '../src/firmware-build/arduino-core-build.ts';

const run = promisify(execFile);

/** `arm-none-eabi-size -A` of an empty sketch linked with the mbed core's linker script. */
const SIZE_A = `tinyml_empty.ino.elf  :
section              size        addr
.text               20764       65536
.ARM.extab            172       86300
.ARM.exidx            416       86472
.data                1672   536871424
.crash_data_ram       256   536871168
.bss                 2928   536873096
.heap              256008   536876024
.stack               1024   537132032
.ARM.attributes        46           0
.comment               38           0
.debug_info        480278           0
Total             1232170
`;

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tinyml-core-build-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('parseSizeA', () => {
  it('counts flash and RAM with arduino-cli\'s recipe.size.regex for the mbed core', () => {
    const s = parseSizeA(SIZE_A);
    assert.equal(s.flash, 20764 + 1672, '.text + .data (+ .rodata*): not .heap, .stack, debug');
    assert.equal(s.ram, 1672 + 2928, '.data + .bss');
    assert.equal(s.flashOther, 172 + 416);
    assert.equal(s.sections['.heap'], 256008);
    assert.equal(s.sections.Total, undefined);
  });
});

describe('buildWithArduinoCore: wrong inputs', () => {
  it('a folder that is not the core is refused in one line', async () => {
    const sketch = join(tmp, 's', 's');
    await mkdir(sketch, { recursive: true });
    await writeFile(join(sketch, 's.ino'), 'void setup() {}\nvoid loop() {}\n');
    await assert.rejects(buildWithArduinoCore({ coreDir: tmp, sketchDir: sketch, buildDir: join(tmp, 'b') }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /is not an ArduinoCore-mbed checkout: platform.txt is missing/);
      return true;
    });
  });

  it('a TFLM sketch without the library folder is refused in one line', async () => {
    const core = join(tmp, 'core');
    await mkdir(join(core, 'cores', 'arduino'), { recursive: true });
    await mkdir(join(core, 'variants', 'ARDUINO_NANO33BLE'), { recursive: true });
    await writeFile(join(core, 'platform.txt'), 'name=Arduino Mbed OS Boards\n');
    await writeFile(join(core, 'variants', 'ARDUINO_NANO33BLE', 'includes.txt'), '');
    const sketch = join(tmp, 't', 't');
    await mkdir(join(sketch, 'src'), { recursive: true });
    await writeFile(join(sketch, 't.ino'), '#include <TensorFlowLite.h>\nvoid setup() {}\nvoid loop() {}\n');
    await assert.rejects(buildWithArduinoCore({ coreDir: core, sketchDir: sketch, buildDir: join(tmp, 'bt') }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /includes <TensorFlowLite.h>: pass the Arduino_TensorFlowLite folder/);
      return true;
    });
  });
});

describe('scripts/measure-nano-sizes.ts', () => {
  it('without --core-dir: one error line, exit 2, nothing built', async () => {
    const out = join(tmp, 'measure');
    const r = await run('node', ['--import', 'tsx', 'scripts/measure-nano-sizes.ts', '--out', out]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --core-dir is required: pass a local ArduinoCore-mbed checkout/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(out), false);
  });
});
