/**
 * Finding a board's serial port by its USB vendor/product id.
 *
 * node-serialport's SerialPort.list() asks `udevadm` on Linux; where udev is
 * absent (containers, minimal systems) it fails, and we read sysfs instead:
 * /sys/class/tty/<name>/device points at the USB interface (ttyACM) or a child
 * of it (ttyUSB), and the USB device above holds idVendor, idProduct, serial,
 * manufacturer and product. The parsing takes a root folder, so tests run it on
 * a fake tree.
 *
 * After an upload the board re-enumerates (the port disappears, the bootloader's
 * port may appear, then the sketch's comes back): waitForPort polls until a
 * matching port is there.
 */
import { readdirSync, readFileSync, realpathSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SerialPort } from 'serialport';
import { PortNotFoundError } from './errors.ts';

export interface SerialPortInfo {
  readonly path: string;
  /** 4 lowercase hex digits, or undefined for ports that are not USB. */
  readonly vendorId?: string;
  readonly productId?: string;
  readonly serialNumber?: string;
  readonly manufacturer?: string;
  readonly product?: string;
}

export interface UsbBoard {
  readonly name: string;
  readonly vendorId: number;
  /** Product ids of the running sketch. */
  readonly appProductIds: readonly number[];
  /** Product ids of the bootloader (double-tap reset, or the 1200-baud touch during upload). */
  readonly bootloaderProductIds: readonly number[];
}

/**
 * Arduino Nano 33 BLE (and Sense), from ArduinoCore-mbed boards.txt: nano33ble.vid/pid
 * 0x2341:0x005a (bootloader), 0x805a (mbed sketch), 0x015a and 0x025a (other sketch USB configurations).
 */
export const NANO33BLE: UsbBoard = {
  name: 'Arduino Nano 33 BLE',
  vendorId: 0x2341,
  appProductIds: [0x805a, 0x015a, 0x025a],
  bootloaderProductIds: [0x005a],
};

export type PortMatcher = (port: SerialPortInfo) => boolean;

/** "0x2341", "2341", "2341\n" -> 0x2341; NaN when not hex. */
export function parseUsbId(text: string | undefined): number {
  if (text === undefined) return Number.NaN;
  const t = text.trim().toLowerCase().replace(/^0x/, '');
  return /^[0-9a-f]{1,4}$/.test(t) ? parseInt(t, 16) : Number.NaN;
}

/** Matches ports of a VID and any of the PIDs (all PIDs when none are given). */
export function usbMatcher(vendorId: number, productIds: readonly number[] = []): PortMatcher {
  return (p) =>
    parseUsbId(p.vendorId) === vendorId && (productIds.length === 0 || productIds.includes(parseUsbId(p.productId)));
}

/** A board's sketch port (`which: 'app'`), bootloader port, or either. */
export function boardMatcher(board: UsbBoard, which: 'app' | 'bootloader' | 'any' = 'app'): PortMatcher {
  const pids =
    which === 'app' ? board.appProductIds : which === 'bootloader' ? board.bootloaderProductIds : [...board.appProductIds, ...board.bootloaderProductIds];
  return usbMatcher(board.vendorId, pids);
}

function readAttr(dir: string, name: string): string | undefined {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export interface SysfsOptions {
  /** Root of sysfs; default /sys. */
  readonly sysRoot?: string;
  /** Where the device nodes are; default /dev. */
  readonly devDir?: string;
}

/**
 * Serial ports described by sysfs: every /sys/class/tty entry with a `device`
 * link (virtual consoles have none), with USB attributes when a USB device is
 * found within four levels above it. Pure reads of `sysRoot`.
 */
export function scanSysfsTty(options: SysfsOptions = {}): SerialPortInfo[] {
  const sysRoot = options.sysRoot ?? '/sys';
  const devDir = options.devDir ?? '/dev';
  const classDir = join(sysRoot, 'class', 'tty');
  let names: string[];
  try {
    names = readdirSync(classDir).sort();
  } catch {
    return [];
  }
  const ports: SerialPortInfo[] = [];
  for (const name of names) {
    const link = join(classDir, name, 'device');
    if (!existsSync(link)) continue;
    let dir: string;
    try {
      dir = realpathSync(link);
    } catch {
      continue;
    }
    // Legacy 8250 UARTs without hardware show up as serial8250 platform devices: skip them.
    if (/serial8250$/.test(dir) && !existsSync(join(dir, '..', 'idVendor'))) continue;
    let usb: string | null = null;
    for (let up = 0, d = dir; up <= 4; up++, d = dirname(d)) {
      if (existsSync(join(d, 'idVendor')) && existsSync(join(d, 'idProduct'))) {
        usb = d;
        break;
      }
    }
    if (!usb) {
      ports.push({ path: join(devDir, name) });
      continue;
    }
    const vid = parseUsbId(readAttr(usb, 'idVendor'));
    const pid = parseUsbId(readAttr(usb, 'idProduct'));
    ports.push({
      path: join(devDir, name),
      vendorId: Number.isNaN(vid) ? undefined : vid.toString(16).padStart(4, '0'),
      productId: Number.isNaN(pid) ? undefined : pid.toString(16).padStart(4, '0'),
      serialNumber: readAttr(usb, 'serial'),
      manufacturer: readAttr(usb, 'manufacturer'),
      product: readAttr(usb, 'product'),
    });
  }
  return ports;
}

export interface ListPortsOptions extends SysfsOptions {
  /** Port lister to try first; default SerialPort.list (needs udevadm on Linux). */
  readonly list?: () => Promise<readonly SerialPortInfo[]>;
}

/** SerialPort.list(), or the sysfs scan (Linux) when it fails, e.g. without udevadm. */
export async function listPorts(options: ListPortsOptions = {}): Promise<SerialPortInfo[]> {
  const list = options.list ?? (() => SerialPort.list());
  try {
    return (await list()).map((p) => ({
      path: p.path,
      vendorId: p.vendorId?.toLowerCase(),
      productId: p.productId?.toLowerCase(),
      serialNumber: p.serialNumber,
      manufacturer: p.manufacturer,
      product: (p as { product?: string }).product,
    }));
  } catch (err) {
    if (process.platform !== 'linux' && options.sysRoot === undefined) throw err;
    return scanSysfsTty(options);
  }
}

export async function findPorts(matcher: PortMatcher, options: ListPortsOptions = {}): Promise<SerialPortInfo[]> {
  return (await listPorts(options)).filter(matcher);
}

export interface WaitForPortOptions extends ListPortsOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Shown in the error, e.g. "Arduino Nano 33 BLE". */
  readonly what?: string;
  readonly signal?: AbortSignal;
}

function describePort(p: SerialPortInfo): string {
  return p.vendorId ? `${p.path} (${p.vendorId}:${p.productId}${p.product ? ` ${p.product}` : ''})` : p.path;
}

/**
 * Polls until a port matches (e.g. after an upload re-enumerated the board).
 * @returns the first matching port
 * @throws PortNotFoundError after timeoutMs (default 10 s), listing the ports seen
 */
export async function waitForPort(matcher: PortMatcher, options: WaitForPortOptions = {}): Promise<SerialPortInfo> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let seen: SerialPortInfo[] = [];
  for (;;) {
    options.signal?.throwIfAborted();
    seen = await listPorts(options);
    const hit = seen.find(matcher);
    if (hit) return hit;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const usb = seen.filter((p) => p.vendorId);
  throw new PortNotFoundError(
    `no serial port of ${options.what ?? 'the board'} appeared within ${timeoutMs} ms ` +
      `(USB serial ports seen: ${usb.length ? usb.map(describePort).join(', ') : 'none'}); ` +
      'check the USB cable (a charge-only cable has no data lines), press reset twice for the bootloader, or pass --port',
  );
}
