/**
 * hal_cycles_now() on the emulated board reads exactly across SysTick wraps.
 * firmware/tests/cycles_wrap_test.c, built with the board's hal.c and 2^10-tick
 * wraps instead of 2^24, brackets a loop of known length 100,000 times across
 * about 2,000 wraps, at every phase of a wrap. The counter once read CVR 0 (the
 * tick after a wrap) as the last tick before it: one wrap too high, which put
 * about 160 of these brackets 40,960 instructions off. Skipped when the cross
 * compiler or QEMU is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { QEMU_BINARY, QEMU_ICOUNT, QEMU_MACHINE } from '../src/device/qemu.ts';
import { CORTEX_M4F_FLAGS } from '../src/firmware-build/build-emulator.ts';
import { FIRMWARE_DIR } from '../src/firmware-build/paths.ts';
import { runTool } from '../src/firmware-build/toolchain.ts';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !has('arm-none-eabi-gcc') || !has(QEMU_BINARY) ? 'needs arm-none-eabi-gcc and qemu-system-arm' : false;

/** Boots `elf`, returns what it printed up to "done\n" (or all of it if QEMU stops or 60 s pass), and stops QEMU. */
async function runToDone(elf: string): Promise<string> {
  const qemu = execa(QEMU_BINARY, ['-M', QEMU_MACHINE, '-icount', QEMU_ICOUNT, '-nographic', '-monitor', 'none', '-serial', 'stdio', '-kernel', elf], {
    reject: false,
    buffer: false,
    stdin: 'ignore',
  });
  let out = '';
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 60_000);
      qemu.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('done\n')) resolve();
      });
      void qemu.then(() => resolve());
      void qemu.finally(() => clearTimeout(timer));
    });
  } finally {
    qemu.kill('SIGKILL');
    await qemu;
  }
  return out;
}

test('hal_cycles_now reads a loop of known length exactly across thousands of SysTick wraps', { skip, timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-cycles-'));
  try {
    const board = join(FIRMWARE_DIR, 'boards', 'mps2-an386');
    const elf = join(dir, 'cycles.elf');
    await runTool(
      'arm-none-eabi-gcc',
      [...CORTEX_M4F_FLAGS, '-std=c11', '-Wall', '-Wextra', '-Werror', `-I${join(FIRMWARE_DIR, 'include')}`, `-I${board}`, '-DTML_SYSTICK_BITS=10',
        '-nostartfiles', '--specs=nano.specs', '--specs=nosys.specs', '-Wl,--gc-sections', '-T', join(board, 'link.ld'),
        join(FIRMWARE_DIR, 'tests', 'cycles_wrap_test.c'), join(board, 'hal.c'), join(board, 'startup.c'), '-o', elf],
      'compiling firmware/tests/cycles_wrap_test.c',
    );
    const out = await runToDone(elf);
    const summary = /^summary (\d+) (\d+) (\d+) (-?\d+) (-?\d+)$/m.exec(out);
    assert.ok(summary, `the firmware printed no summary: ${out.slice(-300)}`);
    const [brackets, wraps, off, lo, hi] = summary.slice(1).map(Number) as [number, number, number, number, number];
    t.diagnostic(`${brackets} brackets over ${wraps} wraps: ${off} off; overhead ${lo}..${hi} instructions`);
    assert.equal(brackets, 100_000);
    assert.ok(wraps >= 2000, `only ${wraps} wraps crossed`);
    const offLines = out.split('\n').filter((l) => l.startsWith('bracket '));
    assert.equal(off, 0, `brackets read a wrap (40,960 instructions) off, as "bracket <k> <spin> <instructions>":\n${offLines.join('\n')}`);
    // The call's own instructions, give or take the tick a reading is rounded to
    // and the second CVR read of a pending wrap: a few dozen, never a wrap.
    assert.ok(lo >= -40 && hi <= 120 && hi - lo <= 120, `overhead ${lo}..${hi} instructions`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
