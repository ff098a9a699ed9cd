/**
 * src/firmware/arduino-cli.ts against a stand-in `arduino-cli` put first on PATH:
 * a small Node script that accepts exactly the calls we mean to make (anything
 * else exits 99 naming the arguments), keeps state in state.json (core and library
 * installed or not), logs every call, and answers with the JSON shapes of the real
 * arduino-cli (1.x by default, 0.35 when state.shape is '0.x').
 */
import { strict as assert } from 'node:assert';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ToolError, UsageError } from '../src/errors.ts';
import {
  compileSketch,
  ensureCore,
  ensureTflmLibrary,
  findArduinoCli,
  parseCompileSizes,
  parseCoreList,
  parseLibList,
  TFLM_LIBRARY_GIT_URL,
  uploadSketch,
} from '../src/firmware/arduino-cli.ts';

const STAND_IN = String.raw`#!/usr/bin/env node
'use strict';
const fs = require('fs');
const path = require('path');
const here = __dirname;
const statePath = path.join(here, 'state.json');
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const args = process.argv.slice(2);
fs.appendFileSync(path.join(here, 'calls.jsonl'), JSON.stringify({
  args,
  unsafe: process.env.ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL || null,
  notify: process.env.ARDUINO_UPDATER_ENABLE_NOTIFICATION || null,
}) + '\n');
const save = () => fs.writeFileSync(statePath, JSON.stringify(state));
const json = (o) => process.stdout.write(JSON.stringify(o, null, 2) + '\n');
const eq = (pattern) => args.length === pattern.length && pattern.every((p, i) => (p instanceof RegExp ? p.test(args[i]) : p === args[i]));
const ABS = /^\//;
const FQBN = 'arduino:mbed_nano:nano33ble';

function platform() {
  if (state.shape === '0.x') {
    return { id: 'arduino:mbed_nano', installed: '4.0.2', latest: '4.0.2', name: 'Arduino Mbed OS Nano Boards', maintainer: 'Arduino',
      website: 'http://www.arduino.cc/', email: 'packages@arduino.cc', boards: [{ name: 'Arduino Nano 33 BLE', fqbn: FQBN }] };
  }
  return { id: 'arduino:mbed_nano', maintainer: 'Arduino', website: 'http://www.arduino.cc/', email: 'packages@arduino.cc', indexed: true,
    releases: { '4.2.1': { name: 'Arduino Mbed OS Nano Boards', version: '4.2.1', types: ['Arduino'], installed: true,
      boards: [{ name: 'Arduino Nano 33 BLE', fqbn: FQBN }, { name: 'Arduino Nano RP2040 Connect', fqbn: 'arduino:mbed_nano:nanorp2040connect' }],
      help: { online: 'https://www.arduino.cc/en/Reference/HomePage' }, compatible: true } },
    installed_version: '4.2.1', latest_version: '4.2.1' };
}
function library() {
  return { library: { name: 'Arduino_TensorFlowLite', author: 'TensorFlow Authors', maintainer: 'Pete Warden <petewarden@google.com>',
    sentence: 'Allows you to run machine learning models locally on your device.', website: 'https://www.tensorflow.org/lite/microcontrollers/overview',
    category: 'Data Processing', architectures: ['*'], install_dir: state.libDir, source_dir: state.libDir + '/src', version: '2.4.0-ALPHA',
    location: 'user', layout: 'recursive', provides_includes: ['TensorFlowLite.h'] }, release: {} };
}

if (eq(['core', 'list', '--format', 'json'])) {
  const list = state.coreInstalled ? [platform()] : [];
  json(state.shape === '0.x' ? list : { platforms: list });
} else if (eq(['core', 'update-index'])) {
  state.indexUpdated = true; save();
  process.stdout.write('Downloading index: package_index.tar.bz2 downloaded\n');
} else if (eq(['core', 'install', 'arduino:mbed_nano'])) {
  if (!state.indexUpdated) { process.stderr.write('Error during install: Platform arduino:mbed_nano not found\n'); process.exit(1); }
  state.coreInstalled = true; save();
  process.stdout.write('Platform arduino:mbed_nano@4.2.1 installed\n');
} else if (eq(['lib', 'list', '--format', 'json'])) {
  const list = state.libInstalled ? [library()] : [];
  json(state.shape === '0.x' ? list : { installed_libraries: list });
} else if (eq(['lib', 'install', '--git-url', 'https://github.com/tensorflow/tflite-micro-arduino-examples.git'])) {
  if (process.env.ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL !== 'true') {
    process.stderr.write('--git-url and --zip-path are disabled by default, for more information see: https://arduino.github.io/arduino-cli/latest/configuration/#configuration-keys\n');
    process.exit(1);
  }
  fs.mkdirSync(path.join(state.libDir, 'src/tensorflow/lite/micro'), { recursive: true });
  fs.writeFileSync(path.join(state.libDir, 'src/tensorflow/lite/micro/micro_log.h'), '');
  state.libInstalled = true; save();
  process.stdout.write('Library installed\n');
} else if (eq(['compile', '--fqbn', FQBN, '--build-path', ABS, '--output-dir', ABS, '--format', 'json', ABS])) {
  const [buildPath, outputDir, sketch] = [args[4], args[6], args[9]];
  const name = path.basename(sketch);
  if (!fs.existsSync(path.join(sketch, name + '.ino'))) {
    json({ compiler_out: '', compiler_err: '', builder_result: null, upload_result: {}, success: false,
      error: 'Can\'t open sketch: no valid sketch found in ' + sketch + ': missing ' + path.join(sketch, name + '.ino') });
    process.exit(1);
  }
  if (buildPath.startsWith(sketch + '/')) { process.stderr.write('build path inside the sketch\n'); process.exit(99); }
  if (state.compileFails) {
    json({ compiler_out: '', compiler_err: sketch + '/src/app.c:12:3: error: unknown type name \'tml_nope_t\'\n   12 |   tml_nope_t x;\n      |   ^~~~~~~~~~\n',
      builder_result: null, upload_result: {}, success: false, error: 'Error during build: exit status 1' });
    process.exit(1);
  }
  fs.mkdirSync(buildPath, { recursive: true });
  fs.mkdirSync(outputDir, { recursive: true });
  for (const ext of ['bin', 'hex', 'elf', 'map']) fs.writeFileSync(path.join(outputDir, name + '.ino.' + ext), 'x');
  const text = 198412, data = 52344;
  const out = 'Sketch uses ' + text + ' bytes (20%) of program storage space. Maximum is 983040 bytes.\n' +
    'Global variables use ' + data + ' bytes (19%) of dynamic memory, leaving ' + (262144 - data) + ' bytes for local variables. Maximum is 262144 bytes.\n';
  if (state.shape === 'text') { process.stdout.write(out); process.exit(0); }
  json({ compiler_out: out, compiler_err: '', builder_result: { build_path: buildPath,
    executable_sections_size: [{ name: 'text', size: text, max_size: 983040 }, { name: 'data', size: data, max_size: 262144 }],
    board_platform: { id: 'arduino:mbed_nano', version: '4.2.1' }, build_platform: { id: 'arduino:mbed_nano', version: '4.2.1' } },
    upload_result: {}, success: true });
} else if (eq(['upload', '-p', /^\/dev\//, '--fqbn', FQBN, '--input-dir', ABS, '--format', 'json', ABS])) {
  const [port, inputDir, sketch] = [args[2], args[6], args[9]];
  const bin = path.join(inputDir, path.basename(sketch) + '.ino.bin');
  if (!fs.existsSync(bin)) { json({ error: 'looking for build artifacts: could not find a valid build artifact' }); process.exit(1); }
  if (!state.ports.includes(port)) {
    process.stderr.write('No device found on ' + path.basename(port) + '\n');
    json({ error: 'Failed uploading: uploading error: exit status 1' });
    process.exit(1);
  }
  json({ stdout: 'Device       : nRF52840-QIAA\nVersion      : Arduino Bootloader (SAM-BA extended) 2.0 [Arduino:IKXYZ]\nWrite 198420 bytes to flash (49 pages)\n',
    stderr: '', updated_upload_port: { address: state.newPort || port, label: state.newPort || port, protocol: 'serial', protocol_label: 'Serial Port (USB)' } });
} else {
  process.stderr.write('stand-in arduino-cli: unexpected arguments: ' + JSON.stringify(args) + '\n');
  process.exit(99);
}
`;

interface StandInState {
  shape: '1.x' | '0.x' | 'text';
  coreInstalled: boolean;
  indexUpdated: boolean;
  libInstalled: boolean;
  libDir: string;
  compileFails: boolean;
  ports: string[];
  newPort?: string;
}

let tmp: string;
let binDir: string;
let cli: string;
let savedPath: string | undefined;

async function setState(patch: Partial<StandInState>): Promise<void> {
  const state: StandInState = {
    shape: '1.x',
    coreInstalled: false,
    indexUpdated: false,
    libInstalled: false,
    libDir: join(tmp, 'Arduino', 'libraries', 'Arduino_TensorFlowLite'),
    compileFails: false,
    ports: ['/dev/ttyACM0'],
    ...patch,
  };
  await writeFile(join(binDir, 'state.json'), JSON.stringify(state));
  await writeFile(join(binDir, 'calls.jsonl'), '');
}

async function calls(): Promise<{ args: string[]; unsafe: string | null; notify: string | null }[]> {
  const text = await readFile(join(binDir, 'calls.jsonl'), 'utf8');
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l));
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tinyml-arduino-cli-'));
  binDir = join(tmp, 'bin');
  await mkdir(binDir);
  await writeFile(join(binDir, 'arduino-cli'), STAND_IN);
  await chmod(join(binDir, 'arduino-cli'), 0o755);
  savedPath = process.env.PATH;
  process.env.PATH = `${binDir}${delimiter}${process.env.PATH ?? ''}`;
  cli = await findArduinoCli();
});

after(async () => {
  process.env.PATH = savedPath;
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => setState({}));

describe('findArduinoCli', () => {
  it('finds the executable on PATH', () => {
    assert.equal(cli, join(binDir, 'arduino-cli'));
  });

  it('without one: a one-line error with the install script, the releases page and --arduino-cli', async () => {
    const empty = join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    await assert.rejects(findArduinoCli({ pathEnv: empty }), (err: unknown) => {
      assert.ok(err instanceof ToolError);
      assert.ok(!err.message.includes('\n'), err.message);
      assert.match(err.message, /^arduino-cli is not on PATH: install it with 'curl -fsSL https:\/\/raw\.githubusercontent\.com\/arduino\/arduino-cli\/master\/install\.sh \| BINDIR=~\/\.local\/bin sh'/);
      assert.match(err.message, /github\.com\/arduino\/arduino-cli\/releases/);
      assert.match(err.message, /or pass --arduino-cli PATH$/);
      return true;
    });
  });

  it('--arduino-cli must name an executable', async () => {
    assert.equal(await findArduinoCli({ explicit: join(binDir, 'arduino-cli') }), join(binDir, 'arduino-cli'));
    await assert.rejects(findArduinoCli({ explicit: join(binDir, 'state.json') }), UsageError);
  });
});

describe('ensureCore', () => {
  for (const shape of ['1.x', '0.x'] as const) {
    it(`installs arduino:mbed_nano when missing (core list JSON of ${shape})`, async () => {
      await setState({ shape });
      const steps: string[] = [];
      const status = await ensureCore({ cli, onStep: (m) => steps.push(m) });
      assert.deepEqual(status, { id: 'arduino:mbed_nano', version: shape === '1.x' ? '4.2.1' : '4.0.2', installed: true });
      assert.deepEqual(
        (await calls()).map((c) => c.args.join(' ')),
        ['core list --format json', 'core update-index', 'core install arduino:mbed_nano', 'core list --format json'],
      );
      assert.ok((await calls()).every((c) => c.notify === 'false'), 'no update check');
      assert.equal(steps.length, 1);

      await writeFile(join(binDir, 'calls.jsonl'), '');
      assert.equal((await ensureCore({ cli })).installed, false);
      assert.deepEqual((await calls()).map((c) => c.args.join(' ')), ['core list --format json']);
    });
  }

  it('a failing install is a ToolError with arduino-cli\'s message', async () => {
    await assert.rejects(ensureCore({ cli, core: 'arduino:mbed_nano' }).then(() => ensureCore({ cli, core: 'arduino:nope' })), (err: unknown) => {
      assert.ok(err instanceof ToolError);
      assert.match(err.message, /^arduino-cli core install failed \(exit code 99\)\nstand-in arduino-cli: unexpected arguments: \["core","install","arduino:nope"\]/);
      return true;
    });
  });
});

describe('ensureTflmLibrary', () => {
  for (const shape of ['1.x', '0.x'] as const) {
    it(`installs Arduino_TensorFlowLite from GitHub with unsafe installs enabled for that call only (${shape})`, async () => {
      await setState({ shape });
      const status = await ensureTflmLibrary({ cli });
      assert.equal(status.installed, true);
      assert.equal(status.name, 'Arduino_TensorFlowLite');
      assert.equal(status.installDir, join(tmp, 'Arduino', 'libraries', 'Arduino_TensorFlowLite'));
      const log = await calls();
      assert.deepEqual(
        log.map((c) => c.args.join(' ')),
        ['lib list --format json', `lib install --git-url ${TFLM_LIBRARY_GIT_URL}`, 'lib list --format json'],
      );
      assert.deepEqual(log.map((c) => c.unsafe), [null, 'true', null]);
      assert.equal((await ensureTflmLibrary({ cli })).installed, false);
      await rm(status.installDir, { recursive: true, force: true });
    });
  }

  it('refuses an old Library Manager copy (no micro_log.h) with how to replace it', async () => {
    const libDir = join(tmp, 'old-lib');
    await mkdir(join(libDir, 'src'), { recursive: true });
    await setState({ libInstalled: true, libDir });
    await assert.rejects(ensureTflmLibrary({ cli }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /holds an old Arduino_TensorFlowLite .*arduino-cli lib uninstall Arduino_TensorFlowLite/);
      return true;
    });
  });
});

describe('compileSketch', () => {
  async function sketch(name: string): Promise<string> {
    const dir = join(tmp, 'sketches', name);
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, `${name}.ino`), 'void setup() {}\nvoid loop() {}\n');
    return dir;
  }

  it('passes --fqbn, --build-path, --output-dir, --format json and the sketch; returns the sizes', async () => {
    const dir = await sketch('tinyml_native');
    const result = await compileSketch({ cli, sketchDir: dir, buildPath: join(tmp, 'build', 'obj'), outputDir: join(tmp, 'build', 'bin') });
    assert.deepEqual(
      { flash: result.flash, flashMax: result.flashMax, ram: result.ram, ramMax: result.ramMax },
      { flash: 198412, flashMax: 983040, ram: 52344, ramMax: 262144 },
    );
    assert.match(result.log, /Sketch uses 198412 bytes/);
    assert.deepEqual((await calls())[0]!.args, [
      'compile',
      '--fqbn',
      'arduino:mbed_nano:nano33ble',
      '--build-path',
      join(tmp, 'build', 'obj'),
      '--output-dir',
      join(tmp, 'build', 'bin'),
      '--format',
      'json',
      dir,
    ]);
  });

  it('a compile error is a ToolError carrying the compiler\'s message', async () => {
    await setState({ compileFails: true });
    const dir = await sketch('tinyml_tflm');
    await assert.rejects(compileSketch({ cli, sketchDir: dir, buildPath: join(tmp, 'b2'), outputDir: join(tmp, 'o2') }), (err: unknown) => {
      assert.ok(err instanceof ToolError);
      assert.equal(err.tool, 'arduino-cli');
      assert.match(err.message, /^arduino-cli compile failed \(exit code 1\)\n.*src\/app\.c:12:3: error: unknown type name 'tml_nope_t'/s);
      assert.match(err.output, /Error during build: exit status 1/);
      return true;
    });
  });

  it('the stand-in refuses what the real one would (wrong fqbn)', async () => {
    const dir = await sketch('tinyml_native');
    await assert.rejects(
      compileSketch({ cli, sketchDir: dir, fqbn: 'arduino:mbed:nano33ble', buildPath: join(tmp, 'b3'), outputDir: join(tmp, 'o3') }),
      /unexpected arguments/,
    );
  });
});

describe('parsers', () => {
  it('compile sizes from 1.x JSON, 0.x JSON and plain text', () => {
    const text =
      'Sketch uses 85328 bytes (8%) of program storage space. Maximum is 983040 bytes.\n' +
      'Global variables use 44552 bytes (16%) of dynamic memory, leaving 217592 bytes for local variables. Maximum is 262144 bytes.\n';
    const expected = { flash: 85328, flashMax: 983040, ram: 44552, ramMax: 262144 };
    assert.deepEqual(parseCompileSizes(text), expected);
    assert.deepEqual(parseCompileSizes(JSON.stringify({ compiler_out: text, builder_result: {} })), expected);
    assert.deepEqual(
      parseCompileSizes(
        JSON.stringify({
          builder_result: {
            executable_sections_size: [
              { name: 'text', size: 85328, max_size: 983040 },
              { name: 'data', size: 44552, max_size: 262144 },
            ],
          },
        }),
      ),
      expected,
    );
    assert.equal(parseCompileSizes('nothing here'), null);
  });

  it('core list and lib list in both shapes, and empty', () => {
    assert.deepEqual(parseCoreList('{"platforms":[]}'), []);
    assert.deepEqual(parseCoreList('[]'), []);
    assert.deepEqual(parseCoreList('null'), []);
    assert.deepEqual(parseCoreList('{}'), []);
    assert.deepEqual(parseCoreList('[{"id":"arduino:avr","installed":"1.8.6","latest":"1.8.6"}]'), [{ id: 'arduino:avr', installedVersion: '1.8.6' }]);
    assert.deepEqual(parseLibList('{"installed_libraries":[]}'), []);
    assert.deepEqual(parseLibList('[{"library":{"name":"A","version":"1.0.0","install_dir":"/x/A"},"release":{}}]'), [
      { name: 'A', version: '1.0.0', installDir: '/x/A' },
    ]);
    assert.throws(() => parseCoreList('ID Installed Latest Name'), ToolError);
  });
});

describe('uploadSketch', () => {
  async function built(name: string): Promise<{ sketchDir: string; inputDir: string }> {
    const sketchDir = join(tmp, 'up', name);
    await mkdir(sketchDir, { recursive: true });
    await writeFile(join(sketchDir, `${name}.ino`), '');
    const r = await compileSketch({ cli, sketchDir, buildPath: join(tmp, 'up-build', name), outputDir: join(tmp, 'up-bin', name) });
    await writeFile(join(binDir, 'calls.jsonl'), '');
    return { sketchDir, inputDir: r.outputDir };
  }

  it('uploads to the given port, then waits for the port arduino-cli reports', async () => {
    await setState({ newPort: '/dev/ttyACM1' });
    const { sketchDir, inputDir } = await built('tinyml_native');
    const waited: [string, number][] = [];
    const result = await uploadSketch({
      cli,
      port: '/dev/ttyACM0',
      inputDir,
      sketchDir,
      waitForPort: async (port, { timeoutMs }) => {
        waited.push([port, timeoutMs]);
        return port;
      },
    });
    assert.equal(result.port, '/dev/ttyACM1');
    assert.deepEqual(waited, [['/dev/ttyACM1', 15000]]);
    assert.match(result.log, /nRF52840-QIAA/);
    assert.deepEqual((await calls())[0]!.args, [
      'upload',
      '-p',
      '/dev/ttyACM0',
      '--fqbn',
      'arduino:mbed_nano:nano33ble',
      '--input-dir',
      inputDir,
      '--format',
      'json',
      sketchDir,
    ]);
  });

  it('no board on the port: a ToolError with what arduino-cli said', async () => {
    const { sketchDir, inputDir } = await built('tinyml_tflm');
    await assert.rejects(uploadSketch({ cli, port: '/dev/ttyACM9', inputDir, sketchDir }), (err: unknown) => {
      assert.ok(err instanceof ToolError);
      assert.match(err.message, /^arduino-cli upload failed \(exit code 1\)/);
      assert.match(err.message, /Failed uploading: uploading error: exit status 1/);
      assert.match(err.message, /No device found on ttyACM9/);
      return true;
    });
  });
});
