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

test('permission denied names the dialout group', async () => {
  const e = Object.assign(new Error('Error: Permission denied, cannot open /dev/ttyACM0'), { code: 'EACCES' });
  assert.match(explainSerialError(e, '/dev/ttyACM0', 'open').message, /permission denied: add yourself to the 'dialout' group/);
  // As a user other than root, the real thing (root may open any file).
  if (process.getuid?.() !== 0) {
    const dir = await mkdtemp(join(tmpdir(), 'tinyml-porterr-'));
    writeFileSync(join(dir, 'locked'), '');
    chmodSync(join(dir, 'locked'), 0);
    assert.match((await openError(join(dir, 'locked'))).message, /permission denied/);
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
