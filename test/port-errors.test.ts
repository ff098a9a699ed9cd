/**
 * Port problems give one clear line, in bounded time, on real ptys (socat) and
 * files: busy (held by another process's lock), permission denied, not a tty,
 * missing, a device that answers garbage, and one that answers nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync, chmodSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explainSerialError, SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { HandshakeTimeoutError, SerialPortError } from '../src/device/errors.ts';
import { hasSocat } from './helpers/fault-relay.ts';

const skip = hasSocat() ? false : 'needs socat';

/** A pty at `path` whose other end is socat's stdio (write to .stdin to play a device). */
async function fakePort(path: string): Promise<ChildProcess> {
  const child = spawn('socat', [`PTY,link=${path},raw,echo=0`, 'STDIO'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.on('error', () => undefined);
  const until = Date.now() + 5000;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error('socat made no pty');
    await new Promise((r) => setTimeout(r, 10));
  }
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function openError(path: string): Promise<SerialPortError> {
  const t = new SerialTransport({ path });
  try {
    await t.open();
  } catch (err) {
    assert.ok(err instanceof SerialPortError, String(err));
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return err;
  }
  await t.close();
  assert.fail(`opening ${path} succeeded`);
}

test('a port held by another process, a file that is not a tty, and a missing path: one clear line each', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-porterr-'));
  const pty = await fakePort(join(dir, 'tty'));
  const holder = new SerialTransport({ path: join(dir, 'tty') });
  try {
    await holder.open();
    assert.match((await openError(join(dir, 'tty'))).message, /the port is in use: close any serial monitor/);
    writeFileSync(join(dir, 'file'), 'x');
    assert.match((await openError(join(dir, 'file'))).message, /not a serial port \(not a tty\)/);
    assert.match((await openError(join(dir, 'nope'))).message, /no such port/);
  } finally {
    await holder.close();
    await stop(pty);
    await rm(dir, { recursive: true, force: true });
  }
});

/** Opens `path` with SerialTransport in a child running as `nobody`, and returns its one-line error. */
function openErrorAsNobody(path: string): Promise<string> {
  const script = `import('./src/device/serial-transport.ts').then(async ({ SerialTransport }) => {
    try { await new SerialTransport({ path: ${JSON.stringify(path)} }).open(); console.log('opened'); }
    catch (err) { console.log(err instanceof Error ? err.message : String(err)); }
  });`;
  const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '-e', script], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => resolve(out.trim()));
  });
}

const asRoot = process.getuid?.() === 0;
const skipPermission = !hasSocat() ? 'needs socat' : asRoot && !existsSync('/usr/bin/setpriv') ? 'as root, needs setpriv (util-linux) to drop to nobody' : false;

test('permission denied names the dialout group', { skip: skipPermission, timeout: 30_000 }, async () => {
  const e = Object.assign(new Error('Error: Permission denied, cannot open /dev/ttyACM0'), { code: 'EACCES' });
  assert.match(explainSerialError(e, '/dev/ttyACM0', 'open').message, /permission denied: add yourself to the 'dialout' group/);
  // The real thing: a pty owned by root:tty, mode 0620, like a /dev/ttyACM0 of root:dialout, opened by a user
  // outside its group. Root may open anything, so as root the opener is a child dropped to nobody.
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-porterr-'));
  chmodSync(dir, 0o755);
  const pty = await fakePort(join(dir, 'tty'));
  try {
    const message = asRoot ? await openErrorAsNobody(join(dir, 'tty')) : (await openError(join(dir, 'tty'))).message;
    assert.doesNotMatch(message, /\n/, 'one line');
    assert.match(message, /permission denied: add yourself to the 'dialout' group/);
  } finally {
    await stop(pty);
    await rm(dir, { recursive: true, force: true });
  }
});

test('a device that answers garbage, and one that answers nothing: a handshake timeout saying which', { skip, timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-porterr-'));
  try {
    for (const c of [
      { garbage: true, want: /sent \d+ bytes but no frame \(a serial console or other firmware/ },
      { garbage: false, want: /the device sent nothing/ },
    ]) {
      const path = join(dir, c.garbage ? 'garbage' : 'silent');
      const pty = await fakePort(path);
      const timer = c.garbage ? setInterval(() => pty.stdin!.write('Hello from a sketch that prints\r\n'), 20) : null;
      const link = new DeviceLink(new SerialTransport({ path }));
      try {
        await link.transport.open();
        const started = Date.now();
        await assert.rejects(link.handshake({ timeoutMs: 800, intervalMs: 100 }), (err: unknown) => {
          assert.ok(err instanceof HandshakeTimeoutError);
          assert.match(err.message, c.want);
          assert.match(err.message, /no INFO from the device on .* after \d+ HELLOs in 800 ms/);
          return true;
        });
        assert.ok(Date.now() - started < 3000, 'bounded by the handshake timeout');
      } finally {
        if (timer) clearInterval(timer);
        await link.close();
        await stop(pty);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
