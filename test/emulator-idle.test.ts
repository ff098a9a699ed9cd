/**
 * The emulated board sleeps while it waits for the host (hal_idle: WFI), so QEMU's
 * vCPU does not poll the UART and its main loop gets the CPU to move host bytes.
 * QEMU's own trace of UART register reads tells a sleeping firmware (a few reads
 * per wake-up) from a polling one (hundreds of thousands per second), whatever
 * the machine's load. Skipped when the cross compiler or QEMU is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { startQemu } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !has('arm-none-eabi-gcc') || !has('qemu-system-arm') ? 'needs arm-none-eabi-gcc and qemu-system-arm' : false;

const UART_READ = /^cmsdk_apb_uart_read /gm;
const countReads = async (log: string) => (await readFile(log, 'utf8').catch(() => '')).match(UART_READ)?.length ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the emulated board sleeps between requests and wakes for the next byte', { skip, timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-idle-'));
  try {
    const model = randomInt8Model('idle', [64, 8, 4], 21);
    const { elf } = await buildEmulatorFirmware({ tflite: writeTflite(model), outDir: dir, runtime: 'native' });
    const log = join(dir, 'uart-trace.log');
    const qemu = await startQemu({ elf, extraArgs: ['-trace', 'cmsdk_apb_uart_read', '-D', log] });
    const link = new DeviceLink(new SerialTransport({ path: qemu.ptyPath }));
    try {
      await link.transport.open();
      await link.handshake({ timeoutMs: 15_000 });
      const interp = new Int8Interpreter(model);
      const inputs = Array.from({ length: 4 }, (_, s) => Int8Array.from({ length: 64 }, (_, i) => ((i * 37 + s * 11) % 256) - 128));
      const check = async (label: string) => {
        const got = await link.infer(inputs);
        inputs.forEach((x, s) => assert.deepEqual(Array.from(got.outputs.subarray(s * 4, s * 4 + 4)), Array.from(interp.run(x).output), `${label}, input ${s}`));
      };
      await check('before idling');

      await sleep(300); // let QEMU's log buffer take the reads of the exchange above
      const before = await countReads(log);
      await sleep(1000);
      const idleReads = (await countReads(log)) - before;
      // Sleeping: the firmware reads UART_STATE once per wake-up (SysTick every 671 ms
      // of virtual time), plus what QEMU's log buffer still held. Polling: over 100,000.
      t.diagnostic(`${idleReads} UART register reads in 1 s without input`);
      assert.ok(idleReads < 500, `UART register reads during 1 s without input: ${idleReads} (the firmware polls instead of sleeping)`);

      await check('after idling'); // the RX interrupt wakes the sleeping firmware
    } finally {
      await link.close().catch(() => undefined);
      await qemu.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
