/**
 * The C side of protocol v3 (firmware/core/protocol.c and app.c) against
 * vectors from an independent TypeScript CRC-32 (node:zlib) and COBS encoder,
 * then the request loop end to end over the host board's in-memory link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { buildHostTests } from '../src/firmware-build/host-build.ts';
import { cobsEncode, crc16Ccitt, protocolVectors, writeGoldenVectors } from '../scripts/golden-vectors.ts';

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
  const programs = await buildHostTests();
  const vectors = writeGoldenVectors(programs.outDir);
  const r = await execa(programs.protocolTest, [vectors.protocol], { reject: false });
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /5 crc, 12 cobs, 7 frame cases, \d+ app checks; 0 failures/);
});
