/**
 * Opt-in (TINYML_SLOW_TESTS=1, about 2 minutes): the emulated board facing a
 * host that keeps its port open and stops reading. The pty's buffers fill, QEMU
 * holds the UART's TXFULL, and the firmware's serial write gives up after its
 * stall bound instead of blocking forever: it drops, counts, keeps serving, and
 * the next INFO reports the count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { startQemu } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { encodeFrame } from '../src/protocol/frames.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !process.env.TINYML_SLOW_TESTS
  ? 'set TINYML_SLOW_TESTS=1 to run (about 2 minutes)'
  : !has('arm-none-eabi-gcc') || !has('qemu-system-arm')
    ? 'needs arm-none-eabi-gcc and qemu-system-arm'
    : false;

test('a host that stops reading: the emulator drops and counts instead of blocking, and INFO reports it', { skip, timeout: 600_000 }, async (t) => {
  const model = randomInt8Model('drop', [784, 16, 10], 5, { inputShape: [28, 28] });
  const fw = await buildEmulatorFirmware({ tflite: writeTflite(model), outDir: await mkdtemp(join(tmpdir(), 'tinyml-drop-')), runtime: 'native' });
  const qemu = await startQemu({ elf: fw.elf });
  try {
    // A reader that never reads: each HELLO's answer (a LOG and INFO, about 230 bytes) piles up in the pty.
    const fd = openSync(qemu.ptyPath, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
    let wire = Buffer.concat([Buffer.of(0), ...Array.from({ length: 1000 }, (_, i) => encodeFrame({ type: 'hello', seq: i, nonce: i }))]);
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      try {
        if (wire.length) wire = wire.subarray(writeSync(fd, wire));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    closeSync(fd);
    const link = new DeviceLink(new SerialTransport({ path: qemu.ptyPath }));
    try {
      await link.transport.open();
      const info = await link.handshake({ timeoutMs: 180_000 });
      t.diagnostic(`device dropped ${info.txDroppedBytes} bytes`);
      assert.ok(info.txDroppedBytes > 0, 'the device dropped nothing: did the pty take it all?');
      assert.equal(info.modelStatus, 0);
      assert.ok(link.deviceLog.some((l) => l.startsWith('model loaded: ')), 'the log still arrives');
    } finally {
      await link.close();
    }
  } finally {
    await qemu.stop();
  }
});
