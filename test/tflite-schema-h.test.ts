/** The TFLite schema's slots and codes are said once, in src/tflite/schema.ts; the firmware's header is generated from it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { committedSchemaHeader, renderSchemaHeader } from '../scripts/gen-tflite-schema-h.ts';

test('firmware/core/tflite_schema.h is what scripts/gen-tflite-schema-h.ts makes of schema.ts', () => {
  assert.equal(committedSchemaHeader(), renderSchemaHeader(), 'stale: run node --import tsx scripts/gen-tflite-schema-h.ts');
  assert.match(renderSchemaHeader(), /TFL_TENSOR_QUANTIZATION = 4,/);
  assert.match(renderSchemaHeader(), /TFL_OPTIONS_FULLY_CONNECTED_OPTIONS = 8,/);
});
