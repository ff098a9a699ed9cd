/**
 * The C side of protocol v4 (firmware/core/protocol.c and app.c) against
 * vectors from an independent TypeScript CRC-32 (node:zlib) and COBS encoder,
 * then the request loop end to end over the host board's in-memory link, and
 * the mock device the link's tests use against the C request loop: the same
 * request bytes, the same answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildHostTests } from '../src/firmware-build/host-build.ts';
import { cobsEncode, crc16Ccitt, protocolVectors, randomInt8Model, writeGoldenVectors } from '../scripts/golden-vectors.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { crc32 } from '../src/protocol/crc32.ts';
import { decodeFrame, encodeFrame, type Message } from '../src/protocol/frames.ts';
import { FrameSplitter } from '../src/protocol/frame-parser.ts';
import { encodeForLink } from '../src/protocol/image-codec.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { MockDevice } from './helpers/mock-device.ts';

const programs = buildHostTests();

test('the CRC-16 of the vectors gives the CCITT-FALSE check value', () => {
  assert.equal(crc16Ccitt(new TextEncoder().encode('123456789')), 0x29b1);
});

test('the TypeScript COBS encoder used for the vectors follows the canonical examples', () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  assert.equal(hex(cobsEncode(Uint8Array.from([0]))), '0101');
  assert.equal(hex(cobsEncode(Uint8Array.from([0, 0]))), '010101');
  assert.equal(hex(cobsEncode(Uint8Array.from([0x11, 0x22, 0, 0x33]))), '0311220233');
  const run = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
  assert.equal(hex(cobsEncode(run)), `ff${hex(run)}`); // no trailing empty block
  const run255 = Uint8Array.from({ length: 255 }, (_, i) => i + 1);
  assert.equal(hex(cobsEncode(run255)), `ff${hex(run)}02ff`);
});

test('C CRC-32, COBS, frames and the app loop match the vectors', async () => {
  assert.equal(protocolVectors(), protocolVectors());
  const p = await programs;
  const vectors = writeGoldenVectors(p.outDir);
  const r = await execa(p.protocolTest, [vectors.protocol], { reject: false });
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /5 crc, 12 cobs, 7 frame cases, \d+ app checks; 0 failures/);
});

/** Requests in chunks, missing, duplicated, stale, damaged, or refused: what the link may ever send, and some it never does. */
function conversation(inputs: readonly Int8Array[], chunk: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const send = (m: Message) => frames.push(encodeFrame(m));
  let seq = 1;
  send({ type: 'hello', seq: seq++, nonce: 0xdeadbeef });
  const chunks = (x: Int8Array, slot: number, skip = -1) => {
    const { bytes } = encodeForLink(x, 1);
    for (let offset = 0, k = 0; offset < bytes.length; offset += chunk, k++, seq++) {
      if (k !== skip) send({ type: 'infer-chunk', seq, slot, offset, data: bytes.subarray(offset, offset + chunk) });
    }
    return bytes.length;
  };
  const run = (x: Int8Array, slot: number, length: number, crc = crc32(new Uint8Array(x.buffer, x.byteOffset, x.length))) =>
    send({ type: 'infer-run', seq: seq++, slot, encoding: 0, length, crc32: crc });
  const [a, b, c] = inputs as [Int8Array, Int8Array, Int8Array];
  run(a, 0, chunks(a, 0)); // RESULT
  run(b, 1, chunks(b, 1)); // RESULT
  run(c, 0, chunks(c, 0, 1)); // INCOMPLETE 1
  run(c, 0, 784, 0x1234); // INCOMPLETE (the slot kept chunks 0, 2, 3; 1 is missing)
  const n = chunks(a, 1);
  frames.push(frames[frames.length - 1]!); // a duplicated chunk
  run(a, 1, n, 1); // MISMATCH
  run(a, 1, n); // INCOMPLETE 0: emptied
  send({ type: 'infer-chunk', seq: seq++, slot: 2, offset: 0, data: Uint8Array.of(1) }); // BAD_LENGTH
  send({ type: 'infer-chunk', seq: seq++, slot: 0, offset: 5, data: Uint8Array.of(1) }); // BAD_LENGTH
  send({ type: 'infer-run', seq: seq++, slot: 0, encoding: 30, length: 784, crc32: 0 }); // BAD_ENCODING
  const damaged = encodeFrame({ type: 'infer-chunk', seq: seq++, slot: 0, offset: 0, data: new Uint8Array(100).fill(7) });
  damaged[60] ^= 0x11;
  frames.push(damaged); // BAD_FRAME naming it
  frames.push(Uint8Array.of(0x13, 0x37, 0)); // BAD_FRAME naming nothing
  send({ type: 'hello', seq: seq++, nonce: 5 }); // INFO again
  return frames;
}

/** What the device answered, fields that differ between boards left out. */
function answers(bytes: Uint8Array): unknown[] {
  const splitter = new FrameSplitter();
  return splitter.push(bytes).flatMap<unknown>((block) => {
    const m = decodeFrame(block);
    if (m.type === 'log') return [];
    if (m.type === 'info') {
      const { protocolVersion, inputBytes, outputCount, modelStatus, chunkBytes, inputSlots, stagingBytes, encodings, modelCrc32 } = m.info;
      return [{ type: 'info', seq: m.seq, protocolVersion, inputBytes, outputCount, modelStatus, chunkBytes, inputSlots, stagingBytes, encodings, modelCrc32 }];
    }
    if (m.type === 'result') return [{ ...m, outputs: [...m.outputs] }];
    return [m];
  });
}

test('the mock device answers a conversation exactly as the C request loop does', async () => {
  const model = randomInt8Model('agree', [784, 16, 10], 31, { inputShape: [28, 28] });
  const tflite = writeTflite(model);
  const rand = mulberry32(32);
  const inputs = Array.from({ length: 3 }, () => Int8Array.from({ length: 784 }, () => Math.floor(rand() * 256) - 128));
  const wire = Buffer.concat(conversation(inputs, 256));

  const p = await programs;
  writeFileSync(join(p.outDir, 'agree.tflite'), tflite);
  writeFileSync(join(p.outDir, 'agree.bin'), wire);
  const r = await execa(p.protocolTest, ['--replay', join(p.outDir, 'agree.tflite'), join(p.outDir, 'agree.bin')], { encoding: 'buffer', reject: false });
  assert.equal(r.exitCode, 0, r.stderr.toString());
  const fromC = answers(new Uint8Array(r.stdout));

  const mock = new MockDevice({ model, modelCrc32: crc32(tflite), synchronous: true, cycles: () => 1234 });
  await mock.open();
  const out: Uint8Array[] = [];
  mock.onData((chunk) => out.push(chunk));
  await mock.write(wire);
  const fromMock = answers(Buffer.concat(out));

  const kinds = fromC.map((m) => {
    const a = m as { type: string; code?: number; detail?: number };
    return a.type === 'error' ? `error ${a.code}/${a.detail}` : a.type;
  });
  assert.deepEqual(kinds.filter((k) => k !== 'chunk-ack'), [
    'info', 'result', 'result', 'error 7/1', 'error 7/1', 'error 8/2', 'error 7/0',
    'error 4/1', 'error 4/1', 'error 9/30', 'error 1/0', 'error 1/0', 'info',
  ]);
  assert.deepEqual(fromMock, fromC);
  await mock.close();
});
