/**
 * The link on the emulator behind a noisy cable: throughput of a clean run,
 * of byte faults (flips, losses, insertions) at a given rate, and of a cable
 * unplugged for 2 s every 8 s, each checked sample by sample against the
 * reference. Needs arm-none-eabi-gcc, qemu-system-arm and socat.
 *
 *   node --import tsx scripts/link-soak.ts [samples=1000] [rate=1e-3] [modes=clean,faults,unplug]
 * (TIMEOUT_MS=2000: validate's --timeout, how long without progress before a request is sent again;
 * INPUTS=random (default: seeded random bytes, which no input encoding shrinks) or INPUTS=fashion:
 * Fashion-MNIST test images, as `tinyml validate` sends them)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { startQemu } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { Int8Interpreter, quantizeInput } from '../src/reference/int8-interpreter.ts';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { randomInt8Model } from './golden-vectors.ts';
import { startFaultRelay } from '../test/helpers/fault-relay.ts';

const count = Number(process.argv[2] ?? 1000);
const rate = Number(process.argv[3] ?? 1e-3);
const modes = (process.argv[4] ?? 'clean,faults,unplug').split(',');
const model = randomInt8Model('soak', [784, 16, 10], 11, { inputShape: [28, 28] });
const rand = mulberry32(12);
const inputs =
  process.env.INPUTS === 'fashion'
    ? await (async () => {
        const data = await loadFashionMnist({ split: 'test', limit: Math.min(count, 10_000), download: false });
        return Array.from({ length: count }, (_, i) => quantizeInput(data.images, (i % data.count) * 784, model.input, true));
      })()
    : Array.from({ length: count }, () => Int8Array.from({ length: 784 }, () => Math.floor(rand() * 256) - 128));
const interp = new Int8Interpreter(model);
const expected = inputs.map((x) => interp.run(x).output);

const dir = await mkdtemp(join(tmpdir(), 'tinyml-soak-'));
try {
  const { elf } = await buildEmulatorFirmware({ tflite: writeTflite(model), outDir: dir, runtime: 'native' });
  const all = { clean: 'clean', faults: `byte faults ${rate}`, unplug: 'unplug 2 s every 8 s' } as const;
  for (const mode of modes.map((m) => all[m as keyof typeof all] ?? m)) {
    const qemu = await startQemu({ elf });
    const relay = await startFaultRelay({ devicePath: qemu.ptyPath, linkPath: join(dir, 'tty') });
    const link = new DeviceLink(new SerialTransport({ path: relay.linkPath }));
    let unplugTimer: NodeJS.Timeout | null = null;
    try {
      await link.transport.open();
      await link.handshake({ timeoutMs: 10_000 });
      if (mode.startsWith('byte')) relay.setFaults({ seed: 1, rate });
      if (mode.startsWith('unplug')) {
        const cycle = async () => {
          await relay.unplug();
          await new Promise((r) => setTimeout(r, 2000));
          await relay.replug();
          unplugTimer = setTimeout(() => void cycle(), 6000);
        };
        unplugTimer = setTimeout(() => void cycle(), 6000);
      }
      const answered = new Uint16Array(count);
      const r = await link.inferReconnecting(inputs, {
        timeoutMs: Number(process.env.TIMEOUT_MS ?? 2000),
        onAnswer: (i) => answered[i]!++,
        reconnect: { timeoutMs: 15_000, reopen: async () => { const t = new SerialTransport({ path: relay.linkPath }); await t.open(); return t; } },
      });
      let wrong = 0;
      for (let i = 0; i < count; i++) {
        const got = r.outputs.subarray(i * 10, i * 10 + 10);
        if (got.some((v, k) => v !== expected[i]![k])) wrong++;
      }
      const once = answered.every((n) => n === 1);
      const f = relay.faulters;
      const faults = f ? [f.toDevice.stats, f.toHost.stats].reduce((n, s) => n + s.corrupted + s.dropped + s.inserted, 0) : 0;
      console.log(
        `${mode.padEnd(22)} ${process.env.INPUTS === 'fashion' ? 'fashion' : 'random'} inputs: ${count} samples in ${(r.wallMs / 1000).toFixed(1)} s = ${(count / (r.wallMs / 1000)).toFixed(1)} samples/s; ` +
          `${wrong} wrong, every sample once: ${once}; ${faults} byte faults, ${r.resends} resends (${r.nakResends} NAKed), ` +
          `${link.stats.deviceBadFramesUnnamed} unnamed BAD_FRAMEs, ${r.reconnects} reconnects`,
      );
    } finally {
      if (unplugTimer) clearTimeout(unplugTimer);
      await link.close().catch(() => undefined);
      await relay.close();
      await qemu.stop();
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
