/** Where a report's figures came from: versions, backend, board, data. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tfliteVersion } from '../tflite/tflite-runtime.ts';

export interface Provenance {
  readonly tinyml: string;
  readonly node: string;
  readonly tfjs: string;
  /** The host TFLite interpreter's version, or why it is unavailable. */
  readonly tflite: string;
  readonly backend: string;
  readonly board: string;
  readonly runtime: string;
  readonly trainDataSha256: string | null;
  readonly testDataSha256: string | null;
  readonly generated: string;
}

export interface ProvenanceInput {
  readonly backend: string;
  readonly board: string;
  readonly runtime: string;
  readonly trainDataSha256: string | null;
  readonly testDataSha256: string | null;
}

async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export async function provenance(input: ProvenanceInput): Promise<Provenance> {
  let tflite: string;
  try {
    tflite = tfliteVersion();
  } catch (err) {
    tflite = `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
  return {
    tinyml: await packageVersion(),
    node: process.version,
    tfjs: tf.version.tfjs,
    tflite,
    ...input,
    generated: new Date().toISOString(),
  };
}
