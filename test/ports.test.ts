import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  boardMatcher,
  findPorts,
  listPorts,
  NANO33BLE,
  parseUsbId,
  pickFlashedPort,
  scanSysfsTty,
  usbMatcher,
  waitForFlashedPort,
  waitForPort,
  waitUntilOpens,
  type FlashedBoard,
  type SerialPortInfo,
} from '../src/device/ports.ts';
import { PortNotFoundError, SerialPortError } from '../src/device/errors.ts';
import { addUsbTty, fakeSysWith, noUdev } from './helpers/fake-sys.ts';

/** A fake /sys with the layouts Linux uses for CDC-ACM and FTDI ports. */
function fakeSys(): string {
  const root = mkdtempSync(join(tmpdir(), 'tinyml-sys-'));
  const tty = join(root, 'class', 'tty');
  mkdirSync(tty, { recursive: true });
  const usbDevice = (path: string, attrs: Record<string, string>) => {
    mkdirSync(join(root, path), { recursive: true });
    for (const [k, v] of Object.entries(attrs)) writeFileSync(join(root, path, k), `${v}\n`);
  };
  const ttyEntry = (name: string, target: string | null) => {
    mkdirSync(join(tty, name));
    if (target) {
      mkdirSync(join(root, target), { recursive: true });
      symlinkSync(join(root, target), join(tty, name, 'device'));
    }
  };
  // ttyACM: device -> the USB interface; idVendor is one level up.
  usbDevice('devices/pci0000:00/usb1/1-2', { idVendor: '2341', idProduct: '805a', serial: 'ABC123', manufacturer: 'Arduino', product: 'Nano 33 BLE' });
  ttyEntry('ttyACM0', 'devices/pci0000:00/usb1/1-2/1-2:1.0');
  // ttyUSB: device -> a child of the interface; idVendor is two levels up.
  usbDevice('devices/pci0000:00/usb1/1-3', { idVendor: '0403', idProduct: '6001' });
  ttyEntry('ttyUSB0', 'devices/pci0000:00/usb1/1-3/1-3:1.0/ttyUSB0');
  ttyEntry('ttyS0', 'devices/platform/serial8250');
  ttyEntry('ttyAMA0', 'devices/platform/fe201000.serial');
  ttyEntry('tty0', null);
  return root;
}

test('parseUsbId and matchers', () => {
  assert.equal(parseUsbId('2341\n'), 0x2341);
  assert.equal(parseUsbId('0x805A'), 0x805a);
  assert.ok(Number.isNaN(parseUsbId('zz')));
  assert.ok(Number.isNaN(parseUsbId(undefined)));
  const app = boardMatcher(NANO33BLE);
  assert.equal(app({ path: 'a', vendorId: '2341', productId: '805a' }), true);
  assert.equal(app({ path: 'a', vendorId: '2341', productId: '005a' }), false);
  assert.equal(boardMatcher(NANO33BLE, 'bootloader')({ path: 'a', vendorId: '2341', productId: '005A' }), true);
  assert.equal(usbMatcher(0x2341)({ path: 'a', vendorId: '2341', productId: '1234' }), true);
  assert.equal(usbMatcher(0x2341)({ path: 'a' }), false);
});

test('scanSysfsTty reads USB ids of ACM and FTDI ports and skips consoles', () => {
  const root = fakeSys();
  try {
    const ports = scanSysfsTty({ sysRoot: root });
    assert.deepEqual(ports, [
      { path: '/dev/ttyACM0', vendorId: '2341', productId: '805a', serialNumber: 'ABC123', manufacturer: 'Arduino', product: 'Nano 33 BLE' },
      { path: '/dev/ttyAMA0' },
      { path: '/dev/ttyUSB0', vendorId: '0403', productId: '6001', serialNumber: undefined, manufacturer: undefined, product: undefined },
    ]);
    assert.deepEqual(scanSysfsTty({ sysRoot: join(root, 'missing') }), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('listPorts falls back to sysfs when SerialPort.list fails (no udevadm)', async () => {
  const root = fakeSys();
  try {
    const failing = async () => {
      throw Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT' });
    };
    const found = await findPorts(boardMatcher(NANO33BLE), { sysRoot: root, list: failing });
    assert.deepEqual(found.map((p) => p.path), ['/dev/ttyACM0']);
    const fromList = await listPorts({ list: async () => [{ path: '/dev/ttyACM1', vendorId: '2341', productId: '805A' }] });
    assert.deepEqual(fromList[0], { path: '/dev/ttyACM1', vendorId: '2341', productId: '805a', serialNumber: undefined, manufacturer: undefined, product: undefined });
    // The real lister on this machine: works with or without udevadm.
    assert.ok(Array.isArray(await listPorts()));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('waitForPort sees a port come back after re-enumeration, or names what it saw', async () => {
  const root = fakeSys();
  const failing = async () => {
    throw new Error('spawn udevadm ENOENT');
  };
  try {
    // The board re-enumerates as the bootloader, then as the sketch on ttyACM1.
    rmSync(join(root, 'class', 'tty', 'ttyACM0'), { recursive: true });
    setTimeout(() => {
      mkdirSync(join(root, 'devices/usb2/2-1/2-1:1.0'), { recursive: true });
      writeFileSync(join(root, 'devices/usb2/2-1/idVendor'), '2341\n');
      writeFileSync(join(root, 'devices/usb2/2-1/idProduct'), '805a\n');
      mkdirSync(join(root, 'class/tty/ttyACM1'));
      symlinkSync(join(root, 'devices/usb2/2-1/2-1:1.0'), join(root, 'class/tty/ttyACM1/device'));
    }, 80);
    const port = await waitForPort(boardMatcher(NANO33BLE), { sysRoot: root, list: failing, timeoutMs: 3000, intervalMs: 20 });
    assert.equal(port.path, '/dev/ttyACM1');

    await assert.rejects(
      waitForPort(usbMatcher(0x1234), { sysRoot: root, list: failing, timeoutMs: 60, intervalMs: 20, what: 'a test board' }),
      (err: unknown) => {
        assert.ok(err instanceof PortNotFoundError);
        assert.match(err.message, /no serial port of a test board appeared within 60 ms/);
        assert.match(err.message, /\/dev\/ttyACM1 \(2341:805a\)/);
        return true;
      },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

describe('following a flashed board', () => {
  const app = (path: string, serialNumber?: string): SerialPortInfo => ({ path, vendorId: '2341', productId: '805a', serialNumber });
  const boot = (path: string, serialNumber?: string): SerialPortInfo => ({ path, vendorId: '2341', productId: '005a', serialNumber });
  const board = (serialNumber: string | undefined, otherPaths: string[] = []): FlashedBoard => ({ board: NANO33BLE, path: '/dev/ttyACM1', serialNumber, otherPaths });

  it('pickFlashedPort: by serial number, preferring the port arduino-cli reported when it is that board', () => {
    const ports = [app('/dev/ttyACM0', 'OTHER'), app('/dev/ttyACM2', 'MINE'), boot('/dev/ttyACM3', 'MINE')];
    assert.deepEqual(pickFlashedPort(ports, board('MINE'), '/dev/ttyACM2'), { kind: 'found', port: ports[1], how: 'reported' });
    assert.deepEqual(pickFlashedPort(ports, board('MINE'), '/dev/ttyACM0'), { kind: 'found', port: ports[1], how: 'serial-number' });
    assert.deepEqual(pickFlashedPort(ports, board('MINE'), null), { kind: 'found', port: ports[1], how: 'serial-number' });
    // Only the bootloader so far: not yet.
    assert.deepEqual(pickFlashedPort([ports[0]!, ports[2]!], board('MINE'), '/dev/ttyACM3'), { kind: 'none' });
  });

  it('pickFlashedPort without a serial number: the reported sketch port, else the only one that is not another board', () => {
    const ports = [app('/dev/ttyACM0'), app('/dev/ttyACM2')];
    assert.deepEqual(pickFlashedPort(ports, board(undefined, ['/dev/ttyACM0']), '/dev/ttyACM2'), { kind: 'found', port: ports[1], how: 'reported' });
    assert.deepEqual(pickFlashedPort(ports, board(undefined, ['/dev/ttyACM0']), null), { kind: 'found', port: ports[1], how: 'only-new' });
    assert.deepEqual(pickFlashedPort(ports, board(undefined), null), { kind: 'ambiguous', ports });
    assert.deepEqual(pickFlashedPort([ports[0]!], board(undefined, ['/dev/ttyACM0']), null), { kind: 'none' });
  });

  it('waitForFlashedPort waits through the bootloader for the sketch port of that serial number', async () => {
    const root = fakeSysWith([{ tty: 'ttyACM0', usb: 'usb1/1-1', serial: 'OTHER' }, { tty: 'ttyACM1', usb: 'usb1/1-2', productId: '005a', serial: 'MINE' }]);
    try {
      setTimeout(() => addUsbTty(root, { tty: 'ttyACM3', usb: 'usb1/1-3', serial: 'MINE' }), 80);
      const found = await waitForFlashedPort(board('MINE', ['/dev/ttyACM0']), null, { sysRoot: root, list: noUdev, timeoutMs: 3000, intervalMs: 20 });
      assert.equal(found.port.path, '/dev/ttyACM3');
      assert.equal(found.how, 'serial-number');
      await assert.rejects(
        waitForFlashedPort(board(undefined), null, { sysRoot: root, list: noUdev, timeoutMs: 60, intervalMs: 20 }),
        /cannot tell which Arduino Nano 33 BLE is the one flashed on \/dev\/ttyACM1 .*unplug the others/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('waitUntilOpens retries a failing open for a bounded time', async () => {
    let n = 0;
    const busyThrice = async () => {
      if (++n < 4) throw new Error('EBUSY');
    };
    assert.equal(await waitUntilOpens('/dev/ttyACM0', { open: busyThrice, intervalMs: 5 }), 4);
    const started = Date.now();
    await assert.rejects(
      waitUntilOpens('/dev/ttyACM0', { open: async () => Promise.reject(new Error('Permission denied')), timeoutMs: 100, intervalMs: 10 }),
      (err: unknown) => err instanceof SerialPortError && /^Permission denied \(still failing after \d+ tries? in 100 ms\)$/.test(err.message),
    );
    assert.ok(Date.now() - started < 2000);
    // The real open on a path that is not there fails with the explained message.
    await assert.rejects(waitUntilOpens('/dev/tinyml-no-such-port', { timeoutMs: 0 }), /no such port/);
  });
});
