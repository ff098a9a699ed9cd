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
 * port may appear under another product id and often another name, then the
 * sketch's comes back, not always under its old name): waitForPort polls until a
 * matching port is there, and pickFlashedPort tells the flashed board from
 * another one plugged in by its USB serial number (the Nano's mbed core derives
 * it from the nRF52840's FICR, so it stays the same across sketches).
 */
import { readdirSync, readFileSync, realpathSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SerialPort } from 'serialport';
import { PortNotFoundError, SerialPortError } from './errors.ts';
import { SerialTransport } from './serial-transport.ts';

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

/** "/dev/ttyACM0 (2341:805a Nano 33 BLE, serial number ABC)", for messages. */
export function describePort(p: SerialPortInfo): string {
  if (!p.vendorId) return p.path;
  const serial = p.serialNumber ? `, serial number ${p.serialNumber}` : '';
  return `${p.path} (${p.vendorId}:${p.productId}${p.product ? ` ${p.product}` : ''}${serial})`;
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

/** The listed port at `path` (a link such as /dev/serial/by-id/... resolved first); undefined when it is not listed. */
export function findListedPort(ports: readonly SerialPortInfo[], path: string): SerialPortInfo | undefined {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // not on this machine's /dev (a fake tree, or gone): compare the name as given
  }
  return ports.find((p) => p.path === path || p.path === real);
}

/** What is known, before the upload, of the board being flashed. */
export interface FlashedBoard {
  readonly board: UsbBoard;
  /** The port uploaded to. */
  readonly path: string;
  /** Its USB serial number, when its sketch port was listed with one. */
  readonly serialNumber?: string;
  /** Sketch ports of other boards of the same kind that were there before (paths). */
  readonly otherPaths: readonly string[];
}

export type FlashedPortChoice =
  | { readonly kind: 'found'; readonly port: SerialPortInfo; readonly how: 'reported' | 'serial-number' | 'only-new' }
  | { readonly kind: 'ambiguous'; readonly ports: readonly SerialPortInfo[] }
  | { readonly kind: 'none' };

/**
 * Among the ports listed now, the sketch port of the board that was flashed.
 * With its serial number: the port arduino-cli reported when it is that board,
 * else the port of that board under whatever name it came back. Without one
 * (the port had no USB data before): the reported port if it is a sketch port
 * of that kind of board, else the only such port that is not another board's.
 */
export function pickFlashedPort(ports: readonly SerialPortInfo[], flashed: FlashedBoard, reported: string | null): FlashedPortChoice {
  const apps = ports.filter(boardMatcher(flashed.board, 'app'));
  if (flashed.serialNumber !== undefined) {
    const same = apps.filter((p) => p.serialNumber === flashed.serialNumber);
    const atReported = same.find((p) => p.path === reported);
    if (atReported) return { kind: 'found', port: atReported, how: 'reported' };
    return same.length > 0 ? { kind: 'found', port: same[0]!, how: 'serial-number' } : { kind: 'none' };
  }
  const atReported = apps.find((p) => p.path === reported);
  if (atReported) return { kind: 'found', port: atReported, how: 'reported' };
  const fresh = apps.filter((p) => !flashed.otherPaths.includes(p.path));
  if (fresh.length === 1) return { kind: 'found', port: fresh[0]!, how: 'only-new' };
  return fresh.length > 1 ? { kind: 'ambiguous', ports: fresh } : { kind: 'none' };
}

export interface WaitForFlashedOptions extends ListPortsOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Polls until pickFlashedPort finds the flashed board's sketch port.
 * @throws PortNotFoundError after timeoutMs (default 15 s), naming the board's serial number and the ports seen
 */
export async function waitForFlashedPort(
  flashed: FlashedBoard,
  reported: string | null,
  options: WaitForFlashedOptions = {},
): Promise<{ port: SerialPortInfo; how: 'reported' | 'serial-number' | 'only-new' }> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let seen: SerialPortInfo[] = [];
  let last: FlashedPortChoice = { kind: 'none' };
  for (;;) {
    options.signal?.throwIfAborted();
    seen = await listPorts(options);
    last = pickFlashedPort(seen, flashed, reported);
    if (last.kind === 'found') return { port: last.port, how: last.how };
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const usb = seen.filter((p) => p.vendorId);
  const which = flashed.serialNumber ? `with serial number ${flashed.serialNumber}` : `flashed on ${flashed.path}`;
  const listed = `USB serial ports seen: ${usb.length ? usb.map(describePort).join(', ') : 'none'}`;
  if (last.kind === 'ambiguous') {
    throw new PortNotFoundError(
      `cannot tell which ${flashed.board.name} is the one flashed on ${flashed.path} (${listed}): unplug the others, or validate with --port on the right one`,
    );
  }
  throw new PortNotFoundError(
    `the ${flashed.board.name} ${which} did not come back as a sketch port within ${timeoutMs} ms (${listed}); ` +
      'check the USB cable (a charge-only cable has no data lines), press reset twice for the bootloader and flash again, or pass --port',
  );
}

export interface WaitUntilOpensOptions {
  /** Opens the port and closes it again; default a SerialTransport at the link's 115200 baud (never 1200). */
  readonly open?: (path: string) => Promise<void>;
  /** Default 10 s. */
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Opens a port that has just appeared until an open succeeds: right after
 * enumeration udev may not have applied the group permissions yet (EACCES) and
 * ModemManager may be probing it (EBUSY), which last a few seconds.
 * @returns how many opens it took
 * @throws the last open's error (a SerialPortError saying what to do) after timeoutMs
 */
export async function waitUntilOpens(path: string, options: WaitUntilOpensOptions = {}): Promise<number> {
  const open = options.open ?? openAndClose;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await open(path);
      return attempt;
    } catch (err) {
      if (Date.now() >= deadline) {
        const text = err instanceof Error ? err.message : String(err);
        throw new SerialPortError(`${text} (still failing after ${attempt} ${attempt === 1 ? 'try' : 'tries'} in ${timeoutMs} ms)`, path, { cause: err });
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

async function openAndClose(path: string): Promise<void> {
  const transport = new SerialTransport({ path });
  await transport.open();
  await transport.close();
}
