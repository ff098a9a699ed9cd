/**
 * tinyml doctor: every status of every check group, driven through the real
 * probes pointed at a fake machine in a temp folder (a /sys, /proc, /dev and /etc
 * tree, a project folder, dataset folders) and at fake executables on PATH
 * (dpkg-query, arm-none-eabi-gcc, qemu-system-arm, id, and the project's
 * arduino-cli stand-in); then the real command on this machine.
 */
import { checkLibraryPin, TFLM_LIBRARY_PIN } from '../src/firmware-build/tflm-pin.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { listPorts } from '../src/device/ports.ts';
import { checkArduino, parseVersion } from '../src/doctor/arduino.ts';
import { checkDataset } from '../src/doctor/dataset.ts';
import { checkDebianPackages, parseDebianPackages, parseDpkgQuery } from '../src/doctor/debian.ts';
import { runDoctor } from '../src/doctor/doctor.ts';
import { formatReport, summary } from '../src/doctor/format.ts';
import { checkBackend, checkNodeVersion, checkNpmPackages } from '../src/doctor/node.ts';
import { boardName, canReadWrite, checkPorts, parseGroupFile } from '../src/doctor/ports.ts';
import { makeBackendProbe, realProbes } from '../src/doctor/probes.ts';
import { checkQemu, checkToolchain } from '../src/doctor/toolchain.ts';
import type { CheckResult, DoctorProbes, FileInfo } from '../src/doctor/types.ts';
import { installStandIn, type StandInState } from './helpers/arduino-cli-stand-in.ts';
import { assertOneLineError, tinyml } from './helpers/cli.ts';

const REPO = join(import.meta.dirname, '..');

let tmp: string;
let bin: string;

function script(name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

function removeScript(name: string): void {
  rmSync(join(bin, name), { force: true });
}

function write(path: string, text = ''): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Probes aimed at the fake machine; `patch` overrides any of them. */
function probes(patch: Partial<DoctorProbes> = {}): DoctorProbes {
  const env = { PATH: bin, HOME: join(tmp, 'home'), XDG_CACHE_HOME: join(tmp, 'cache'), ...patch.env };
  return realProbes({
    projectRoot: join(tmp, 'project'),
    roots: { sys: join(tmp, 'sys'), proc: join(tmp, 'proc'), dev: join(tmp, 'dev'), etc: join(tmp, 'etc') },
    dataSystemDirs: [join(tmp, 'usr-share-fashion-mnist')],
    uid: 1000,
    pid: 999,
    listPorts: () =>
      listPorts({
        sysRoot: join(tmp, 'sys'),
        devDir: join(tmp, 'dev'),
        list: async () => {
          throw new Error('spawn udevadm ENOENT');
        },
      }),
    backend: async () => ({ backend: 'wasm' }),
    ...patch,
    env,
  });
}

const byName = (checks: readonly CheckResult[], name: string): CheckResult => {
  const c = checks.find((x) => x.name === name);
  assert.ok(c, `no check named ${name} in ${checks.map((x) => x.name).join(', ')}`);
  return c;
};

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tinyml-doctor-'));
  bin = join(tmp, 'bin');
  mkdirSync(bin);
  // The arduino-cli stand-in is a node script (#!/usr/bin/env node): PATH holds only the fakes, so node goes there too.
  symlinkSync(process.execPath, join(bin, 'node'));
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('node and npm', () => {
  it('node: 20 and later pass, older fails', () => {
    assert.equal(checkNodeVersion('20.0.0').status, 'ok');
    assert.equal(checkNodeVersion('22.11.0').status, 'ok');
    const old = checkNodeVersion('18.19.1');
    assert.equal(old.status, 'fail');
    assert.match(old.detail, /v18\.19\.1 is older than 20/);
    assert.match(old.fix ?? '', /Node\.js 20 or later/);
  });

  it('npm packages: node_modules against package-lock.json', async () => {
    const root = join(tmp, 'project');
    write(join(root, 'package.json'), JSON.stringify({ dependencies: { a: '^1.0.0', b: '2.0.0' }, devDependencies: { c: '^3' }, optionalDependencies: { o: '4.0.0' } }));
    const lock = { packages: { '': {}, 'node_modules/a': { version: '1.2.0' }, 'node_modules/b': { version: '2.0.0' }, 'node_modules/c': { version: '3.1.0' }, 'node_modules/o': { version: '4.0.0', optional: true } } };
    const installed = (name: string, version: string) => write(join(root, 'node_modules', name, 'package.json'), JSON.stringify({ name, version }));

    let r = await checkNpmPackages(probes());
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /package-lock\.json is missing/);

    write(join(root, 'package-lock.json'), JSON.stringify(lock));
    r = await checkNpmPackages(probes());
    assert.deepEqual([r.status, r.detail], ['fail', 'node_modules is missing']);
    assert.match(r.fix ?? '', /npm ci/);

    installed('a', '1.2.0');
    installed('c', '3.0.0');
    r = await checkNpmPackages(probes());
    assert.equal(r.status, 'fail');
    assert.equal(r.detail, 'b missing; c 3.0.0 installed, lock says 3.1.0');

    installed('b', '2.0.0');
    installed('c', '3.1.0');
    r = await checkNpmPackages(probes());
    assert.deepEqual([r.status, r.detail], ['ok', '3 direct dependencies match package-lock.json; optional o not installed']);

    installed('o', '4.0.0');
    r = await checkNpmPackages(probes());
    assert.deepEqual([r.status, r.detail], ['ok', '4 direct dependencies match package-lock.json']);
  });

  it('tfjs backend: tensorflow and wasm pass, cpu warns, none fails', async () => {
    assert.equal(checkBackend({ backend: 'tensorflow' }).status, 'ok');
    const why = "backend 'tensorflow' is not available here (the optional @tensorflow/tfjs-node is not installed or its native library failed to load): Cannot find package '@tensorflow/tfjs-node' imported from /x/backend.ts";
    const wasm = checkBackend({ backend: 'wasm', tensorflowError: why });
    assert.equal(wasm.status, 'ok');
    assert.match(wasm.detail, /^wasm \(tfjs-node did not load: Cannot find package '@tensorflow\/tfjs-node'; /);
    const cpu = checkBackend({ backend: 'cpu', tensorflowError: why });
    assert.equal(cpu.status, 'warn');
    assert.match(cpu.fix ?? '', /tfjs-backend-wasm/);
    const none = checkBackend({ backend: null, error: 'no TensorFlow.js backend could be initialized (tried tensorflow, wasm, cpu)' });
    assert.equal(none.status, 'fail');
    assert.match(none.detail, /no backend initialized: no TensorFlow\.js backend/);
    // The probe's own failure (a child that does not answer JSON) is reported, not thrown.
    const broken = await makeBackendProbe(tmp, async () => ({ exitCode: 1, stdout: '', stderr: 'Error: boom\n  at x', notFound: false }))();
    assert.deepEqual(broken, { backend: null, error: 'the backend probe failed: Error: boom' });
  });
});

describe('Debian packages', () => {
  it('are parsed from the list exactly as setup.sh parses them', () => {
    const setup = readFileSync(join(REPO, 'scripts', 'setup.sh'), 'utf8');
    const sed = /< <\((sed [^\n]*scripts\/debian-packages\.txt)\)/.exec(setup)?.[1];
    assert.ok(sed, 'setup.sh reads scripts/debian-packages.txt with sed');
    const fromSetup = execFileSync('bash', ['-c', sed], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean);
    const text = readFileSync(join(REPO, 'scripts', 'debian-packages.txt'), 'utf8');
    assert.deepEqual(parseDebianPackages(text), fromSetup);
    assert.ok(fromSetup.includes('qemu-system-arm'));
    assert.deepEqual(parseDebianPackages('# c\n\nfoo   # why\nbar\n  \nbaz#x\n'), ['foo', 'bar', 'baz']);
    assert.deepEqual([...parseDpkgQuery('gcc:amd64\tinstall ok installed\t4:12\n').entries()], [['gcc', { status: 'install ok installed', version: '4:12' }]]);
  });

  it('installed is ok, missing or half-removed fails, no dpkg-query warns', async () => {
    write(join(tmp, 'project', 'scripts', 'debian-packages.txt'), '# list\ngcc   # compiler\n\nqemu-system-arm  # emulator\nnot-there\npurged\n');
    // Like dpkg-query: the known packages on stdout, the unknown on stderr, exit 1.
    script(
      'dpkg-query',
      `[ "$1 $2 $3" = '-W -f \${Package}\t\${Status}\t\${Version}\n' ] || { echo "unexpected: $*" >&2; exit 99; }
printf 'gcc\\tinstall ok installed\\t4:12.2.0-3\\nqemu-system-arm\\tdeinstall ok config-files\\t1:7.2\\npurged\\tunknown ok not-installed\\t\\n'
echo 'dpkg-query: no packages found matching not-there' >&2; exit 1`,
    );
    const checks = await checkDebianPackages(probes());
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [['debian gcc', 'ok'], ['debian qemu-system-arm', 'fail'], ['debian not-there', 'fail'], ['debian purged', 'fail']]);
    assert.equal(checks[0]!.detail, '4:12.2.0-3');
    assert.match(checks[1]!.detail, /dpkg status: deinstall ok config-files/);
    assert.match(checks[2]!.fix ?? '', /^sudo apt-get install -y not-there /);

    removeScript('dpkg-query');
    const none = await checkDebianPackages(probes());
    assert.deepEqual(none.map((c) => c.status), ['warn']);
    assert.match(none[0]!.detail, /dpkg-query not found .*gcc, qemu-system-arm, not-there, purged/);
  });
});

describe('dataset', () => {
  const files = (dir: string, split: 'train' | 'test') => {
    const base = split === 'train' ? ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'] : ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte.gz'];
    for (const f of base) write(join(dir, f));
  };

  it('found in the system folder, the cache, a pinned folder; or not at all', async () => {
    const system = join(tmp, 'usr-share-fashion-mnist');
    const cache = join(tmp, 'cache', 'tinyml-deploy', 'fashion-mnist');
    let r = await checkDataset(probes());
    assert.equal(r.status, 'warn');
    assert.match(r.detail, new RegExp(`train files in none of ${cache}, ${system}; the first run downloads them`));
    assert.match(r.fix ?? '', /apt-get install -y dataset-fashion-mnist/);

    files(system, 'train');
    files(system, 'test');
    r = await checkDataset(probes());
    assert.deepEqual([r.status, r.detail], ['ok', `train and test in ${system} (looked in ${cache}, ${system})`]);

    files(cache, 'test');
    r = await checkDataset(probes());
    assert.deepEqual([r.status, r.detail], ['ok', `train in ${system}, test in ${cache} (looked in ${cache}, ${system})`]);

    const pinned = join(tmp, 'pinned');
    files(pinned, 'test');
    r = await checkDataset(probes({ env: { TINYML_DATA_DIR: pinned } }));
    assert.equal(r.status, 'fail');
    assert.equal(r.detail, `${pinned} (from TINYML_DATA_DIR) lacks train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz`);
    assert.match(r.fix ?? '', /unset TINYML_DATA_DIR/);
    files(pinned, 'train');
    r = await checkDataset(probes({ env: { TINYML_DATA_DIR: pinned } }));
    assert.deepEqual([r.status, r.detail], ['ok', `train and test in ${pinned} (from TINYML_DATA_DIR)`]);
  });
});

describe('toolchain and QEMU', () => {
  it('arm-none-eabi-gcc, nano.specs, libc_nano.a, libstdc++_nano.a for the firmware flags', async () => {
    const lib = join(tmp, 'arm-lib');
    const log = join(tmp, 'gcc-calls.txt');
    // Like gcc: -print-file-name prints the full path when found, else the bare name.
    script(
      'arm-none-eabi-gcc',
      `echo "$*" >> '${log}'
for a; do case "$a" in
  --version) echo 'arm-none-eabi-gcc (fake) 12.2.1 20221205'; echo 'Copyright'; exit 0;;
  -print-file-name=*) f=\${a#-print-file-name=}; if [ -f '${lib}'/"$f" ]; then echo '${lib}'/"$f"; else echo "$f"; fi; exit 0;;
esac; done; exit 1`,
    );
    for (const f of ['nano.specs', 'libc_nano.a']) write(join(lib, f));
    let checks = await checkToolchain(probes());
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [
      ['toolchain', 'ok'],
      ['toolchain nano.specs', 'ok'],
      ['toolchain libc_nano.a', 'ok'],
      ['toolchain libstdc++_nano.a', 'fail'],
    ]);
    assert.equal(checks[0]!.detail, 'arm-none-eabi-gcc (fake) 12.2.1 20221205');
    assert.equal(checks[1]!.detail, join(lib, 'nano.specs'));
    assert.equal(checks[3]!.fix, 'sudo apt-get install -y libstdc++-arm-none-eabi-newlib');
    assert.match(readFileSync(log, 'utf8'), /^-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -print-file-name=libstdc\+\+_nano\.a$/m);

    write(join(lib, 'libstdc++_nano.a'));
    checks = await checkToolchain(probes());
    assert.deepEqual(checks.map((c) => c.status), ['ok', 'ok', 'ok', 'ok']);

    removeScript('arm-none-eabi-gcc');
    checks = await checkToolchain(probes());
    assert.deepEqual(checks.map((c) => [c.status, c.detail]), [['fail', 'arm-none-eabi-gcc not on PATH']]);
    assert.match(checks[0]!.fix ?? '', /gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc\+\+-arm-none-eabi-newlib/);
  });

  it('qemu-system-arm with the mps2-an386 machine', async () => {
    let r = await checkQemu(probes());
    assert.deepEqual([r.status, r.fix], ['fail', 'sudo apt-get install -y qemu-system-arm']);
    const qemu = (machines: string) =>
      script(
        'qemu-system-arm',
        `case "$*" in
  --version) echo 'QEMU emulator version 7.2.0 (fake)'; echo 'Copyright';;
  '-machine help') echo 'Supported machines are:'; printf '${machines}';;
  *) exit 1;;
esac`,
      );
    qemu('mps2-an385           ARM MPS2 with AN385 FPGA image for Cortex-M3\\n');
    r = await checkQemu(probes());
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /^QEMU emulator version 7\.2\.0 \(fake\), but -machine help does not list mps2-an386/);
    qemu('mps2-an385           ARM MPS2 with AN385\\nmps2-an386           ARM MPS2 with AN386 FPGA image for Cortex-M4\\n');
    r = await checkQemu(probes());
    assert.deepEqual([r.status, r.detail], ['ok', 'QEMU emulator version 7.2.0 (fake); machine mps2-an386 present']);
  });
});

describe('arduino-cli', () => {
  let standIn: Awaited<ReturnType<typeof installStandIn>>;
  const setState = async (patch: Partial<StandInState>) => standIn.setState(patch);

  before(async () => {
    standIn = await installStandIn(join(tmp, 'arduino'));
    // The stand-in answers the calls the build makes; `version` is the doctor's alone, answered here in 1.x's shape.
    script(
      'arduino-cli',
      `if [ "$*" = 'version --format json' ]; then echo '{"Application":"arduino-cli","VersionString":"1.1.1","Commit":"fa6eafcb","Status":"","Date":"2024-11-29T09:47:51Z"}'; exit 0; fi
exec '${standIn.cli}' "$@"`,
    );
  });

  it('absent is a warning, not a failure', async () => {
    const checks = await checkArduino(probes({ env: { PATH: join(tmp, 'empty') } }));
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [['arduino-cli', 'warn']]);
    assert.match(checks[0]!.detail, /not on PATH \(only needed for --board nano33ble/);
  });

  it('core and library missing, then installed (1.x and 0.x JSON), then an old library', async () => {
    await setState({});
    let checks = await checkArduino(probes());
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [['arduino-cli', 'ok'], ['arduino core', 'warn'], ['arduino library', 'warn']]);
    assert.equal(checks[0]!.detail, `1.1.1 at ${join(bin, 'arduino-cli')}`);
    assert.match(checks[1]!.fix ?? '', /arduino-cli core install arduino:mbed_nano/);
    assert.match(checks[2]!.fix ?? '', /lib install --git-url https:\/\/github\.com\/tensorflow\/tflite-micro-arduino-examples\.git/);
    assert.deepEqual(
      (await standIn.calls()).map((c) => [c.args.join(' '), c.notify]),
      [['core list --format json', 'false'], ['lib list --format json', 'false']],
    );

    const libDir = join(tmp, 'arduino', 'Arduino', 'libraries', 'Arduino_TensorFlowLite');
    await setState({ coreInstalled: true, libInstalled: true });
    checks = await checkArduino(probes());
    assert.deepEqual(checks.map((c) => c.status), ['ok', 'ok', 'warn']);
    assert.equal(checks[1]!.detail, 'arduino:mbed_nano 4.2.1');
    assert.match(checks[2]!.detail, /2\.4\.0-ALPHA in .* is the retired Library Manager release/);

    write(join(libDir, 'src', 'tensorflow', 'lite', 'micro', 'micro_log.h'));
    checks = await checkArduino(probes());
    assert.deepEqual(checks.map((c) => c.status), ['ok', 'ok', 'warn']);
    assert.match(checks[2]!.detail, /is not tflite-micro-arduino-examples@7948b85, the commit this project was checked on/);

    // The same folder taken as the pinned commit: its own git ids as the pin.
    const ids = await checkLibraryPin(libDir);
    const pin = { ...TFLM_LIBRARY_PIN, srcTree: ids.srcTree!, propertiesBlob: ids.propertiesBlob! };
    checks = await checkArduino(probes(), pin);
    assert.deepEqual(checks.map((c) => c.status), ['ok', 'ok', 'ok']);
    assert.equal(checks[2]!.detail, `Arduino_TensorFlowLite 2.4.0-ALPHA in ${libDir} (tflite-micro-arduino-examples@7948b85)`);

    await setState({ shape: '0.x', coreInstalled: true, libInstalled: true });
    checks = await checkArduino(probes(), pin);
    assert.deepEqual(checks.map((c) => [c.status, c.detail.split(' in ')[0]]), [
      ['ok', `1.1.1 at ${join(bin, 'arduino-cli')}`],
      ['ok', 'arduino:mbed_nano 4.0.2'],
      ['ok', 'Arduino_TensorFlowLite 2.4.0-ALPHA'],
    ]);
    assert.equal(parseVersion('arduino-cli  Version: 0.35.3 Commit: 95cfd65b Date: 2024-02-19T13:24:24Z'), '0.35.3');
  });

  it('an arduino-cli that does not run is a warning', async () => {
    const broken = join(tmp, 'broken-bin');
    mkdirSync(broken);
    writeFileSync(join(broken, 'arduino-cli'), '#!/bin/sh\necho "cannot execute binary file" >&2; exit 126\n');
    chmodSync(join(broken, 'arduino-cli'), 0o755);
    const checks = await checkArduino(probes({ env: { PATH: broken } }));
    assert.deepEqual(checks.map((c) => [c.status, c.detail]), [['warn', `${join(broken, 'arduino-cli')} does not run: cannot execute binary file`]]);
  });
});

describe('serial ports', () => {
  const sys = () => join(tmp, 'sys');
  const usbPort = (tty: string, dev: string, attrs: Record<string, string>) => {
    for (const [k, v] of Object.entries(attrs)) write(join(sys(), 'devices', 'usb1', dev, k), `${v}\n`);
    mkdirSync(join(sys(), 'devices', 'usb1', dev, `${dev}:1.0`), { recursive: true });
    mkdirSync(join(sys(), 'class', 'tty', tty), { recursive: true });
    symlinkSync(join(sys(), 'devices', 'usb1', dev, `${dev}:1.0`), join(sys(), 'class', 'tty', tty, 'device'));
  };
  const proc = (pid: number, comm: string, fds: Record<string, string> = {}) => {
    write(join(tmp, 'proc', String(pid), 'comm'), `${comm}\n`);
    mkdirSync(join(tmp, 'proc', String(pid), 'fd'), { recursive: true });
    for (const [fd, target] of Object.entries(fds)) symlinkSync(target, join(tmp, 'proc', String(pid), 'fd', fd));
  };
  const idScript = (user: string, names: string, gids: string) =>
    script('id', `case "$1" in -un) echo ${user};; -nG) echo '${names}';; -G) echo '${gids}';; *) exit 1;; esac`);
  /** Device nodes are plain files here: their owner, group and mode come from this table. */
  const nodes = new Map<string, Pick<FileInfo, 'mode' | 'uid' | 'gid'>>();
  const withNodes = (base: DoctorProbes): DoctorProbes => ({
    ...base,
    stat: async (p) => {
      const s = await base.stat(p);
      const n = nodes.get(p);
      return s && n ? { ...s, ...n, mode: 0o20000 | n.mode } : s;
    },
  });

  it('no USB port; dialout and ModemManager still checked', async () => {
    write(join(tmp, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\nplugdev:x:46:ann\n');
    idScript('ann', 'ann plugdev', '1000 46');
    mkdirSync(join(sys(), 'class', 'tty', 'tty0'), { recursive: true });
    const checks = await checkPorts(probes());
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [['serial ports', 'ok'], ['group dialout', 'warn'], ['ModemManager', 'ok']]);
    assert.equal(byName(checks, 'group dialout').fix, 'sudo usermod -aG dialout ann, then log out and back in');
    assert.equal(byName(checks, 'ModemManager').detail, 'not running');
  });

  it('each port: board, permissions, other holders; dialout; ModemManager', async () => {
    usbPort('ttyACM0', '1-1', { idVendor: '2341', idProduct: '805a', product: 'Nano 33 BLE' });
    usbPort('ttyACM1', '1-2', { idVendor: '2341', idProduct: '005a' });
    usbPort('ttyUSB0', '1-3', { idVendor: '0403', idProduct: '6001', manufacturer: 'FTDI', product: 'FT232R USB UART' });
    usbPort('ttyACM2', '1-4', { idVendor: '2341', idProduct: '805a' });
    const dev = (n: string) => join(tmp, 'dev', n);
    for (const n of ['ttyACM0', 'ttyACM1', 'ttyUSB0']) write(dev(n));
    nodes.set(dev('ttyACM0'), { uid: 0, gid: 20, mode: 0o660 });
    nodes.set(dev('ttyACM1'), { uid: 0, gid: 20, mode: 0o660 });
    nodes.set(dev('ttyUSB0'), { uid: 0, gid: 20, mode: 0o600 });
    // ttyACM2 has no device node at all.
    proc(1, 'systemd');
    proc(4242, 'screen', { 0: '/dev/pts/0', 3: dev('ttyACM1') });
    proc(999, 'node', { 7: dev('ttyACM0') }); // the doctor itself (probes.pid)
    proc(77, 'ModemManager');

    idScript('ann', 'ann plugdev', '1000 46');
    let checks = await checkPorts(withNodes(probes()));
    assert.deepEqual(checks.map((c) => [c.name, c.status]), [
      [`port ${dev('ttyACM0')}`, 'warn'],
      [`port ${dev('ttyACM1')}`, 'warn'],
      [`port ${dev('ttyACM2')}`, 'warn'],
      [`port ${dev('ttyUSB0')}`, 'warn'],
      ['group dialout', 'warn'],
      ['ModemManager', 'warn'],
    ]);
    const acm0 = byName(checks, `port ${dev('ttyACM0')}`);
    assert.equal(acm0.detail, '2341:805a Arduino Nano 33 BLE (sketch running); this user cannot open it (mode 660, group dialout)');
    assert.equal(acm0.fix, 'sudo usermod -aG dialout ann, then log out and back in');
    assert.match(byName(checks, `port ${dev('ttyACM2')}`).detail, /does not exist/);
    assert.match(byName(checks, 'ModemManager').detail, /^running \(pid 77\)/);
    assert.match(byName(checks, 'ModemManager').fix ?? '', /systemctl stop ModemManager, or: echo 'ATTRS\{idVendor\}=="2341", ENV\{ID_MM_DEVICE_IGNORE\}="1"'/);

    // In dialout now: ACM0 opens (the doctor's own fd does not count), ACM1 is held by screen, USB0 is 0600 root's.
    idScript('ann', 'ann dialout plugdev', '1000 20 46');
    write(join(tmp, 'etc', 'udev', 'rules.d', '50-arduino.rules'), `# keep MM away\n${'ATTRS{idVendor}=="2341", ENV{ID_MM_DEVICE_IGNORE}="1"'}\n`);
    checks = await checkPorts(withNodes(probes()));
    assert.deepEqual(byName(checks, `port ${dev('ttyACM0')}`), {
      name: `port ${dev('ttyACM0')}`,
      status: 'ok',
      detail: '2341:805a Arduino Nano 33 BLE (sketch running); can open, not held by another process',
    });
    const acm1 = byName(checks, `port ${dev('ttyACM1')}`);
    assert.deepEqual([acm1.status, acm1.detail, acm1.fix], ['warn', '2341:005a Arduino Nano 33 BLE (bootloader); held open by screen (pid 4242)', 'close it: kill 4242 (a serial monitor, or ModemManager)']);
    assert.match(byName(checks, `port ${dev('ttyUSB0')}`).detail, /^0403:6001 not a known board: FTDI FT232R USB UART; this user cannot open it \(mode 600, group dialout\)/);
    assert.equal(byName(checks, 'group dialout').status, 'ok');
    assert.equal(byName(checks, 'ModemManager').status, 'ok');
    assert.match(byName(checks, 'ModemManager').detail, /50-arduino\.rules keeps it off Arduino ports/);

    // Added to dialout in /etc/group, but this login started before.
    write(join(tmp, 'etc', 'group'), 'root:x:0:\ndialout:x:20:bob,ann\nplugdev:x:46:ann\n');
    idScript('ann', 'ann plugdev', '1000 46');
    checks = await checkPorts(withNodes(probes()));
    assert.deepEqual([byName(checks, 'group dialout').status, byName(checks, 'group dialout').fix], ['warn', 'log out and back in (or run: newgrp dialout)']);

    // root opens everything.
    checks = await checkPorts(withNodes(probes({ uid: 0 })));
    assert.equal(byName(checks, 'group dialout').detail, 'running as root, which opens any port');
    assert.equal(byName(checks, `port ${dev('ttyUSB0')}`).status, 'ok');

    // A port lister that fails outright.
    checks = await checkPorts(probes({ listPorts: async () => Promise.reject(new Error('no sysfs')) }));
    assert.deepEqual([checks[0]!.name, checks[0]!.status, checks[0]!.detail], ['serial ports', 'warn', 'cannot list serial ports: no sysfs']);
  });

  it('permission rules and names (pure)', () => {
    assert.equal(canReadWrite({ uid: 1000, gid: 20, mode: 0o600 }, 1000, []), true);
    assert.equal(canReadWrite({ uid: 1000, gid: 20, mode: 0o066 }, 1000, [20]), false); // the owner's bits decide for the owner
    assert.equal(canReadWrite({ uid: 0, gid: 20, mode: 0o640 }, 1000, [20]), false);
    assert.equal(canReadWrite({ uid: 0, gid: 20, mode: 0o666 }, 1000, []), true);
    assert.equal(canReadWrite({ uid: 0, gid: 0, mode: 0o000 }, 0, []), true);
    assert.deepEqual(parseGroupFile('dialout:x:20:a, b\nbad\n'), [{ name: 'dialout', gid: 20, members: ['a', 'b'] }]);
    assert.equal(boardName({ path: 'x' }), 'not a known board');
  });
});

describe('the report', () => {
  it('fails when any check fails, not on warnings; a crashing check is a failure row', async () => {
    const warnOnly = await runDoctor(probes(), [['a', async () => ({ name: 'a', status: 'warn', detail: 'meh', fix: 'do x' })]]);
    assert.equal(warnOnly.ok, true);
    const report = await runDoctor(probes(), [
      ['first', async () => [{ name: 'first', status: 'ok', detail: 'fine' }]],
      ['crash', async () => {
        throw new TypeError('x is undefined\n  at y');
      }],
    ]);
    assert.equal(report.ok, false);
    assert.deepEqual(report.checks.map((c) => [c.name, c.status, c.detail]), [['first', 'ok', 'fine'], ['crash', 'fail', 'the check itself failed: x is undefined']]);
  });

  it('formats an aligned table with one fix line under each problem', () => {
    const text = formatReport({
      ok: false,
      checks: [
        { name: 'node', status: 'ok', detail: 'v20.1.0 (>= 20)' },
        { name: 'arduino-cli', status: 'warn', detail: 'not on PATH', fix: 'install it' },
        { name: 'qemu', status: 'fail', detail: 'missing', fix: 'apt-get install qemu-system-arm' },
      ],
    });
    assert.equal(
      text,
      [
        'ok    node         v20.1.0 (>= 20)',
        'warn  arduino-cli  not on PATH',
        '                   fix: install it',
        'fail  qemu         missing',
        '                   fix: apt-get install qemu-system-arm',
        '3 checks: 1 ok, 1 warning, 1 failure',
      ].join('\n'),
    );
    assert.equal(summary([]), '0 checks: 0 ok, 0 warnings, 0 failures');
  });
});

describe('tinyml doctor (the real command)', () => {
  it('passes on this machine, as JSON', async () => {
    const r = await tinyml(['doctor', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: CheckResult[] };
    assert.equal(report.ok, true);
    for (const name of ['node', 'npm packages', 'tfjs backend', 'debian qemu-system-arm', 'dataset', 'toolchain libstdc++_nano.a', 'qemu', 'arduino-cli', 'group dialout', 'ModemManager']) {
      const c = byName(report.checks, name);
      assert.ok(['ok', 'warn', 'fail'].includes(c.status) && c.detail.length > 0);
    }
    assert.ok(report.checks.every((c) => c.status === 'ok' || typeof c.fix === 'string'));
    assert.match(byName(report.checks, 'tfjs backend').detail, /^(tensorflow|wasm|cpu)\b/);
  });

  it('exits non-zero with one error line naming what failed, table first', async () => {
    // Without the toolchain and QEMU on PATH (node itself is run by path).
    const r = await tinyml(['doctor'], { env: { ...process.env, PATH: join(tmp, 'empty') } });
    assertOneLineError(r, /^error: doctor: \d+ checks failed \(.*toolchain.*qemu.*\): run the fix lines shown above$/);
    assert.match(r.stdout, /^fail {2}qemu +qemu-system-arm not on PATH/m);
    assert.match(r.stdout, /^ +fix: sudo apt-get install -y qemu-system-arm$/m);
  });
});
