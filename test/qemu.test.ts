/**
 * Boots a tiny Cortex-M4 program (a UART0 echo loop, built here with
 * arm-none-eabi-gcc) in QEMU and talks to it through node-serialport on the pty.
 * Skipped when the cross compiler or QEMU is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allowedCpus, parsePtyPath, qemuArgs, qemuCommand, startQemu } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { SerialPortError } from '../src/device/errors.ts';
import { ToolError } from '../src/errors.ts';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !has('arm-none-eabi-gcc') || !has('qemu-system-arm') ? 'needs arm-none-eabi-gcc and qemu-system-arm' : false;

const ECHO_C = `
#include <stdint.h>
#define REG(o) (*(volatile uint32_t *)(0x40004000u + (o)))  /* CMSDK APB UART0 */
void reset(void) {
  REG(0x10) = 16;  /* BAUDDIV */
  REG(0x08) = 3;   /* CTRL: TX and RX enable */
  for (;;) {
    if (REG(0x04) & 2u) {          /* STATE.RXFULL */
      uint32_t c = REG(0x00);
      while (REG(0x04) & 1u) {}    /* STATE.TXFULL */
      REG(0x00) = c ^ 0x20u;       /* echo with bit 5 flipped, so an echo from the tty itself shows */
    }
  }
}
__attribute__((section(".vectors"), used)) const uint32_t vectors[2] = {0x20010000u, (uint32_t)&reset};
`;
const LINK_LD = `
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 4M }
SECTIONS { .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
           .bss : { *(.bss*) *(COMMON) } > RAM }
`;

function buildEcho(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tinyml-qemu-'));
  writeFileSync(join(dir, 'echo.c'), ECHO_C);
  writeFileSync(join(dir, 'link.ld'), LINK_LD);
  const elf = join(dir, 'echo.elf');
  execFileSync('arm-none-eabi-gcc', ['-mcpu=cortex-m4', '-mthumb', '-O1', '-nostdlib', '-nostartfiles', '-T', join(dir, 'link.ld'), '-o', elf, join(dir, 'echo.c')]);
  return elf;
}

function alive(pid: number): boolean {
  // A zombie is dead too: read its state.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

test('parsePtyPath finds serial0 among QEMU output', () => {
  const out = 'qemu: warning\nchar device redirected to /dev/pts/7 (label compat_monitor0)\nchar device redirected to /dev/pts/9 (label serial0)\n';
  assert.equal(parsePtyPath(out), '/dev/pts/9');
  assert.equal(parsePtyPath('nothing yet'), null);
  assert.deepEqual(qemuArgs('fw.elf').slice(0, 4), ['-M', 'mps2-an386', '-icount', 'shift=0,align=off,sleep=on']);
  assert.ok(qemuArgs('fw.elf').includes('pty'));
});

test('QEMU runs pinned to one CPU under setpriv with a parent-death SIGKILL, all resolved to absolute paths', { skip }, () => {
  const c = qemuCommand('qemu-system-arm', ['-M', 'x'], undefined, 3);
  assert.match(c.file, /\/taskset$/);
  assert.deepEqual(c.args.slice(0, 2), ['--cpu-list', '3']);
  assert.match(c.args[2]!, /\/setpriv$/);
  assert.deepEqual(c.args.slice(3, 6), ['--pdeathsig', 'KILL', '--']);
  assert.match(c.args[6]!, /^\/.*\/qemu-system-arm$/);
  assert.deepEqual(c.args.slice(7), ['-M', 'x']);
  // Successive QEMUs take the allowed CPUs in turn.
  const cpus = allowedCpus();
  const picked = Array.from({ length: cpus.length }, () => qemuCommand('qemu-system-arm', [])).map((q) => Number(q.args[1]));
  assert.deepEqual([...picked].sort((a, b) => a - b), cpus);
  assert.deepEqual(allowedCpus('Name:\tx\nCpus_allowed_list:\t0-2,5\n'), [0, 1, 2, 5]);
});

test('QEMU boots an ELF, its UART is a real pty, and stop() leaves no process', { skip, timeout: 60_000 }, async () => {
  const elf = buildEcho();
  const qemu = await startQemu({ elf });
  const pid = qemu.pid;
  try {
    assert.match(qemu.ptyPath, /^\/dev\/pts\/\d+$/);
    // QEMU itself (not a wrapper) holds the pid, pinned to one CPU.
    assert.match(readFileSync(`/proc/${pid}/comm`, 'utf8'), /^qemu-system-arm/);
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Cpus_allowed_list:\s*\d+\s*$/m);
    assert.ok(existsSync(qemu.ptyPath));
    assert.ok(alive(pid));
    const port = new SerialTransport({ path: qemu.ptyPath });
    await port.open();
    const received: number[] = [];
    port.onData((chunk) => received.push(...chunk));
    const payload = Buffer.from('hello, board\x00\x01\xff');
    // QEMU drops output while nobody has the pty open; now we do, so the echo arrives.
    await port.write(payload);
    const deadline = Date.now() + 10_000;
    while (received.length < payload.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(Buffer.from(received), Buffer.from(payload.map((b) => b ^ 0x20)));
    await port.close();
    assert.equal(port.isOpen, false);
  } finally {
    await qemu.stop();
  }
  assert.equal(qemu.running, false);
  assert.equal(alive(pid), false, 'qemu process gone');
  await qemu.stop();
});

test('a QEMU that dies early or is missing gives a one-line ToolError', { skip, timeout: 30_000 }, async () => {
  const elf = buildEcho();
  await assert.rejects(startQemu({ elf, extraArgs: ['-no-such-flag'] }), (err: unknown) => {
    assert.ok(err instanceof ToolError);
    assert.match(err.message, /exited with exit code 1 before connecting/);
    assert.match(err.output, /no-such-flag/);
    return true;
  });
  await assert.rejects(startQemu({ elf, env: { PATH: '/nonexistent' } }), (err: unknown) => {
    assert.ok(err instanceof ToolError);
    assert.equal(err.message, "qemu-system-arm not found: install it with 'sudo apt-get install qemu-system-arm'");
    return true;
  });
});

test('the pty goes away with QEMU: the serial transport reports it once', { skip, timeout: 30_000 }, async () => {
  const qemu = await startQemu({ elf: buildEcho() });
  const port = new SerialTransport({ path: qemu.ptyPath });
  await port.open();
  const closed = new Promise<Error | null>((resolve) => port.onClose(resolve));
  await qemu.stop();
  const err = await closed;
  assert.ok(err instanceof SerialPortError, String(err));
  assert.match(err.message, new RegExp(qemu.ptyPath));
  await port.close();
  await assert.rejects(new SerialTransport({ path: '/dev/pts/99999' }).open(), (e: unknown) => {
    assert.ok(e instanceof SerialPortError);
    assert.match(e.message, /cannot open serial port \/dev\/pts\/99999: no such port/);
    return true;
  });
});

/** A child Node process that starts QEMU and idles; resolves once it has printed QEMU's pid. */
async function qemuInChild(): Promise<{ child: ChildProcess; qemuPid: number }> {
  const elf = buildEcho();
  const script = `
    import { startQemu } from ${JSON.stringify(new URL('../src/device/qemu.ts', import.meta.url).pathname)};
    const q = await startQemu({ elf: ${JSON.stringify(elf)} });
    console.log(q.pid);
    setInterval(() => {}, 1000);
  `;
  const dir = mkdtempSync(join(tmpdir(), 'tinyml-qemu-child-'));
  writeFileSync(join(dir, 'child.mts'), script);
  const child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'child.mts')], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
  const qemuPid = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.on('exit', () => reject(new Error('child exited early')));
  });
  return { child, qemuPid };
}

test('killing the process on SIGTERM takes QEMU with it', { skip, timeout: 30_000 }, async () => {
  const { child, qemuPid } = await qemuInChild();
  assert.ok(alive(qemuPid));
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
  child.kill('SIGTERM');
  assert.equal(await exit, 'SIGTERM', 'the signal is re-raised after cleanup');
  const deadline = Date.now() + 5000;
  while (alive(qemuPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(qemuPid), false);
});

test('SIGKILL of the process that started QEMU takes QEMU with it (parent-death signal)', { skip, timeout: 30_000 }, async () => {
  const { child, qemuPid } = await qemuInChild();
  try {
    assert.ok(alive(qemuPid));
    // The pid handed out is QEMU itself (setpriv execs it), a child of the killed process.
    assert.equal(readFileSync(`/proc/${qemuPid}/comm`, 'utf8').trim(), 'qemu-system-arm');
    assert.equal(Number(readFileSync(`/proc/${qemuPid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]), child.pid);
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    child.kill('SIGKILL');
    assert.equal(await exit, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (alive(qemuPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(qemuPid), false, 'QEMU outlived the SIGKILLed process that started it');
  } finally {
    if (alive(qemuPid)) process.kill(qemuPid, 'SIGKILL');
  }
});
