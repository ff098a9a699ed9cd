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
import { connect } from 'node:net';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { startQemu, type QemuInstance } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { hasSocat, startFaultRelay, type FaultRelay } from './helpers/fault-relay.ts';
import { validateOnDevice } from '../src/validate/validate.ts';
import { openResultsFile } from '../src/validate/results-file.ts';
import { readFileSync, writeFileSync } from 'node:fs';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !has('arm-none-eabi-gcc') || !has('qemu-system-arm') ? 'needs arm-none-eabi-gcc and qemu-system-arm' : !hasSocat() ? 'needs socat' : false;

const model = randomInt8Model('relay', [784, 16, 10], 11, { inputShape: [28, 28] });
const COUNT = 100;
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

async function boot(extraArgs: string[] = []): Promise<FaultRelay> {
  await relay?.close();
  await qemu?.stop();
  qemu = await startQemu({ elf, extraArgs });
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

function reopenVia(path: string) {
  return async () => {
    const t = new SerialTransport({ path });
    await t.open();
    return t;
  };
}

test('the port unplugged for 1 s mid-run, then plugged back: the link reconnects and every sample comes once', { skip, timeout: 120_000 }, async (t) => {
  const r = await boot();
  const link = new DeviceLink(new SerialTransport({ path: r.linkPath }));
  const answers = new Array<number>(COUNT).fill(0);
  try {
    await link.transport.open();
    await link.handshake({ timeoutMs: 10_000 });
    let pulled = false;
    const result = await link.inferReconnecting(inputs, {
      timeoutMs: 500,
      onAnswer: (i) => {
        answers[i]!++;
        if (answers.reduce((a, b) => a + b, 0) === 40 && !pulled) {
          pulled = true;
          void r.unplug().then(() => new Promise((res) => setTimeout(res, 1000))).then(() => r.replug());
        }
      },
      reconnect: { timeoutMs: 10_000, reopen: reopenVia(r.linkPath) },
    });
    assert.deepEqual(result.outputs, expected);
    assert.equal(result.reconnects, 1);
    assert.deepEqual(answers, new Array<number>(COUNT).fill(1), 'every sample answered once');
    t.diagnostic(`${result.reconnects} reconnect, ${result.resends} resends, ${result.wallMs.toFixed(0)} ms`);
  } finally {
    await link.close();
  }
});

/** Sends one QMP command to QEMU's monitor socket. */
async function qmp(socketPath: string, command: string): Promise<void> {
  const sock = connect(socketPath);
  let text = '';
  sock.on('data', (d) => (text += d.toString()));
  const waitFor = async (re: RegExp) => {
    const until = Date.now() + 5000;
    while (!re.test(text)) {
      if (Date.now() > until) throw new Error(`QMP: no ${re} in ${text}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await waitFor(/"QMP"/);
  sock.write('{"execute":"qmp_capabilities"}\n');
  await waitFor(/"return"/);
  text = '';
  sock.write(`{"execute":"${command}"}\n`);
  await waitFor(/"return"/);
  sock.end();
}

test('the device reset mid-run (QEMU system_reset): requests it lost are sent again, every sample comes once', { skip, timeout: 120_000 }, async (t) => {
  const socket = join(dir, 'qmp.sock');
  const r = await boot(['-qmp', `unix:${socket},server=on,wait=off`]);
  const link = new DeviceLink(new SerialTransport({ path: r.linkPath }));
  const answers = new Array<number>(COUNT).fill(0);
  try {
    await link.transport.open();
    const firstBoot = (await link.handshake({ timeoutMs: 10_000 })).bootId;
    const bootLine = (l: string) => l.startsWith('model loaded: ');
    assert.equal(link.deviceLog.filter(bootLine).length, 1);
    let reset = false;
    const result = await link.inferReconnecting(inputs, {
      timeoutMs: 500,
      onAnswer: (i) => {
        answers[i]!++;
        if (!reset && answers.reduce((a, b) => a + b, 0) === 40) {
          reset = true;
          void qmp(socket, 'system_reset');
        }
      },
      reconnect: { timeoutMs: 10_000, reopen: reopenVia(r.linkPath) },
    });
    assert.ok(reset);
    assert.deepEqual(result.outputs, expected);
    assert.deepEqual(answers, new Array<number>(COUNT).fill(1), 'every sample answered once');
    // The rebooted device numbers its log from 0 again: its boot id tells the host these are new lines, not replays.
    const info = await link.handshake({ timeoutMs: 10_000 });
    assert.notEqual(info.bootId, firstBoot, 'a new boot id');
    assert.equal(link.deviceLog.filter(bootLine).length, 2, `the second boot's line kept: ${link.deviceLog.join(' | ')}`);
    t.diagnostic(`${result.resends} resends after the reset, ${result.wallMs.toFixed(0)} ms`);
  } finally {
    await link.close();
  }
});

test('killed at half way with byte faults on, then resumed from the results file on a new emulator: every sample once, exact', { skip, timeout: 120_000 }, async () => {
  const images = Uint8Array.from({ length: COUNT * 784 }, () => Math.floor(rand() * 256));
  const labels = Uint8Array.from({ length: COUNT }, (_, i) => i % 10);
  const tfliteBytes = writeTflite(model);
  const path = join(dir, 'results.jsonl');
  const header = { modelCrc32: 'relay', samples: COUNT, testDataSha256: 'random', settings: {} };
  const common = { model, tfliteBytes, images, labels, count: COUNT, normalized: false, board: 'emulator', timeoutMs: 500 };
  const connectVia = async (r: FaultRelay) => {
    const link = new DeviceLink(new SerialTransport({ path: r.linkPath }));
    await link.transport.open();
    return { link, info: await link.handshake({ timeoutMs: 10_000 }) };
  };

  let r = await boot();
  r.setFaults({ seed: 3, rate: 1e-3 });
  const first = openResultsFile(path, header, false);
  const abort = new AbortController();
  let n = 0;
  const a = await connectVia(r);
  const partial = await validateOnDevice({
    ...common,
    ...a,
    signal: abort.signal,
    onAnswer: (i, ans) => {
      first.append(i, ans);
      if (++n === COUNT / 2) abort.abort();
    },
  });
  first.close();
  await a.link.close();
  assert.equal(partial.partial, true);
  // The kill also cut the last line short.
  const text = readFileSync(path, 'utf8');
  writeFileSync(path, text.slice(0, text.length - 20));

  r = await boot();
  const second = openResultsFile(path, header, true);
  assert.equal(second.previous.size, COUNT / 2 - 1);
  const sent = new Set<number>();
  const b = await connectVia(r);
  const report = await validateOnDevice({ ...common, ...b, previous: second.previous, onAnswer: (i, ans) => (second.append(i, ans), sent.add(i)) });
  second.close();
  await b.link.close();
  assert.equal(report.partial, false);
  assert.equal(report.passed, true, 'the device computes what the reference computes');
  assert.equal(report.samples, COUNT);
  assert.equal(sent.size, COUNT / 2 + 1, 'only what the file lacked was sent');
  for (const i of sent) assert.ok(!second.previous.has(i));
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l).i as number);
  assert.deepEqual([...lines].sort((x, y) => x - y), Array.from({ length: COUNT }, (_, i) => i), 'the file holds every sample once');
});
