/** A fake /sys/class/tty with USB CDC-ACM boards, as Linux lays it out, for the sysfs port scan. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeUsbTty {
  /** ttyACM0 */
  readonly tty: string;
  /** USB device path under devices/, e.g. usb1/1-2 */
  readonly usb: string;
  readonly vendorId?: string;
  readonly productId?: string;
  readonly serial?: string;
}

/** Adds one ACM port: class/tty/<tty>/device -> devices/<usb>/<usb>:1.0, idVendor etc. one level up. */
export function addUsbTty(root: string, port: FakeUsbTty): void {
  const dev = join(root, 'devices', port.usb);
  const name = port.usb.split('/').pop()!;
  mkdirSync(join(dev, `${name}:1.0`), { recursive: true });
  writeFileSync(join(dev, 'idVendor'), `${port.vendorId ?? '2341'}\n`);
  writeFileSync(join(dev, 'idProduct'), `${port.productId ?? '805a'}\n`);
  writeFileSync(join(dev, 'product'), 'Nano 33 BLE\n');
  if (port.serial) writeFileSync(join(dev, 'serial'), `${port.serial}\n`);
  mkdirSync(join(root, 'class', 'tty', port.tty), { recursive: true });
  symlinkSync(join(dev, `${name}:1.0`), join(root, 'class', 'tty', port.tty, 'device'));
}

export function fakeSysWith(ports: readonly FakeUsbTty[]): string {
  const root = mkdtempSync(join(tmpdir(), 'tinyml-sys-'));
  mkdirSync(join(root, 'class', 'tty'), { recursive: true });
  for (const p of ports) addUsbTty(root, p);
  return root;
}

/** SerialPort.list() as it fails without udevadm, so the scan reads the fake tree. */
export const noUdev = async (): Promise<never> => {
  throw Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT' });
};
