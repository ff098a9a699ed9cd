/**
 * The real firmware on the emulator behind a noisy cable (test/helpers/fault-relay.ts):
 * bytes flipped, lost and inserted at 1e-3 each way, and the port unplugged and
 * plugged back mid-run. Every sample must come back exactly once and exactly as
 * the reference computes it. Skipped without arm-none-eabi-gcc, QEMU or socat.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { startQemu, type QemuInstance } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { hasSocat, startFaultRelay, type FaultRelay } from './helpers/fault-relay.ts';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !has('arm-none-eabi-gcc') || !has('qemu-system-arm') ? 'needs arm-none-eabi-gcc and qemu-system-arm' : !hasSocat() ? 'needs socat' : false;

const model = randomInt8Model('relay', [784, 16, 10], 11, { inputShape: [28, 28] });
const COUNT = 150;
const rand = mulberry32(12);
const inputs = Array.from({ length: COUNT }, () => Int8Array.from({ length: 784 }, () => Math.floor(rand() * 256) - 128));
const expected = (() => {
  const interp = new Int8Interpreter(model);
  const out = new Int8Array(COUNT * 10);
  inputs.forEach((x, s) => out.set(interp.run(x).output, s * 10));
  return out;
})();

let dir = '';
let elf = '';
let qemu: QemuInstance | null = null;
let relay: FaultRelay | null = null;

test.before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'tinyml-relay-'));
  elf = (await buildEmulatorFirmware({ tflite: writeTflite(model), outDir: dir, runtime: 'native' })).elf;
});
test.after(async () => {
  await relay?.close();
  await qemu?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function boot(): Promise<FaultRelay> {
  await relay?.close();
  await qemu?.stop();
  qemu = await startQemu({ elf });
  relay = await startFaultRelay({ devicePath: qemu.ptyPath, linkPath: join(dir, 'ttyRELAY') });
  return relay;
}

test('byte faults at 1e-3 (flips, losses, insertions, both ways): exact, every sample once', { skip, timeout: 120_000 }, async (t) => {
  const r = await boot();
  const link = new DeviceLink(new SerialTransport({ path: r.linkPath }));
  try {
    await link.transport.open();
    await link.handshake({ timeoutMs: 10_000 });
    r.setFaults({ seed: 1, rate: 1e-3 });
    const result = await link.infer(inputs, { timeoutMs: 500 });
    assert.deepEqual(result.outputs, expected);
    const f = r.faulters!;
    const s = [f.toDevice.stats, f.toHost.stats];
    const faults = s.reduce((n, x) => n + x.corrupted + x.dropped + x.inserted, 0);
    t.diagnostic(`${faults} byte faults, ${result.resends} resends (${result.nakResends} NAKed), ${link.stats.deviceBadFramesUnnamed} unnamed BAD_FRAMEs, ${result.wallMs.toFixed(0)} ms`);
    assert.ok(faults > 50 && result.nakResends > 0, `${faults} byte faults, ${result.nakResends} NAK resends`);
  } finally {
    await link.close();
  }
});
