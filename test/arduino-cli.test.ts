/**
 * src/firmware-build/arduino-cli.ts against a stand-in `arduino-cli` put first on PATH:
 * a small Node script that accepts exactly the calls we mean to make (anything
 * else exits 99 naming the arguments), keeps state in state.json (core and library
 * installed or not), logs every call, and answers with the JSON shapes of the real
 * arduino-cli (1.x by default, 0.35 when state.shape is '0.x').
 */
import { strict as assert } from 'node:assert';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
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
  pinMismatchWarning,
  uploadSketch,
} from '../src/firmware-build/arduino-cli.ts';
import { pinnedGitUrl, TFLM_LIBRARY_PIN } from '../src/firmware-build/tflm-pin.ts';
import { installStandIn, type StandInState } from './helpers/arduino-cli-stand-in.ts';

let tmp: string;
let binDir: string;
let cli: string;
let savedPath: string | undefined;

let standIn: Awaited<ReturnType<typeof installStandIn>>;
const setState = (patch: Partial<StandInState> = {}) => standIn.setState(patch);
const calls = () => standIn.calls();

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tinyml-arduino-cli-'));
  standIn = await installStandIn(tmp);
  binDir = standIn.binDir;
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
    it(`installs Arduino_TensorFlowLite from GitHub at the pinned commit, unsafe installs enabled for that call only (${shape})`, async () => {
      await setState({ shape });
      const steps: string[] = [];
      const status = await ensureTflmLibrary({ cli, onStep: (m) => steps.push(m) });
      assert.equal(status.installed, true);
      assert.equal(status.name, 'Arduino_TensorFlowLite');
      assert.equal(status.installDir, join(tmp, 'Arduino', 'libraries', 'Arduino_TensorFlowLite'));
      const log = await calls();
      assert.deepEqual(
        log.map((c) => c.args.join(' ')),
        [
          'lib list --format json',
          'lib install --git-url https://github.com/tensorflow/tflite-micro-arduino-examples.git#7948b85e020470a30a83bf00e10fc43b486bfcba',
          'lib list --format json',
        ],
      );
      assert.deepEqual(log.map((c) => c.unsafe), [null, 'true', null]);
      assert.match(steps[0]!, /at commit 7948b85/);
      // The stand-in's small library is not 7948b85's src/, and says so.
      assert.equal(status.matchesPin, false);
      assert.equal((await ensureTflmLibrary({ cli })).installed, false);
      await rm(status.installDir, { recursive: true, force: true });
    });
  }

  it('compares an installed copy with the pin by its git ids (git itself is the oracle)', async () => {
    await setState({});
    const first = await ensureTflmLibrary({ cli });
    // What git says the stand-in library's src/ and library.properties are.
    const repo = join(tmp, 'git-oracle');
    await rm(repo, { recursive: true, force: true });
    await cp(first.installDir, repo, { recursive: true });
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
    git('init', '-q');
    git('add', '-A');
    const tree = git('write-tree');
    const srcTree = git('rev-parse', `${tree}:src`);
    const propertiesBlob = git('rev-parse', `${tree}:library.properties`);
    const pin = { ...TFLM_LIBRARY_PIN, srcTree, propertiesBlob };
    const same = await ensureTflmLibrary({ cli, pin });
    assert.deepEqual([same.installed, same.matchesPin, same.srcTree], [false, true, srcTree]);

    // The user's copy changed: kept, not reinstalled, and the warning says what and how.
    await writeFile(join(first.installDir, 'src', 'TensorFlowLite.h'), '#pragma once\n// edited\n');
    await writeFile(join(binDir, 'calls.jsonl'), '');
    const edited = await ensureTflmLibrary({ cli, pin });
    assert.equal(edited.matchesPin, false);
    assert.deepEqual((await calls()).map((c) => c.args[1]), ['list'], 'another version must not be reinstalled silently');
    const warning = pinMismatchWarning(edited);
    assert.ok(!warning.includes('\n'));
    assert.match(warning, new RegExp(`^warning: ${first.installDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds Arduino_TensorFlowLite 2\\.4\\.0-ALPHA that is not tflite-micro-arduino-examples@7948b85`));
    assert.ok(warning.includes(`lib install --git-url ${pinnedGitUrl()}`));
    await rm(first.installDir, { recursive: true, force: true });
  });

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
    const waited: [unknown, number][] = [];
    const result = await uploadSketch({
      cli,
      port: '/dev/ttyACM0',
      inputDir,
      sketchDir,
      waitForPort: async (ports, { timeoutMs }) => {
        waited.push([ports, timeoutMs]);
        return '/dev/ttyACM2';
      },
    });
    assert.equal(result.port, '/dev/ttyACM2');
    assert.equal(result.reportedPort, '/dev/ttyACM1');
    assert.deepEqual(waited, [[{ given: '/dev/ttyACM0', reported: '/dev/ttyACM1' }, 15000]]);
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

  it('without updated_upload_port (the port was not seen again) and no waitForPort: the port given', async () => {
    await setState({ reportPort: 'none' });
    const { sketchDir, inputDir } = await built('tinyml_native');
    const result = await uploadSketch({ cli, port: '/dev/ttyACM0', inputDir, sketchDir });
    assert.deepEqual([result.port, result.reportedPort], ['/dev/ttyACM0', null]);
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
