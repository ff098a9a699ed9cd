/**
 * The board half through the real CLI, as a user runs it: a small model trained
 * on a data subset is built for the emulator, booted in QEMU and validated on
 * 1000 test images through serialport on QEMU's pty (`tinyml deploy`); the
 * Arduino build through a stand-in arduino-cli (and without one: the sketch
 * folder for the Arduino IDE); and the errors a user can hit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, crc32Hex } from '../src/protocol/crc32.ts';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { writeInt8ModelFolder } from './helpers/random-model.ts';
import { installStandIn } from './helpers/arduino-cli-stand-in.ts';
import { assertOneLineError, tinyml as cli } from './helpers/cli.ts';
import { emulatorSkipReason, qemuUnder } from './helpers/processes.ts';

const skip = emulatorSkipReason();

function tinyml(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return cli(args, { cwd, env });
}

describe('tinyml build / deploy / validate', { skip }, () => {
  let work: string;
  let model: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tinyml-deploy-'));
    model = join(work, 'small');
    for (const args of [
      ['train', '--hidden', '24', '--epochs', '1', '--limit-train', '6000', '--limit-test', '500', '--seed', '3', '--out', model],
      ['quantize', '--model', model, '--calibration-samples', '200'],
      ['export', '--model', model],
    ]) {
      const r = await tinyml(work, args);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  test('deploy to the emulator: 1000 test images, device == reference exactly', { timeout: 900_000 }, async () => {
    const r = await tinyml(work, ['deploy', '--model', model, '--board', 'emulator', '--samples', '1000', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    for (const key of ['samples', 'deviceAccuracy', 'hostInt8Accuracy', 'hostFloatAccuracy', 'top1Agreement', 'exactAgreement', 'latencyCycles', 'runtime', 'modelCrc32', 'board']) {
      assert.ok(key in report, `validate report lacks ${key}`);
    }
    assert.equal(report.samples, 1000);
    assert.equal(report.exactAgreement, 1, `device differs from the reference at ${report.firstMismatches}`);
    assert.equal(report.top1Agreement, 1);
    assert.equal(report.deviceAccuracy, report.referenceAccuracy);
    assert.equal(report.deviceAccuracy, report.hostInt8Accuracy);
    assert.equal(report.runtime, 'native');
    assert.match(report.runtimeVersion, /^native \(tinyml-deploy \d+\.\d+\.\d+\)$/);
    assert.equal(report.board, 'emulator');
    assert.equal(report.link.deviceTxDroppedBytes, 0);
    assert.ok(report.deviceLog.some((l: string) => l.startsWith(`model loaded: ${report.runtimeVersion} runtime`)), report.deviceLog.join('\n'));
    assert.equal(report.modelCrc32, crc32Hex(crc32(new Uint8Array(readFileSync(join(model, 'model_int8.tflite'))))));
    const l = report.latencyCycles;
    assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    assert.ok(existsSync(join(work, 'build', 'emulator', 'small', 'firmware.elf')));
    assert.deepEqual(qemuUnder(work), [], 'QEMU left running');
  });

  test('validate refuses a device that runs another model, and says to flash again', async () => {
    const elf = join(work, 'build', 'emulator', 'small', 'firmware.elf');
    if (!existsSync(elf)) {
      const r = await tinyml(work, ['build', '--model', model, '--board', 'emulator']);
      assert.equal(r.code, 0, r.stderr);
    }
    const other = join(work, 'other');
    await mkdir(other);
    for (const f of ['model.json', 'weights.bin', 'metrics.json']) await copyFile(join(model, f), join(other, f));
    assert.equal((await tinyml(work, ['quantize', '--model', other, '--calibration-samples', '50'])).code, 0);
    const r = await tinyml(work, ['validate', '--model', other, '--board', 'emulator', '--elf', elf, '--samples', '10']);
    assertOneLineError(r, /CRC-32.*flash/);
    assert.deepEqual(qemuUnder(work), [], 'QEMU left running after the error');
  });

  test('the device log reaches the user: a passing run (text and --json), and a firmware whose arena is too small', async () => {
    const elf = join(work, 'build', 'emulator', 'small', 'firmware.elf');
    if (!existsSync(elf)) assert.equal((await tinyml(work, ['build', '--model', model, '--board', 'emulator'])).code, 0);
    const loaded = /^device: model loaded: native \(tinyml-deploy [^)]+\) runtime, \d+ bytes, CRC-32 [0-9a-f]{8}, arena \d+ of \d+ bytes$/m;
    const text = await tinyml(work, ['validate', '--model', model, '--board', 'emulator', '--elf', elf, '--samples', '20']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, loaded);
    assert.match(text.stdout, /runtime version +native \(tinyml-deploy/);
    assert.match(text.stdout, /device log +1 lines/);
    const json = await tinyml(work, ['validate', '--model', model, '--board', 'emulator', '--elf', elf, '--samples', '20', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stderr, loaded, 'device lines go to stderr with --json too');
    const report = JSON.parse(json.stdout);
    assert.deepEqual(report.deviceLog, [loaded.exec(json.stderr)![0].slice('device: '.length)]);

    // The same model on firmware built with a 256-byte arena: refused as ARENA_TOO_SMALL with both sizes, and the
    // firmware's own line about it arrives first.
    const tiny = await buildEmulatorFirmware({ modelDir: model, outDir: join(work, 'build', 'tiny-arena'), runtime: 'native', arenaBytes: 256 });
    const r = await tinyml(work, ['validate', '--model', model, '--board', 'emulator', '--elf', tiny.elf, '--samples', '5']);
    assertOneLineError(r, /ARENA_TOO_SMALL .*: the native runtime needs [\d,]+ bytes of tensor arena and the firmware has 256: build the firmware again with tinyml build/);
    const needed = /needs ([\d,]+) bytes/.exec(r.stderr)![1]!.replace(/,/g, '');
    assert.match(r.stderr, new RegExp(`^device: model not loaded: tensor arena too small: the model needs ${needed} bytes, the firmware has 256 \\(TML_ARENA_BYTES\\)$`, 'm'));
    assert.ok(r.stderr.indexOf('device: model not loaded') < r.stderr.indexOf('error:'));
    assert.deepEqual(qemuUnder(work), [], 'QEMU left running');
  });

  test('bad flags: one line each', async () => {
    assertOneLineError(await tinyml(work, ['build', '--model', model, '--board', 'emulator', '--runtime', 'tflm']), /--tflm-dir/);
    assertOneLineError(
      await tinyml(work, ['build', '--model', model, '--board', 'emulator', '--tflm-dir', join(work, 'nope')]),
      /--tflm-dir .*nope/,
    );
    assertOneLineError(await tinyml(work, ['validate', '--model', model, '--board', 'emulator', '--elf', join(work, 'none.elf')]), /none\.elf/);
    assertOneLineError(await tinyml(work, ['build', '--model', join(work, 'missing'), '--board', 'emulator']), /missing/);
  });
});

describe('tinyml build --board nano33ble', () => {
  let work: string;
  let model: string;
  const withoutArduinoCli = { ...process.env, PATH: '/usr/bin:/bin' };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tinyml-nano-'));
    model = join(work, 'small');
    await writeInt8ModelFolder(model, [24]);
  });
  after(() => rm(work, { recursive: true, force: true }));

  test('--sketch-only --json: the sketch folder, without arduino-cli', async () => {
    const r = await tinyml(work, ['build', '--model', model, '--board', 'nano33ble', '--sketch-only', '--json'], withoutArduinoCli);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const sketch = join(work, 'build', 'nano33ble', 'small', 'tinyml_tflm');
    assert.equal(out.sketch, sketch);
    assert.equal(out.ino, join(sketch, 'tinyml_tflm.ino'));
    assert.equal(out.runtime, 'tflm');
    assert.equal(out.runtimeVersion, 'tflm tflite-micro-arduino-examples@7948b85');
    assert.equal(out.modelCrc32, crc32Hex(crc32(new Uint8Array(readFileSync(join(model, 'model_int8.tflite'))))));
    assert.equal(out.tflmLibrary.pin, 'tflite-micro-arduino-examples@7948b85');
    assert.equal(out.tflmLibrary.gitUrl, 'https://github.com/tensorflow/tflite-micro-arduino-examples.git#7948b85e020470a30a83bf00e10fc43b486bfcba');
    assert.equal(out.tflmLibrary.installed, null);
    const src = await readdir(join(sketch, 'src'));
    assert.equal(out.fileCount, src.length + 1, 'src/ and the .ino');
    for (const f of ['model_data.cpp', 'model_data.h', 'tinyml_config.h', 'runtime_tflm.cpp', 'hal.cpp', 'app.c']) assert.ok(src.includes(f), f);
    const config = await readFile(join(sketch, 'src', 'tinyml_config.h'), 'utf8');
    assert.match(config, new RegExp(`#define TML_ARENA_BYTES ${out.arenaBytes}\n`));
    assert.match(config, /#define TML_RUNTIME_VERSION "tflm tflite-micro-arduino-examples@7948b85"/);
  });

  test('--sketch-only --runtime native, as text: the path first', async () => {
    const r = await tinyml(work, ['build', '--model', model, '--board', 'nano33ble', '--runtime', 'native', '--sketch-only'], withoutArduinoCli);
    assert.equal(r.code, 0, r.stderr);
    const sketch = join(work, 'build', 'nano33ble', 'small', 'tinyml_native');
    assert.equal(r.stdout.split('\n')[0], sketch);
    assert.match(r.stdout, /runtime "native"/);
    assert.doesNotMatch(r.stdout, /TFLM/);
    assert.doesNotMatch(await readFile(join(sketch, 'tinyml_native.ino'), 'utf8'), /TensorFlowLite/);
    assertOneLineError(
      await tinyml(work, ['build', '--model', model, '--board', 'emulator', '--sketch-only'], withoutArduinoCli),
      /--sketch-only .*--board nano33ble/,
    );
  });

  test('without arduino-cli: the sketch is written first, and the one error line names it and the IDE steps', async () => {
    const sketch = join(work, 'build', 'nano33ble', 'small', 'tinyml_tflm');
    await rm(sketch, { recursive: true, force: true });
    const r = await tinyml(work, ['build', '--model', model, '--board', 'nano33ble'], withoutArduinoCli);
    assertOneLineError(r, /arduino-cli is not on PATH/);
    const line = r.stderr.split('\n').find((l) => l.startsWith('error:'))!;
    assert.ok(line.includes(`the sketch is ready in ${sketch}: in the Arduino IDE open ${join(sketch, 'tinyml_tflm.ino')}`), line);
    assert.match(line, /install the core 'Arduino Mbed OS Nano Boards'/);
    assert.match(line, /Arduino_TensorFlowLite at tflite-micro-arduino-examples@7948b85 \(Sketch > Include Library > Add \.ZIP Library, with https:\/\/github\.com\/tensorflow\/tflite-micro-arduino-examples\/archive\/7948b85e020470a30a83bf00e10fc43b486bfcba\.zip\)/);
    assert.match(line, /select Tools > Board > .*Arduino Nano 33 BLE .*then Upload$/);
    assert.ok(existsSync(join(sketch, 'tinyml_tflm.ino')));
  });

  test('with arduino-cli (a stand-in): core and the pinned library installed, compiled, the library\'s state reported', async () => {
    const standIn = await installStandIn(join(work, 'arduino'));
    const env = { ...process.env, PATH: `${standIn.binDir}:${process.env.PATH}` };
    const r = await tinyml(work, ['build', '--model', model, '--board', 'nano33ble', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.flash, { used: 198412, capacity: 983040 });
    const sketch = join(work, 'build', 'nano33ble', 'small', 'tinyml_tflm');
    assert.equal(out.sketch, sketch);
    assert.ok((await readdir(join(sketch, 'src'))).includes('model_data.cpp'));
    const args = (await standIn.calls()).map((c) => c.args.join(' '));
    assert.ok(args.includes('core install arduino:mbed_nano'), args.join(', '));
    assert.ok(args.includes('lib install --git-url https://github.com/tensorflow/tflite-micro-arduino-examples.git#7948b85e020470a30a83bf00e10fc43b486bfcba'));
    assert.ok(args.some((a) => a.startsWith('compile ') && a.includes('--build-property compiler.c.elf.extra_flags=-Wl,--wrap=DebugLog')), args.join(', '));
    // The stand-in's library is not 7948b85: said on stderr, in the JSON and in the sketch's runtime version.
    assert.equal(out.tflmLibrary.installed.matchesPin, false);
    assert.equal(out.tflmLibrary.installed.installedNow, true);
    assert.match(r.stderr, /warning: .*Arduino_TensorFlowLite 2\.4\.0-ALPHA that is not tflite-micro-arduino-examples@7948b85/);
    assert.equal(out.runtimeVersion, 'tflm Arduino_TensorFlowLite@2.4.0-ALPHA (not 7948b85)');
    assert.match(await readFile(join(sketch, 'src', 'tinyml_config.h'), 'utf8'), /"tflm Arduino_TensorFlowLite@2\.4\.0-ALPHA \(not 7948b85\)"/);

    const text = await tinyml(work, ['build', '--model', model, '--board', 'nano33ble'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /built tflm firmware for nano33ble/);
    assert.match(text.stdout, /TFLM   Arduino_TensorFlowLite pinned at tflite-micro-arduino-examples@7948b85; NOT the pinned commit/);
    assert.match(text.stdout, /flash 198412 of 983040 bytes/);
  });

  test('the budget refuses a model that cannot fit before anything compiles', async () => {
    const wide = join(work, 'wide');
    await writeInt8ModelFolder(wide, [1024, 512]);
    const standIn = await installStandIn(join(work, 'arduino-wide'));
    const env = { ...process.env, PATH: `${standIn.binDir}:${process.env.PATH}` };
    const r = await tinyml(work, ['build', '--model', wide, '--board', 'nano33ble'], env);
    assertOneLineError(r, /does not fit the Arduino Nano 33 BLE.*flash.*KB.*--hidden 128/);
    assert.deepEqual(await standIn.calls(), [], 'arduino-cli must not run for a model that cannot fit');
    assert.ok(!existsSync(join(work, 'build', 'nano33ble', 'wide')), 'nor is a sketch written');
  });
});
