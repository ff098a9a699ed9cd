/**
 * A noisy cable between a device's tty (QEMU's pty) and the host, for tests:
 * `socat` makes a new pty whose slave is reached through `linkPath` (a
 * symlink, as /dev/serial/by-id/... is) and bridges its master to our stdio;
 * this module copies bytes between that and the device's tty, damaging them on
 * the way at a seeded rate (flipped, lost or inserted bytes: ByteFaulter), and
 * can unplug the port (socat exits, the symlink and the pty vanish: the host
 * sees its port close, as when a USB cable is pulled) and plug it back (a new
 * pty behind the same path).
 *
 * Node cannot make a pty itself; socat is a Debian package (scripts/debian-packages.txt).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { ByteFaulter, type ByteFaultOptions } from './mock-device.ts';

export const hasSocat = (): boolean => spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;

export interface FaultRelayOptions {
  /** The device's tty, e.g. QEMU's /dev/pts/N. */
  readonly devicePath: string;
  /** Where the host's end appears (a symlink to a new pty). */
  readonly linkPath: string;
  /** Byte faults in both directions; none for a clean relay. May be changed later with setFaults. */
  readonly faults?: ByteFaultOptions | null;
}

export interface FaultRelay {
  readonly linkPath: string;
  /** Bytes relayed so far, each way, before damage. */
  readonly bytes: { toDevice: number; toHost: number };
  readonly faulters: { toDevice: ByteFaulter; toHost: ByteFaulter } | null;
  setFaults(faults: ByteFaultOptions | null): void;
  /** Pulls the cable: the host's pty and linkPath disappear. Bytes from the device meanwhile are lost. */
  unplug(): Promise<void>;
  /** Plugs it back: a new pty at linkPath. */
  replug(): Promise<void>;
  readonly plugged: boolean;
  /** Stops the relay (socat and the device tty closed). */
  close(): Promise<void>;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`fault relay: ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function startFaultRelay(options: FaultRelayOptions): Promise<FaultRelay> {
  const device = new SerialPort({ path: options.devicePath, baudRate: 115200, autoOpen: false, lock: false });
  await new Promise<void>((resolve, reject) => device.open((err) => (err ? reject(err) : resolve())));
  const bytes = { toDevice: 0, toHost: 0 };
  let faulters: FaultRelay['faulters'] = null;
  const setFaults = (f: ByteFaultOptions | null) => {
    faulters = f ? { toDevice: new ByteFaulter(f), toHost: new ByteFaulter({ ...f, seed: f.seed ^ 0x5a5a5a5a }) } : null;
  };
  setFaults(options.faults ?? null);
  let socat: ChildProcess | null = null;
  let closed = false;

  device.on('data', (chunk: Buffer) => {
    bytes.toHost += chunk.length;
    if (!socat?.stdin?.writable) return; // unplugged: the bytes are lost, as on a pulled cable
    socat.stdin.write(faulters ? faulters.toHost.apply(chunk) : chunk);
  });
  device.on('error', () => undefined);

  const plug = async () => {
    const child = spawn('socat', ['-b', '4096', `PTY,link=${options.linkPath},raw,echo=0`, 'STDIO'], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (chunk: Buffer) => {
      bytes.toDevice += chunk.length;
      device.write(faulters ? Buffer.from(faulters.toDevice.apply(chunk)) : chunk);
    });
    socat = child;
    await waitFor(() => existsSync(options.linkPath), 5000, `socat made no ${options.linkPath}`);
  };
  const unplug = async () => {
    const child = socat;
    if (!child) return;
    socat = null;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await waitFor(() => !existsSync(options.linkPath), 2000, `${options.linkPath} still there after socat exited`);
  };
  await plug();
  return {
    linkPath: options.linkPath,
    bytes,
    get faulters() {
      return faulters;
    },
    setFaults,
    unplug,
    replug: plug,
    get plugged() {
      return socat !== null;
    },
    async close() {
      if (closed) return;
      closed = true;
      await unplug();
      await new Promise<void>((resolve) => device.close(() => resolve()));
    },
  };
}
