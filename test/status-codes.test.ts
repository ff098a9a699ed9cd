/** The status codes are said once, in firmware/include/status.h; the host's table is generated from it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseStatusHeader, renderStatusModule, STATUS_HEADER, STATUS_MODULE } from '../scripts/gen-status-codes.ts';
import { describeErrorCode, ErrorCode } from '../src/protocol/frames.ts';

test('src/protocol/status-codes.ts is what scripts/gen-status-codes.ts makes of status.h', () => {
  const fresh = renderStatusModule(parseStatusHeader(readFileSync(STATUS_HEADER, 'utf8')));
  assert.equal(readFileSync(STATUS_MODULE, 'utf8'), fresh, 'stale: run node --import tsx scripts/gen-status-codes.ts');
});

test('the parser reads names, numbers and descriptions, and refuses a code used twice', () => {
  const entries = parseStatusHeader('typedef enum {\n  TML_OK = 0,\n  /* group */\n  TML_ERR_A = 1, /* first */\n  TML_ERR_B = 7\n} t;');
  assert.deepEqual(entries, [
    { name: 'OK', code: 0, description: '' },
    { name: 'A', code: 1, description: 'first' },
    { name: 'B', code: 7, description: '' },
  ]);
  assert.throws(() => parseStatusHeader('TML_OK = 0,\nTML_ERR_A = 1,\nTML_ERR_B = 1,'), /code 1 is used twice/);
  assert.equal(describeErrorCode(ErrorCode.ARENA_TOO_SMALL), '24 ARENA_TOO_SMALL (the static arena cannot hold the activations)');
  assert.equal(describeErrorCode(99), 'code 99');
});
