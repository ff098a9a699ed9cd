/**
 * Writes firmware/core/tflite_schema.h from src/tflite/schema.ts, the one table
 * of the TFLite schema facts both readers use (vtable slots, type, operator,
 * options and activation codes): `node --import tsx scripts/gen-tflite-schema-h.ts`.
 * test/tflite-schema-h.test.ts fails when the committed header is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from '../src/tflite/schema.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const SCHEMA_HEADER = join(ROOT, 'firmware', 'core', 'tflite_schema.h');

/** Which tables and code sets go to C, and the prefix each gets there. */
const GROUPS: ReadonlyArray<readonly [prefix: string, what: string, values: Readonly<Record<string, number>>]> = [
  ['TFL_MODEL', 'table Model: field slots', schema.ModelField],
  ['TFL_SUBGRAPH', 'table SubGraph: field slots', schema.SubGraphField],
  ['TFL_TENSOR', 'table Tensor: field slots', schema.TensorField],
  ['TFL_QUANT', 'table QuantizationParameters: field slots', schema.QuantizationParametersField],
  ['TFL_BUFFER', 'table Buffer: field slots', schema.BufferField],
  ['TFL_OPCODE', 'table OperatorCode: field slots', schema.OperatorCodeField],
  ['TFL_OP', 'table Operator: field slots', schema.OperatorField],
  ['TFL_FC', 'table FullyConnectedOptions: field slots', schema.FullyConnectedOptionsField],
  ['TFL_SOFTMAX', 'table SoftmaxOptions: field slots', schema.SoftmaxOptionsField],
  ['TFL_TYPE', 'enum TensorType', schema.TensorType],
  ['TFL_BUILTIN', 'enum BuiltinOperator', schema.BuiltinOperator],
  ['TFL_OPTIONS', 'union BuiltinOptions: type codes', schema.BuiltinOptions],
  ['TFL_ACT', 'enum ActivationFunctionType', schema.ActivationFunctionType],
];

/** FullyConnectedOptions -> FULLY_CONNECTED_OPTIONS; fused_activation_function -> FUSED_ACTIVATION_FUNCTION. */
function cName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function renderSchemaHeader(): string {
  const blocks = GROUPS.map(([prefix, what, values]) => {
    const entries = Object.entries(values).map(([k, v]) => `  ${prefix}_${cName(k)} = ${v}`);
    return `/* ${what} */\nenum {\n${entries.join(',\n')}\n};`;
  });
  return `/* Generated from src/tflite/schema.ts by scripts/gen-tflite-schema-h.ts: do not edit.
 * TFLite schema facts for the firmware's model reader (model.c): a field id is its
 * vtable slot (a union field takes two: <name>_type, then <name>). */
#ifndef TINYML_TFLITE_SCHEMA_H
#define TINYML_TFLITE_SCHEMA_H

#define TFL_FILE_IDENTIFIER "${schema.TFLITE_FILE_IDENTIFIER}"
#define TFL_SCHEMA_VERSION ${schema.TFLITE_SCHEMA_VERSION}

${blocks.join('\n\n')}

#endif
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SCHEMA_HEADER, renderSchemaHeader());
  console.log(`wrote ${SCHEMA_HEADER}`);
}

export function committedSchemaHeader(): string {
  return readFileSync(SCHEMA_HEADER, 'utf8');
}
