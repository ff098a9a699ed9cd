/**
 * End to end: builds the emulator firmware for models/default's int8 model,
 * boots it in QEMU, and validates 1000 Fashion-MNIST test images through
 * node-serialport on the pty. The device must compute exactly what the
 * TypeScript reference computes. Skipped without the toolchain, QEMU, the model
 * or the dataset. Takes about a minute (QEMU's UART moves ~12 KB/s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmulatorFirmware } from '../src/firmware/build-emulator.ts';
import { startQemu } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { readTflite } from '../src/tflite/reader.ts';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { crc32 } from '../src/protocol/crc32.ts';
import { formatValidationReport, validateOnDevice } from '../src/validate/validate.ts';

const TFLITE = new URL('../models/default/model_int8.tflite', import.meta.url).pathname;
const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !has('arm-none-eabi-gcc') || !has('qemu-system-arm')
  ? 'needs arm-none-eabi-gcc and qemu-system-arm'
  : !existsSync(TFLITE)
    ? `needs ${TFLITE} (tinyml pipeline)`
    : false;

test('the emulator firmware computes exactly what the reference computes on 1000 test images', { skip, timeout: 600_000 }, async (t) => {
  const test1000 = await loadFashionMnist({ split: 'test', limit: 1000, download: false }).catch(() => null);
  if (!test1000) return t.skip('Fashion-MNIST test set not found locally');
  const bytes = new Uint8Array(readFileSync(TFLITE));
  const model = readTflite(bytes);
  assert.equal(model.kind, 'int8');
  if (model.kind !== 'int8') return;
  const out = mkdtempSync(join(tmpdir(), 'tinyml-e2e-'));
  const qemuPids: number[] = [];
  try {
    const fw = await buildEmulatorFirmware({ tflite: bytes, outDir: out, runtime: 'native' });
    const qemu = await startQemu({ elf: fw.elf });
    qemuPids.push(qemu.pid);
    const transport = new SerialTransport({ path: qemu.ptyPath });
    const link = new DeviceLink(transport);
    try {
      await transport.open();
      const info = await link.handshake({ timeoutMs: 15_000 });
      assert.equal(info.modelCrc32, crc32(bytes));
      const report = await validateOnDevice({
        link,
        info,
        model,
        tfliteBytes: bytes,
        images: test1000.images,
        labels: test1000.labels,
        count: test1000.count,
        normalized: true,
        board: 'emulator',
      });
      t.diagnostic(formatValidationReport(report));
      assert.equal(report.samples, 1000);
      assert.equal(report.exactAgreement, 1, `device != reference at samples ${report.firstMismatches.join(', ')}`);
      assert.equal(report.top1FieldMismatches, 0);
      assert.equal(report.passed, true);
      assert.equal(report.deviceAccuracy, report.referenceAccuracy);
      assert.equal(report.deviceAccuracy, report.hostInt8Accuracy);
      assert.equal(report.cycleUnit, 'emulated-instructions');
      assert.ok(report.latencyCycles.p50 > 0);
    } finally {
      await link.close();
      await qemu.stop();
    }
    assert.equal(qemu.running, false);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  for (const pid of qemuPids) assert.equal(existsSync(`/proc/${pid}/status`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), false);
});
