/** Reading a model folder's int8 .tflite, with the errors every command gives for it. */
import { readFile } from 'node:fs/promises';
import { TfliteFormatError, UsageError } from '../errors.ts';
import { readTflite } from '../tflite/reader.ts';
import { modelPaths } from './model-dir.ts';
import type { Int8Model } from './types.ts';

/** The bytes of DIR/model_int8.tflite and the model they hold; refuses a missing, broken or float file. */
export async function readInt8Model(modelDir: string): Promise<{ model: Int8Model; bytes: Uint8Array }> {
  const path = modelPaths(modelDir).int8Tflite;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new UsageError(`${path} is missing: run 'tinyml quantize --model ${modelDir}' first`, { cause: err });
  }
  const model = readTflite(bytes);
  if (model.kind !== 'int8') {
    throw new TfliteFormatError(`${path} is a float32 model: run 'tinyml quantize --model ${modelDir}' for the int8 one`);
  }
  return { model, bytes };
}
