import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DataFormatError, UsageError } from '../src/errors.ts';
import { arenaBytesFor } from '../src/firmware-build/budget.ts';
import { assembleSketch } from '../src/firmware-build/sketch.ts';
import { readInt8Model } from '../src/model/int8-file.ts';
import { writeInt8ModelFolder } from './helpers/random-model.ts';

const run = promisify(execFile);
const REPO_FIRMWARE = 'firmware';
/** A 784-128-10 int8 model folder made in before(): CI has no models/. */
let MODEL_DIR: string;

/** Just enough of the Arduino mbed core for -fsyntax-only: Serial (USB CDC), micros(), yield(), CMSIS DWT, USBSerial. */
const FAKE_ARDUINO_H = `#pragma once
#include <stddef.h>
#include <stdint.h>
class SerialUSBStandIn {
 public:
  void begin(unsigned long baud);
  int available(void);
  int read(void);
  size_t write(const uint8_t *data, size_t n);
  size_t write(uint8_t byte);
  explicit operator bool();
};
extern SerialUSBStandIn Serial;
unsigned long micros(void);
void yield(void);
`;
/** The mbed core's USB/PluggableUSBSerial.h: the USBSerial behind Serial, and its non-blocking send. */
const FAKE_USB_SERIAL_H = `#pragma once
#include <stdint.h>
namespace arduino {
class USBSerial {
 public:
  bool connected();
  void send_nb(uint8_t *buffer, uint32_t size, uint32_t *actual, bool now = true);
};
}
extern arduino::USBSerial _SerialUSB;
`;
const FAKE_CMSIS_H = `#pragma once
#include <stdint.h>
typedef struct { volatile uint32_t DHCSR, DCRSR, DCRDR, DEMCR; } CoreDebug_Type;
typedef struct { volatile uint32_t CTRL, CYCCNT; } DWT_Type;
#define CoreDebug ((CoreDebug_Type *)0xE000EDF0UL)
#define DWT ((DWT_Type *)0xE0001000UL)
#define CoreDebug_DEMCR_TRCENA_Msk (1UL << 24)
#define DWT_CTRL_CYCCNTENA_Msk (1UL)
`;

/**
 * A stand-in firmware/core (the real one is written concurrently) shaped to test
 * flattening: a subfolder, two headers named util.h, includes relative to the file
 * and to firmware/include, and a runtime that needs TML_ARENA_BYTES.
 */
const FIXTURE_CORE: Record<string, string> = {
  'core/util.h': '#ifndef CORE_UTIL_H\n#define CORE_UTIL_H\n#include <stdint.h>\nstatic inline uint32_t util_min(uint32_t a, uint32_t b) { return a < b ? a : b; }\n#endif\n',
  'core/kernels/util.h': '#ifndef KERNELS_UTIL_H\n#define KERNELS_UTIL_H\n#include <stdint.h>\nstatic inline int32_t clamp8(int32_t v) { return v < -128 ? -128 : v > 127 ? 127 : v; }\n#endif\n',
  'core/kernels/fully_connected.h':
    '#ifndef FC_H\n#define FC_H\n#include <stdint.h>\nvoid fc_s8(const int8_t *in, int8_t *out, int n);\n#endif\n',
  'core/kernels/fully_connected.c':
    '#include "fully_connected.h"\n#include "util.h"\nvoid fc_s8(const int8_t *in, int8_t *out, int n) { for (int i = 0; i < n; i++) out[i] = (int8_t)clamp8(in[i] * 2); }\n',
  // The Cortex-M4 port replaces core/kernels/fully_connected.c (same name), as in build-emulator.ts.
  'ports/cortex-m4/fully_connected.c':
    '#include "kernels/fully_connected.h"\n#include "kernels/util.h"\nvoid fc_s8(const int8_t *in, int8_t *out, int n) { for (int i = 0; i < n; i++) out[i] = (int8_t)clamp8(in[i] + 1); }\n',
  'core/protocol.c': [
    '#include "protocol.h"',
    'uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t n) {',
    '  crc = ~crc;',
    '  for (size_t i = 0; i < n; i++) { crc ^= data[i]; for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u))); }',
    '  return ~crc;',
    '}',
    'size_t proto_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst) { (void)src; (void)dst; return n; }',
    'long proto_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst) { (void)src; (void)dst; return (long)n; }',
    '',
  ].join('\n'),
  'core/app.c': [
    '#include "app.h"',
    '#include "hal.h"',
    '#include "protocol.h"',
    '#include "runtime.h"',
    '#include "util.h"',
    'static runtime_info_t g_info;',
    'static uint32_t g_crc;',
    'void app_init(const uint8_t *model, uint32_t model_len) {',
    '  g_crc = proto_crc32(0, model, model_len);',
    '  (void)runtime_init(model, model_len, &g_info);',
    '}',
    'void app_poll(void) {',
    '  int c;',
    '  while ((c = hal_serial_read_byte()) >= 0) { uint8_t b = (uint8_t)c; hal_serial_write(&b, util_min(1u, g_crc | 1u)); }',
    '}',
    '',
  ].join('\n'),
  'core/runtime_native.c': [
    '#include "runtime.h"',
    '#include "hal.h"',
    '#include "kernels/fully_connected.h"',
    '#ifndef TML_ARENA_BYTES',
    '#error "TML_ARENA_BYTES is not defined"',
    '#endif',
    'static int8_t g_arena[TML_ARENA_BYTES];',
    'tml_status_t runtime_init(const uint8_t *model, uint32_t model_len, runtime_info_t *info) {',
    '  (void)model; (void)model_len; info->kind = RUNTIME_NATIVE; info->arena_size = sizeof g_arena; return TML_OK;',
    '}',
    'tml_status_t runtime_invoke(const int8_t *input, int8_t *output, uint32_t *cycles) {',
    '  uint32_t t0 = hal_cycles_now(); fc_s8(input, output, 10); *cycles = hal_cycles_now() - t0; return TML_OK;',
    '}',
    '',
  ].join('\n'),
  'runtime/tflm/runtime_tflm.cc': [
    '#include "runtime.h"',
    '#include "hal.h"',
    '#include "tensorflow/lite/micro/micro_interpreter.h"',
    'alignas(16) static uint8_t g_arena[TML_ARENA_BYTES];',
    '',
  ].join('\n'),
};

let tmp: string;
let fixtureFirmware: string;
let fakeInclude: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tinyml-sketch-'));
  MODEL_DIR = join(tmp, 'default');
  await writeInt8ModelFolder(MODEL_DIR, [128]);
  fixtureFirmware = join(tmp, 'firmware');
  await cp(join(REPO_FIRMWARE, 'include'), join(fixtureFirmware, 'include'), { recursive: true });
  await cp(join(REPO_FIRMWARE, 'boards', 'nano33ble'), join(fixtureFirmware, 'boards', 'nano33ble'), { recursive: true });
  for (const [rel, text] of Object.entries(FIXTURE_CORE)) {
    await mkdir(join(fixtureFirmware, rel, '..'), { recursive: true });
    await writeFile(join(fixtureFirmware, rel), text);
  }
  fakeInclude = join(tmp, 'fake-arduino');
  await mkdir(fakeInclude);
  await writeFile(join(fakeInclude, 'Arduino.h'), FAKE_ARDUINO_H);
  await writeFile(join(fakeInclude, 'cmsis.h'), FAKE_CMSIS_H);
  await mkdir(join(fakeInclude, 'USB'));
  await writeFile(join(fakeInclude, 'USB', 'PluggableUSBSerial.h'), FAKE_USB_SERIAL_H);
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** -fsyntax-only over every source of a sketch, as C (gcc) or C++ (g++), and the .ino as Arduino's builder does. */
async function syntaxCheck(sketchDir: string, name: string, arm = false): Promise<string[]> {
  const checked: string[] = [];
  const src = join(sketchDir, 'src');
  // arm: the mbed core's target flags (variants/ARDUINO_NANO33BLE), for sources with Cortex-M4 intrinsics.
  const [cc, cxx, target] = arm
    ? ['arm-none-eabi-gcc', 'arm-none-eabi-g++', ['-mcpu=cortex-m4', '-mthumb', '-mfloat-abi=softfp', '-mfpu=fpv4-sp-d16']]
    : ['gcc', 'g++', []];
  const cxxFlags = ['-fsyntax-only', '-std=gnu++14', '-Wall', ...target, '-I', fakeInclude];
  for (const f of (await readdir(src)).sort()) {
    if (f.endsWith('.c')) {
      await run(cc, ['-fsyntax-only', '-std=gnu11', '-Wall', ...target, '-I', fakeInclude, join(src, f)]);
    } else if (f.endsWith('.cpp')) {
      await run(cxx, [...cxxFlags, join(src, f)]);
    } else continue;
    checked.push(f);
  }
  await run(cxx, [...cxxFlags, '-x', 'c++', '-include', 'Arduino.h', join(sketchDir, `${name}.ino`)]);
  checked.push(`${name}.ino`);
  return checked;
}

describe('assembleSketch', () => {
  it('native: one flat src/ folder, unique names, rewritten includes, tinyml_config.h', async () => {
    const out = join(tmp, 'out-native');
    const sketch = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: out, firmwareDir: fixtureFirmware });
    assert.equal(sketch.name, 'tinyml_native');
    assert.equal(sketch.sketchDir, join(out, 'tinyml_native'));
    assert.deepEqual((await readdir(sketch.sketchDir)).sort(), ['src', 'tinyml_native.ino']);
    const src = (await readdir(join(sketch.sketchDir, 'src'))).sort();
    assert.deepEqual(src, [
      'app.c',
      'app.h',
      'board.h',
      'core_kernels_util.h',
      'core_util.h',
      'fully_connected.c',
      'fully_connected.h',
      'hal.cpp',
      'hal.h',
      'image_codec.h',
      'log.h',
      'model_data.cpp',
      'model_data.h',
      'protocol.c',
      'protocol.h',
      'runtime.h',
      'runtime_native.c',
      'status.h',
      'tinyml_config.h',
    ]);
    assert.deepEqual(
      sketch.files.map((f) => f.to),
      [...src.map((f) => `src/${f}`), 'tinyml_native.ino'],
    );
    assert.deepEqual(sketch.files.find((f) => f.to === 'src/core_kernels_util.h'), { from: 'core/kernels/util.h', to: 'src/core_kernels_util.h' });
    assert.deepEqual(sketch.files.find((f) => f.to === 'src/model_data.cpp'), { from: 'model:model_data.cc', to: 'src/model_data.cpp' });

    const read = (f: string) => readFile(join(sketch.sketchDir, 'src', f), 'utf8');
    // The port, not the reference kernel; its includes resolve through firmware/core like -I.
    assert.deepEqual(sketch.files.find((f) => f.to === 'src/fully_connected.c'), { from: 'ports/cortex-m4/fully_connected.c', to: 'src/fully_connected.c' });
    const fc = await read('fully_connected.c');
    assert.match(fc, /^#include "tinyml_config.h" \/\* added by tinyml-deploy sketch assembly \*\/\n#line 1 "ports\/cortex-m4\/fully_connected.c"\n/);
    assert.match(fc, /#include "fully_connected.h"\n#include "core_kernels_util.h"\n/);
    assert.match(await read('app.c'), /#include "app.h"\n#include "hal.h"\n#include "protocol.h"\n#include "runtime.h"\n#include "core_util.h"\n/);
    assert.match(await read('runtime_native.c'), /#include "fully_connected.h"/);
    assert.doesNotMatch(await read('hal.h'), /tinyml_config/, 'headers are copied as they are');

    const arena = arenaBytesFor((await readInt8Model(MODEL_DIR)).model, 'native');
    assert.equal(sketch.arenaBytes, arena);
    assert.match(await read('tinyml_config.h'), new RegExp(`#ifndef TML_ARENA_BYTES\n#define TML_ARENA_BYTES ${arena}\n#endif`));
    assert.equal(await read('model_data.h'), await readFile(join(MODEL_DIR, 'model_data.h'), 'utf8'));

    const ino = await readFile(sketch.inoPath, 'utf8');
    assert.doesNotMatch(ino, /TensorFlowLite/);
    assert.doesNotMatch(ino, /@[A-Z_]+@/);
    assert.match(ino, /#include "src\/hal.h"\n#include "src\/app.h"\n#include "src\/model_data.h"/);
    assert.match(ino, /void setup\(\) \{\n  hal_init\(\);\n  app_init\(g_model, g_model_len\);\n\}/);
    assert.match(ino, /void loop\(\) \{\n  app_poll\(\);\n\}/);
  });

  it('native: every source compiles with the host compilers against a stand-in Arduino.h', async () => {
    const sketch = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: join(tmp, 'out-syntax'), firmwareDir: fixtureFirmware });
    const checked = await syntaxCheck(sketch.sketchDir, sketch.name);
    assert.deepEqual(checked, ['app.c', 'fully_connected.c', 'hal.cpp', 'model_data.cpp', 'protocol.c', 'runtime_native.c', 'tinyml_native.ino']);
  });

  it('native from the real firmware/ tree compiles too (arm-none-eabi: the Cortex-M4 port uses DSP intrinsics)', async (t) => {
    if (!existsSync(join(REPO_FIRMWARE, 'core', 'app.c'))) {
      t.skip('firmware/core/app.c is not there yet');
      return;
    }
    try {
      await run('arm-none-eabi-gcc', ['--version']);
    } catch {
      t.skip('arm-none-eabi-gcc is not installed');
      return;
    }
    const sketch = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: join(tmp, 'out-real') });
    const checked = await syntaxCheck(sketch.sketchDir, sketch.name, true);
    for (const f of ['app.c', 'protocol.c', 'runtime_native.c', 'model.c', 'hal.cpp', 'model_data.cpp', 'tinyml_native.ino']) assert.ok(checked.includes(f), f);
    for (const port of existsSync(join(REPO_FIRMWARE, 'ports', 'cortex-m4')) ? await readdir(join(REPO_FIRMWARE, 'ports', 'cortex-m4')) : []) {
      assert.ok(sketch.files.some((f) => f.from === `ports/cortex-m4/${port}`), `${port} comes from the port folder`);
    }
  });

  it('tflm: the core but our reader/runtime/kernels, the TFLM adapter as .cpp, and the library include in the .ino', async () => {
    const sketch = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'tflm', outDir: join(tmp, 'out-tflm'), firmwareDir: fixtureFirmware });
    assert.equal(sketch.name, 'tinyml_tflm');
    assert.deepEqual((await readdir(sketch.sketchDir)).sort(), ['src', 'tinyml_tflm.ino']);
    const src = await readdir(join(sketch.sketchDir, 'src'));
    for (const f of ['runtime_tflm.cpp', 'protocol.c', 'app.c', 'hal.cpp', 'model_data.cpp', 'tinyml_config.h']) assert.ok(src.includes(f), f);
    for (const f of ['runtime_native.c', 'fully_connected.c']) assert.ok(!src.includes(f), `${f} must not be linked with TFLM`);
    const adapter = await readFile(join(sketch.sketchDir, 'src', 'runtime_tflm.cpp'), 'utf8');
    assert.match(adapter, /#line 1 "runtime\/tflm\/runtime_tflm.cc"/);
    assert.match(adapter, /#include "tensorflow\/lite\/micro\/micro_interpreter.h"/, 'library includes are left alone');
    const ino = await readFile(sketch.inoPath, 'utf8');
    assert.match(ino, /^#include <TensorFlowLite.h>$/m);
    assert.ok(ino.indexOf('<TensorFlowLite.h>') < ino.indexOf('"src/hal.h"'));
    const config = await readFile(join(sketch.sketchDir, 'src', 'tinyml_config.h'), 'utf8');
    assert.match(config, new RegExp(`#define TML_ARENA_BYTES ${sketch.arenaBytes}\n`));
    assert.equal(sketch.arenaBytes, arenaBytesFor(sketch.model, 'tflm'));
  });

  it('replaces its own earlier sketch folder but refuses to delete anything else', async () => {
    const out = join(tmp, 'out-again');
    const first = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: out, firmwareDir: fixtureFirmware });
    await writeFile(join(first.sketchDir, 'src', 'stale.c'), 'int stale;\n');
    const second = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: out, firmwareDir: fixtureFirmware });
    assert.ok(!(await readdir(join(second.sketchDir, 'src'))).includes('stale.c'));

    const foreign = join(tmp, 'out-foreign');
    await mkdir(join(foreign, 'tinyml_native'), { recursive: true });
    await writeFile(join(foreign, 'tinyml_native', 'notes.txt'), 'mine');
    await assert.rejects(assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: foreign, firmwareDir: fixtureFirmware }), UsageError);
    assert.equal(await readFile(join(foreign, 'tinyml_native', 'notes.txt'), 'utf8'), 'mine');
  });

  it('tinyml_config.h: TML_RUNTIME_VERSION names the runtime and the pinned TFLM, as a C string a -D can override', async () => {
    const native = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: join(tmp, 'out-ver'), firmwareDir: fixtureFirmware });
    const tflm = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'tflm', outDir: join(tmp, 'out-ver'), firmwareDir: fixtureFirmware });
    const odd = await assembleSketch({
      modelDir: MODEL_DIR,
      runtime: 'tflm',
      outDir: join(tmp, 'out-ver-odd'),
      firmwareDir: fixtureFirmware,
      runtimeVersion: 'tflm Arduino_TensorFlowLite@2.4.0-ALPHA "edited" \\ (not 7948b85)',
    });
    assert.deepEqual([native.runtimeVersion, tflm.runtimeVersion], ['native', 'tflm tflite-micro-arduino-examples@7948b85']);
    const config = await readFile(join(tflm.sketchDir, 'src', 'tinyml_config.h'), 'utf8');
    assert.match(config, /#ifndef TML_RUNTIME_VERSION\n#define TML_RUNTIME_VERSION "tflm tflite-micro-arduino-examples@7948b85"\n#endif/);
    // What a C program sees: compile one against each config and print the macro.
    const probe = join(tmp, 'version-probe.c');
    await writeFile(probe, '#include <stdio.h>\n#include "tinyml_config.h"\nint main(void) { fputs(TML_RUNTIME_VERSION, stdout); return 0; }\n');
    const seen = async (sketchDir: string, ...defines: string[]) => {
      const exe = join(tmp, 'version-probe');
      await run('gcc', ['-std=c11', '-Wall', '-Werror', ...defines, '-I', join(sketchDir, 'src'), probe, '-o', exe]);
      return (await run(exe, [])).stdout;
    };
    assert.equal(await seen(native.sketchDir), 'native');
    assert.equal(await seen(tflm.sketchDir), 'tflm tflite-micro-arduino-examples@7948b85');
    assert.equal(await seen(odd.sketchDir), 'tflm Arduino_TensorFlowLite@2.4.0-ALPHA "edited" \\ (not 7948b85)');
    assert.equal(await seen(tflm.sketchDir, '-DTML_RUNTIME_VERSION="x"'), 'x');
    await assert.rejects(
      assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: join(tmp, 'out-ver-bad'), firmwareDir: fixtureFirmware, runtimeVersion: 'a\nb' }),
      UsageError,
    );
    // The .ino says which library and where to get it.
    const ino = await readFile(tflm.inoPath, 'utf8');
    assert.match(ino, /Made for tflite-micro-arduino-examples@7948b85/);
    assert.match(ino, /archive\/7948b85e020470a30a83bf00e10fc43b486bfcba\.zip/);
  });

  it('a failure while writing leaves the earlier sketch as it was and no partial folder', async () => {
    const out = join(tmp, 'out-atomic');
    const good = await assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: out, firmwareDir: fixtureFirmware });
    const before = await readFile(join(good.sketchDir, 'src', 'tinyml_config.h'), 'utf8');
    const broken = join(tmp, 'firmware-broken-ino');
    await cp(fixtureFirmware, broken, { recursive: true });
    // The .ino is rendered last, after every src/ file is written.
    await writeFile(join(broken, 'boards', 'nano33ble', 'sketch.ino.in'), '// @NOPE@\n');
    await assert.rejects(
      assembleSketch({ modelDir: MODEL_DIR, runtime: 'native', outDir: out, firmwareDir: broken, arenaBytes: 4096 }),
      /unknown placeholder @NOPE@/,
    );
    assert.deepEqual(await readdir(out), ['tinyml_native']);
    assert.equal(await readFile(join(good.sketchDir, 'src', 'tinyml_config.h'), 'utf8'), before);
  });

  it('asks for tinyml export when model_data is missing or older than the .tflite', async () => {
    const modelDir = join(tmp, 'model');
    await mkdir(modelDir);
    await cp(join(MODEL_DIR, 'model_int8.tflite'), join(modelDir, 'model_int8.tflite'));
    await assert.rejects(assembleSketch({ modelDir, runtime: 'native', outDir: join(tmp, 'out-x'), firmwareDir: fixtureFirmware }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /model_data\.h is missing: run 'tinyml export --model /);
      return true;
    });
    const header = (await readFile(join(MODEL_DIR, 'model_data.h'), 'utf8')).replace(/#define G_MODEL_LEN \d+u/, '#define G_MODEL_LEN 17728u');
    await writeFile(join(modelDir, 'model_data.h'), header);
    await cp(join(MODEL_DIR, 'model_data.cc'), join(modelDir, 'model_data.cc'));
    await assert.rejects(assembleSketch({ modelDir, runtime: 'native', outDir: join(tmp, 'out-x'), firmwareDir: fixtureFirmware }), (err: unknown) => {
      assert.ok(err instanceof DataFormatError);
      assert.match(err.message, /out of date: it holds 17728 bytes, model_int8.tflite has 103952/);
      return true;
    });
  });

  it('tflm without the adapter says which file is missing', async () => {
    const bare = join(tmp, 'firmware-bare');
    await cp(fixtureFirmware, bare, { recursive: true });
    await rm(join(bare, 'runtime'), { recursive: true });
    await assert.rejects(
      assembleSketch({ modelDir: MODEL_DIR, runtime: 'tflm', outDir: join(tmp, 'out-bare'), firmwareDir: bare }),
      /runtime_tflm\.cc is missing: --runtime tflm needs the TFLM adapter/,
    );
  });
});
