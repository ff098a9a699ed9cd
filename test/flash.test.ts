/**
 * flashArduino after `tinyml build --board nano33ble` (both through the stand-in
 * arduino-cli), with USB ports from a fake /sys tree that the stand-in's upload
 * re-enumerates as a real board does: the port of the board that was flashed is
 * found again by its USB serial number, under a new name, and with another Nano
 * plugged in.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFirmware } from '../src/deploy/build.ts';
import { flashArduino } from '../src/deploy/flash.ts';
import { SerialPortError } from '../src/device/errors.ts';
import { UsageError } from '../src/errors.ts';
import { installStandIn } from './helpers/arduino-cli-stand-in.ts';
import { fakeSysWith, noUdev } from './helpers/fake-sys.ts';
import { writeInt8ModelFolder } from './helpers/random-model.ts';

let tmp: string;
let cwd: string;
let model: string;
let standIn: Awaited<ReturnType<typeof installStandIn>>;
const roots: string[] = [];

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tinyml-flash-'));
  cwd = process.cwd();
  process.chdir(tmp); // build/ goes under the working directory, as for a user
  model = join(tmp, 'small');
  await writeInt8ModelFolder(model, [16]);
  standIn = await installStandIn(join(tmp, 'arduino'));
  await standIn.setState({ coreInstalled: true });
  await buildFirmware({ modelDir: model, board: 'nano33ble', runtime: 'native', arduinoCli: standIn.cli });
});

after(async () => {
  process.chdir(cwd);
  for (const r of roots) await rm(r, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

/** flashArduino with the stand-in, ports from `sysRoot`, and an open that succeeds. */
function flash(sysRoot: string, extra: { port?: string; openPort?: (p: string) => Promise<void> } = {}) {
  const lines: string[] = [];
  const done = flashArduino({
    modelDir: model,
    runtime: 'native',
    arduinoCli: standIn.cli,
    port: extra.port,
    ports: { sysRoot, list: noUdev },
    openPort: extra.openPort ?? (async () => undefined),
    comeBackMs: 2000,
    openMs: 300,
    intervalMs: 20,
    log: (l) => lines.push(l),
  });
  return { done, lines };
}

function sys(ports: Parameters<typeof fakeSysWith>[0]): string {
  const root = fakeSysWith(ports);
  roots.push(root);
  return root;
}

describe('flashArduino follows the flashed board', () => {
  it('(a) the port is renamed by the upload and found again by serial number', async () => {
    const root = sys([{ tty: 'ttyACM0', usb: 'usb1/1-2', serial: 'A1B2C3D4E5F60718' }]);
    // Like arduino-cli before updated_upload_port: no word on where the board went.
    await standIn.setState({ coreInstalled: true, ports: ['/dev/ttyACM0'], reportPort: 'none', reenumerate: { sysRoot: root, from: 'ttyACM0', to: 'ttyACM1' } });
    const { done, lines } = flash(root);
    assert.equal(await done, '/dev/ttyACM1');
    assert.match(lines.join('\n'), /uploading to \/dev\/ttyACM0 \(serial number A1B2C3D4E5F60718\)/);
    assert.match(lines.join('\n'), /the flashed board is on \/dev\/ttyACM1: found by its serial number A1B2C3D4E5F60718 \(arduino-cli reported no port\)/);
    const upload = (await standIn.calls()).find((c) => c.args[0] === 'upload')!;
    assert.equal(upload.args[2], '/dev/ttyACM0');
  });

  it('(a) the renamed port arduino-cli reports is taken when it is the same board', async () => {
    const root = sys([{ tty: 'ttyACM0', usb: 'usb1/1-2', serial: 'A1B2C3D4E5F60718' }]);
    await standIn.setState({ coreInstalled: true, ports: ['/dev/ttyACM0'], newPort: '/dev/ttyACM1', reenumerate: { sysRoot: root, from: 'ttyACM0', to: 'ttyACM1' } });
    const { done, lines } = flash(root);
    assert.equal(await done, '/dev/ttyACM1');
    assert.match(lines.join('\n'), /the flashed board is on \/dev\/ttyACM1: the port arduino-cli reported, serial number A1B2C3D4E5F60718/);
  });

  it('(b) with two boards, the flashed one (by serial number) is returned, not the other', async () => {
    const root = sys([
      { tty: 'ttyACM0', usb: 'usb1/1-1', serial: 'OTHERBOARD000001' },
      { tty: 'ttyACM1', usb: 'usb1/1-4', serial: 'FLASHEDBOARD0002' },
    ]);
    // The flashed board comes back as ttyACM2; arduino-cli points at the OTHER board's port.
    await standIn.setState({
      coreInstalled: true,
      ports: ['/dev/ttyACM0', '/dev/ttyACM1'],
      newPort: '/dev/ttyACM0',
      reenumerate: { sysRoot: root, from: 'ttyACM1', to: 'ttyACM2' },
    });
    const { done, lines } = flash(root, { port: '/dev/ttyACM1' });
    assert.equal(await done, '/dev/ttyACM2');
    assert.match(
      lines.join('\n'),
      /the flashed board is on \/dev\/ttyACM2: found by its serial number FLASHEDBOARD0002 \(arduino-cli reported \/dev\/ttyACM0, where this board is not\)/,
    );
  });

  it('(b) without --port, two boards are refused before anything is uploaded', async () => {
    const root = sys([
      { tty: 'ttyACM0', usb: 'usb1/1-1', serial: 'OTHERBOARD000001' },
      { tty: 'ttyACM1', usb: 'usb1/1-4', serial: 'FLASHEDBOARD0002' },
    ]);
    await standIn.setState({ coreInstalled: true, ports: ['/dev/ttyACM0', '/dev/ttyACM1'] });
    await assert.rejects(flash(root).done, (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /several Nano 33 BLE boards found \(\/dev\/ttyACM0 .*serial number OTHERBOARD000001.*\/dev\/ttyACM1 .*: choose one with --port/);
      return true;
    });
    assert.deepEqual((await standIn.calls()).filter((c) => c.args[0] === 'upload'), []);
  });

  it('the board never comes back: the error names its serial number and what was seen', async () => {
    const root = sys([{ tty: 'ttyACM0', usb: 'usb1/1-2', serial: 'A1B2C3D4E5F60718' }]);
    // Only the bootloader shows up (pid 005a) after the upload.
    await standIn.setState({
      coreInstalled: true,
      ports: ['/dev/ttyACM0'],
      reportPort: 'none',
      reenumerate: { sysRoot: root, from: 'ttyACM0', to: 'ttyACM9', productFile: 'devices/usb1/1-2/idProduct', product: '005a' },
    });
    const { done } = flash(root, {
      openPort: async () => {
        throw new Error('not reached');
      },
    });
    await assert.rejects(done, /Nano 33 BLE with serial number A1B2C3D4E5F60718 did not come back as a sketch port within 2000 ms .*\/dev\/ttyACM9 \(2341:005a/);
  });

  it('nothing built yet: says to build first, before arduino-cli runs', async () => {
    const root = sys([{ tty: 'ttyACM0', usb: 'usb1/1-2', serial: 'A1B2C3D4E5F60718' }]);
    await standIn.setState({ coreInstalled: true, ports: ['/dev/ttyACM0'] });
    await assert.rejects(
      flashArduino({ modelDir: join(tmp, 'unbuilt'), runtime: 'tflm', arduinoCli: standIn.cli, ports: { sysRoot: root, list: noUdev } }),
      /nothing built for the Nano 33 BLE in .*unbuilt: run 'tinyml build --model .*unbuilt --board nano33ble --runtime tflm' first/,
    );
    assert.deepEqual(await standIn.calls(), []);
  });

  it('the first opens fail (udev, ModemManager): retried until one succeeds, within a bound', async () => {
    const root = sys([{ tty: 'ttyACM0', usb: 'usb1/1-2', serial: 'A1B2C3D4E5F60718' }]);
    await standIn.setState({ coreInstalled: true, ports: ['/dev/ttyACM0'] });
    let opens = 0;
    const flaky = async (path: string) => {
      opens++;
      if (opens < 3) throw new SerialPortError(`cannot open serial port ${path}: permission denied`, path);
    };
    const { done, lines } = flash(root, { openPort: flaky });
    assert.equal(await done, '/dev/ttyACM0');
    assert.equal(opens, 3);
    assert.match(lines.join('\n'), /\/dev\/ttyACM0 opened after 3 tries/);

    const never = async (path: string) => {
      throw new SerialPortError(`cannot open serial port ${path}: the port is in use`, path);
    };
    await standIn.setState({ coreInstalled: true, ports: ['/dev/ttyACM0'] });
    await assert.rejects(flash(root, { openPort: never }).done, (err: unknown) => {
      assert.ok(err instanceof SerialPortError);
      assert.match(err.message, /^cannot open serial port \/dev\/ttyACM0: the port is in use \(still failing after \d+ tries? in 300 ms\)$/);
      return true;
    });
  });
});
