import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { crc32, crc32Hex } from '../src/protocol/crc32.ts';
import { crc16 } from '../src/protocol/crc16.ts';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from '../src/protocol/cobs.ts';
import {
  decodeFrame,
  decodePayload,
  describeErrorCode,
  encodeFrame,
  encodePayload,
  FrameError,
  framePayload,
  HEADER_BYTES,
  MAX_BODY,
  MAX_LOG_TEXT,
  CHUNK_HEADER,
  MAX_ENCODED,
  type DeviceInfo,
  type Message,
} from '../src/protocol/frames.ts';
import { FrameParser, FrameSplitter } from '../src/protocol/frame-parser.ts';
import { mulberry32 } from '../src/util/prng.ts';

test('CRC-32 check value and chaining', () => {
  const check = new TextEncoder().encode('123456789');
  assert.equal(crc32(check), 0xcbf43926);
  assert.equal(crc32Hex(crc32(check)), 'cbf43926');
  assert.equal(crc32(check.subarray(4), crc32(check.subarray(0, 4))), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

function roundTrip(bytes: Uint8Array): void {
  const enc = cobsEncode(bytes);
  assert.ok(!enc.includes(0), 'no zero in the encoding');
  assert.ok(enc.length <= cobsMaxEncodedLength(bytes.length));
  assert.deepEqual(cobsDecode(enc), bytes);
}

test('COBS: known vectors', () => {
  const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/ /g, ''), 'hex'));
  assert.deepEqual(cobsEncode(hex('')), hex('01'));
  assert.deepEqual(cobsEncode(hex('00')), hex('01 01'));
  assert.deepEqual(cobsEncode(hex('00 00')), hex('01 01 01'));
  assert.deepEqual(cobsEncode(hex('11 22 00 33')), hex('03 11 22 02 33'));
  assert.deepEqual(cobsEncode(hex('11 00 00 00')), hex('02 11 01 01 01'));
  const run254 = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
  assert.deepEqual(cobsEncode(run254), Uint8Array.of(0xff, ...run254));
  const run255 = Uint8Array.from({ length: 255 }, (_, i) => i + 1);
  assert.deepEqual(cobsEncode(run255), Uint8Array.of(0xff, ...run255.subarray(0, 254), 0x02, 0xff));
  assert.deepEqual(cobsEncode(Uint8Array.of(0, ...run254)), Uint8Array.of(0x01, 0xff, ...run254));
  // The "always close a full block" variant (an extra 0x01 after 254 bytes) decodes the same.
  assert.deepEqual(cobsDecode(Uint8Array.of(0xff, ...run254, 0x01)), run254);
});

test('COBS: round trips of zeros, 254/255-byte runs and random data', () => {
  for (const n of [0, 1, 2, 253, 254, 255, 256, 508, 509, 1032]) {
    roundTrip(new Uint8Array(n));
    roundTrip(Uint8Array.from({ length: n }, (_, i) => (i % 255) + 1));
    roundTrip(Uint8Array.from({ length: n }, (_, i) => (i % 300 === 299 ? 0 : 7)));
  }
  const rand = mulberry32(5);
  for (let k = 0; k < 200; k++) {
    const n = Math.floor(rand() * 1100);
    roundTrip(Uint8Array.from({ length: n }, () => (rand() < 0.1 ? 0 : Math.floor(rand() * 256))));
  }
});

test('COBS: malformed blocks are rejected', () => {
  assert.equal(cobsDecode(new Uint8Array(0)), null);
  assert.equal(cobsDecode(Uint8Array.of(0x05, 1, 2)), null, 'code runs past the end');
  assert.equal(cobsDecode(Uint8Array.of(0x03, 1, 0)), null, 'zero inside');
  assert.equal(cobsDecode(Uint8Array.of(0x00)), null);
});

const info: DeviceInfo = {
  protocolVersion: 4,
  runtime: 'tflm',
  cycleUnit: 'emulated-instructions',
  modelCrc32: 0xdeadbeef,
  modelBytes: 104_321,
  arenaUsed: 1234,
  arenaSize: 65536,
  cpuHz: 64_000_000,
  inputDims: [1, 28, 28],
  inputBytes: 784,
  inputScale: Math.fround(1 / 255),
  inputZeroPoint: -128,
  outputCount: 10,
  modelStatus: 0,
  outputScale: 1 / 256,
  outputZeroPoint: -128,
  txDroppedBytes: 0x01020304,
  board: 'mps2-an386',
  runtimeVersion: 'tflm (Arduino_TensorFlowLite 2.4.0-ALPHA)',
  chunkBytes: 256,
  inputSlots: 2,
  stagingBytes: 1024,
  encodings: 0b11,
  bootId: 0xc0ffee01,
};

const messages: Message[] = [
  { type: 'hello', seq: 0, nonce: 0 },
  { type: 'hello', seq: 0xfffe, nonce: 0xffffffff },
  { type: 'infer-chunk', seq: 7, slot: 1, offset: 512, data: Uint8Array.from({ length: 256 }, (_, i) => i) },
  { type: 'infer-chunk', seq: 8, slot: 0, offset: 0, data: new Uint8Array(MAX_BODY - CHUNK_HEADER) },
  { type: 'infer-run', seq: 9, slot: 1, encoding: 1, length: 784, crc32: 0xcbf43926 },
  { type: 'chunk-ack', seq: 0x1234 },
  { type: 'info', seq: 1, info },
  { type: 'info', seq: 2, info: { ...info, runtime: 'native', cycleUnit: 'cpu-cycles', inputDims: [784], board: '', runtimeVersion: '', modelStatus: 24 } },
  // A model that did not load: no input, rank 0.
  { type: 'info', seq: 3, info: { ...info, inputDims: [], inputBytes: 0, outputCount: 0, arenaUsed: 33020, arenaSize: 32768, modelStatus: 24 } },
  { type: 'result', seq: 300, top1: 3, cycles: 0xfedcba98, outputs: Int8Array.of(-128, -128, -100, 127, 0, 0, 0, 0, 0, -1) },
  { type: 'result', seq: 301, top1: 0, cycles: 0, outputs: new Int8Array(0) },
  { type: 'error', seq: 0xffff, code: 1, detail: 0 },
  { type: 'error', seq: 42, code: 6, detail: 26 },
  { type: 'log', seq: 0, bootId: 1, text: 'model loaded: native runtime, 17776 bytes' },
  { type: 'log', seq: 0xffff, bootId: 0xffffffff, text: 'x'.repeat(MAX_LOG_TEXT) },
];

test('every message round-trips through the wire form', () => {
  for (const msg of messages) {
    const wire = encodeFrame(msg);
    assert.equal(wire[wire.length - 1], 0);
    assert.equal(wire.indexOf(0), wire.length - 1, 'only the delimiter is zero');
    assert.ok(wire.length <= MAX_ENCODED);
    const back = decodeFrame(wire.subarray(0, wire.length - 1));
    assert.deepEqual(back, msg);
  }
});

test('payload layout matches docs/protocol.md', () => {
  const p = encodePayload({ type: 'error', seq: 0x1234, code: 4, detail: 9 });
  assert.deepEqual([...p.subarray(0, 6)], [4, 0x7f, 0x34, 0x12, 2, 0]);
  assert.equal(Buffer.from(p).readUInt16LE(6), crc16(p, 0, 6));
  assert.deepEqual([...p.subarray(8, 10)], [4, 9]);
  assert.equal(Buffer.from(p).readUInt32LE(10), crc32(p.subarray(0, 10)));
  assert.equal(p.length, 14);
  const r = encodePayload({ type: 'result', seq: 1, top1: 2, cycles: 0x01020304, outputs: Int8Array.of(-1, 5) });
  assert.deepEqual([...r.subarray(8, 18)], [2, 0, 2, 0, 4, 3, 2, 1, 0xff, 5]);
  const i = encodePayload({ type: 'info', seq: 1, info });
  const b = Buffer.from(i.subarray(8, i.length - 4));
  assert.equal(b.length, 60 + 1 + 'mps2-an386'.length + 1 + info.runtimeVersion.length + 13);
  assert.equal(b[0], 4);
  assert.equal(b[1], 1);
  assert.equal(b[2], 1);
  assert.equal(b[3], 3);
  assert.equal(b.readUInt32LE(4), 0xdeadbeef);
  assert.deepEqual([b.readUInt16LE(24), b.readUInt16LE(26), b.readUInt16LE(28), b.readUInt16LE(30)], [1, 28, 28, 0]);
  assert.equal(b.readUInt32LE(32), 784);
  assert.equal(b.readInt32LE(40), -128);
  assert.equal(b.readUInt16LE(44), 10);
  assert.equal(b.readUInt32LE(56), 0x01020304);
  assert.equal(b[60], 10);
  assert.equal(b.subarray(61, 71).toString('latin1'), 'mps2-an386');
  assert.equal(b[71], info.runtimeVersion.length);
  const tail = 72 + info.runtimeVersion.length;
  assert.equal(b.subarray(72, tail).toString('latin1'), info.runtimeVersion);
  assert.deepEqual([b.readUInt16LE(tail), b[tail + 2], b.readUInt16LE(tail + 3), b.readUInt32LE(tail + 5), b.readUInt32LE(tail + 9)], [256, 2, 1024, 3, 0xc0ffee01]);
  const l = encodePayload({ type: 'log', seq: 0x0102, bootId: 0x0a0b0c0d, text: 'arena' });
  assert.deepEqual([...l.subarray(0, 6)], [4, 0x83, 0x02, 0x01, 9, 0]);
  assert.deepEqual([...l.subarray(8, l.length - 4)], [0x0d, 0x0c, 0x0b, 0x0a, ...Buffer.from('arena')]);
  const h = encodePayload({ type: 'hello', seq: 1, nonce: 0x01020304 });
  assert.deepEqual([...h.subarray(1, 2), ...h.subarray(4, 6), ...h.subarray(8, 12)], [0x01, 4, 0, 4, 3, 2, 1]);
  const c = encodePayload({ type: 'infer-chunk', seq: 2, slot: 1, offset: 0x0100, data: Uint8Array.of(9, 8) });
  assert.deepEqual([...c.subarray(1, 2), ...c.subarray(8, c.length - 4)], [0x03, 1, 0x00, 0x01, 9, 8]);
  const run = encodePayload({ type: 'infer-run', seq: 3, slot: 1, encoding: 2, length: 0x0310, crc32: 0x11223344 });
  assert.deepEqual([...run.subarray(1, 2), ...run.subarray(8, run.length - 4)], [0x04, 1, 2, 0x10, 0x03, 0x44, 0x33, 0x22, 0x11]);
  assert.deepEqual([...encodePayload({ type: 'chunk-ack', seq: 4 }).subarray(1, 6)], [0x84, 4, 0, 0, 0]);
  assert.equal(crc16(new TextEncoder().encode('123456789')), 0x29b1, 'CRC-16/CCITT-FALSE check value');
});

test('LOG: bounded printable text; INFO strings must fill the body exactly', () => {
  const log = (body: Uint8Array) => rawPayload(4, 0x83, 5, Uint8Array.of(7, 0, 0, 0, ...body));
  assert.deepEqual(decodePayload(log(Uint8Array.of(0x41, 0x07, 0xff, 0x42))), { type: 'log', seq: 5, bootId: 7, text: 'A??B' });
  assert.equal(problemOf(() => decodePayload(log(new Uint8Array(0)))), 'length');
  assert.equal(problemOf(() => decodePayload(log(new Uint8Array(MAX_LOG_TEXT + 1).fill(0x41)))), 'length');
  assert.throws(() => encodeFrame({ type: 'log', seq: 1, bootId: 1, text: '' }), RangeError);
  assert.throws(() => encodeFrame({ type: 'log', seq: 1, bootId: 1, text: 'y'.repeat(MAX_LOG_TEXT + 1) }), RangeError);
  assert.equal(problemOf(() => decodePayload(rawPayload(4, 0x03, 5, Uint8Array.of(0, 0, 0)))), 'length', 'INFER_CHUNK without data');
  assert.equal(problemOf(() => decodePayload(rawPayload(4, 0x04, 5, new Uint8Array(7)))), 'length', 'INFER_RUN too short');
  assert.equal(problemOf(() => decodePayload(rawPayload(4, 0x84, 5, new Uint8Array(1)))), 'length', 'CHUNK_ACK with a body');
  assert.equal(problemOf(() => decodePayload(rawPayload(4, 0x02, 5, new Uint8Array(784)))), 'type', "version 3's INFER is retired");
  const good = encodePayload({ type: 'info', seq: 1, info });
  const body = good.subarray(8, good.length - 4);
  const reInfo = (b: Uint8Array) => rawPayload(4, 0x81, 1, b);
  assert.equal(problemOf(() => decodePayload(reInfo(body.subarray(0, body.length - 1)))), 'length', 'runtime version cut short');
  assert.equal(problemOf(() => decodePayload(reInfo(Uint8Array.from([...body, 0])))), 'length', 'a byte too many');
  assert.equal(problemOf(() => decodePayload(reInfo(body.subarray(0, 61)))), 'length', 'no runtime version');
  assert.equal(problemOf(() => decodePayload(reInfo(body.subarray(0, body.length - 13)))), 'length', "version 3's INFO (no chunk fields)");
  const noSlots = body.slice();
  noSlots[body.length - 11] = 0;
  assert.equal(problemOf(() => decodePayload(reInfo(noSlots))), 'value', 'no input slots');
  const rank0 = body.slice();
  rank0[3] = 0;
  assert.equal(problemOf(() => decodePayload(reInfo(rank0))), 'value', 'rank 0 with a loaded model');
  rank0[46] = 24;
  assert.deepEqual((decodePayload(reInfo(rank0)) as { info: DeviceInfo }).info.inputDims, [], 'rank 0 when the load failed');
});

/** A payload built by hand (any version, type and body), with a right header CRC-16 and CRC-32. */
function rawPayload(version: number, type: number, seq: number, body: Uint8Array): Uint8Array {
  const p = new Uint8Array(8 + body.length + 4);
  const v = Buffer.from(p.buffer);
  p.set([version, type]);
  v.writeUInt16LE(seq, 2);
  v.writeUInt16LE(body.length, 4);
  v.writeUInt16LE(crc16(p, 0, 6), 6);
  p.set(body, 8);
  v.writeUInt32LE(crc32(p.subarray(0, 8 + body.length)), 8 + body.length);
  return p;
}

function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FrameError, String(err));
    return err.problem;
  }
  assert.fail('expected a FrameError');
}

test('corrupt frames are rejected with a typed error; an intact header still names the request', () => {
  const wire = encodeFrame(messages[6]!);
  const block = wire.slice(0, -1);
  for (let i = 0; i < block.length; i++) {
    const bad = block.slice();
    bad[i] ^= 0x01;
    if (bad[i] === 0) continue;
    let err: FrameError | null = null;
    try {
      decodeFrame(bad);
    } catch (e) {
      err = e as FrameError;
    }
    assert.ok(err instanceof FrameError && ['crc', 'cobs', 'header', 'size'].includes(err.problem), `flip at ${i}`);
    // Past the header (and the COBS code byte that covers it), the damage is in the body: the request is named.
    if (i > HEADER_BYTES) assert.equal(err.seq, messages[6]!.seq, `flip at ${i} names the sequence number`);
    if (err.problem === 'header') assert.equal(err.seq, null);
  }
  // A lost byte in the body, and a lost delimiter (two frames in one block): still named.
  const infer = encodeFrame({ type: 'infer-chunk', seq: 77, slot: 0, offset: 0, data: new Uint8Array(784).fill(3) }).slice(0, -1);
  const lost = Uint8Array.from([...infer.subarray(0, 400), ...infer.subarray(401)]);
  assert.equal(errorOf(() => decodeFrame(lost)).seq, 77);
  const merged = Uint8Array.from([...infer, ...encodeFrame({ type: 'hello', seq: 78, nonce: 1 })]).subarray(0, -1);
  assert.deepEqual([errorOf(() => decodeFrame(merged)).problem, errorOf(() => decodeFrame(merged)).seq], ['size', 77]);
  const ok = encodePayload({ type: 'hello', seq: 3, nonce: 0 });
  for (const version of [3, 5]) {
    assert.equal(problemOf(() => decodePayload(rawPayload(version, 0x01, 3, new Uint8Array(4)))), 'version', `version ${version}`);
  }
  const v2 = ok.slice();
  v2[0] = 2; // a version-2 device's frame: its header does not check here, and the message says why
  assert.match(errorOf(() => decodePayload(v2)).message, /version byte 2, this host speaks 4/);
  assert.equal(problemOf(() => decodePayload(rawPayload(4, 0x55, 3, new Uint8Array(0)))), 'type');
  assert.equal(problemOf(() => decodePayload(rawPayload(4, 0x01, 3, new Uint8Array(1)))), 'length');
  assert.equal(problemOf(() => decodePayload(ok.subarray(0, 6))), 'short');
  assert.equal(problemOf(() => decodePayload(ok.subarray(0, 10))), 'size');
  assert.equal(problemOf(() => decodeFrame(new Uint8Array(MAX_ENCODED).fill(1))), 'header');
  const bigPayload = rawPayload(4, 0x03, 9, new Uint8Array(MAX_BODY + 1));
  assert.deepEqual([problemOf(() => decodeFrame(framePayload(bigPayload).subarray(0, -1)))], ['long']);
  assert.throws(() => encodeFrame({ type: 'infer-chunk', seq: 1, slot: 0, offset: 0, data: new Uint8Array(MAX_BODY) }), RangeError);
  assert.throws(() => encodeFrame({ type: 'infer-chunk', seq: 1, slot: 0, offset: 0, data: new Uint8Array(0) }), RangeError);
  assert.throws(() => encodeFrame({ type: 'hello', seq: 0x10000, nonce: 0 }), RangeError);
  assert.match(describeErrorCode(24), /ARENA_TOO_SMALL/);
});

function errorOf(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FrameError, String(err));
    return err;
  }
  assert.fail('expected a FrameError');
}

test('splitter: frames across chunks, several per chunk, empty blocks skipped', () => {
  const wires = messages.map(encodeFrame);
  const all = Buffer.concat([Buffer.of(0, 0), ...wires]);
  for (const step of [1, 3, 64, all.length]) {
    const s = new FrameSplitter();
    const blocks: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += step) blocks.push(...s.push(all.subarray(i, i + step)));
    assert.deepEqual(blocks.map((b) => decodeFrame(b)), messages, `chunk ${step}`);
    assert.equal(s.pending, 0);
  }
});

test('splitter resyncs after garbage and overlong runs', () => {
  const s = new FrameSplitter();
  const hello = encodeFrame({ type: 'hello', seq: 9, nonce: 0x55 });
  // Garbage then a frame: the garbage block fails to decode, the frame after the next 0x00 is fine.
  const blocks = s.push(Buffer.concat([Buffer.from('boot banner\r\n'), Buffer.of(0), hello]));
  assert.equal(blocks.length, 2);
  assert.throws(() => decodeFrame(blocks[0]!), FrameError);
  assert.deepEqual(decodeFrame(blocks[1]!), { type: 'hello', seq: 9, nonce: 0x55 });
  // A run longer than any frame is dropped without growing the buffer.
  const noise = new Uint8Array(5000).fill(0x41);
  assert.deepEqual(s.push(noise.subarray(0, 2500)), []);
  assert.ok(s.pending <= s.maxBlock);
  assert.deepEqual(s.push(Buffer.concat([noise.subarray(2500), Buffer.of(0), hello])).map((b) => decodeFrame(b)), [{ type: 'hello', seq: 9, nonce: 0x55 }]);
  assert.equal(s.overflows, 1);
});

test('FrameParser stream emits one block per frame', async () => {
  const wires = messages.map(encodeFrame);
  const all = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.of(0), ...wires, Buffer.from([5, 5])]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += 7) chunks.push(all.subarray(i, i + 7));
  const parser = Readable.from(chunks).pipe(new FrameParser());
  const got: Message[] = [];
  let garbage = 0;
  for await (const block of parser) {
    try {
      got.push(decodeFrame(block as Uint8Array));
    } catch {
      garbage++;
    }
  }
  assert.equal(garbage, 1);
  assert.deepEqual(got, messages);
});
