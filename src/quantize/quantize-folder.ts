/** `tinyml quantize`'s flow on a model folder: calibrate, quantize, write the .tflite files and quantization.json. */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.ts';
import { loadFashionMnist } from '../data/fashion-mnist.ts';
import { initBackend } from '../train/backend.ts';
import { loadFloatModel } from '../train/float-model.ts';
import { quantizeModel } from './quantize.ts';
import { writeTflite } from '../tflite/writer.ts';
import { readTflite } from '../tflite/reader.ts';
import { modelPaths } from '../model/model-dir.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic-write.ts';

export interface QuantizeArgs {
  model: string;
  'calibration-samples': number;
  'per-channel': boolean;
  float: boolean;
  'data-dir'?: string;
}

export interface QuantizeResult {
  int8Path: string;
  int8Bytes: number;
  floatPath?: string;
  floatBytes?: number;
}

/** Quantizes the model in `dir` and writes its .tflite file(s); shared with `pipeline`. */
export async function runQuantize(args: QuantizeArgs): Promise<QuantizeResult> {
  const samples = args['calibration-samples'];
  if (!Number.isInteger(samples) || samples < 1) {
    throw new UsageError(`--calibration-samples ${samples} is not a positive whole number; try --calibration-samples 500`);
  }
  await initBackend();
  const paths = modelPaths(args.model);
  const { floatModel } = await loadFloatModel(args.model);
  const train = await loadFashionMnist({ dataDir: args['data-dir'], split: 'train', limit: samples });
  const started = performance.now();
  const int8 = quantizeModel(floatModel, { images: train.images, count: train.count }, { perChannel: args['per-channel'] });
  const bytes = writeTflite(int8, {});
  // Reading our own output back catches a writer bug before anyone flashes it.
  readTflite(bytes);
  await writeFileAtomic(paths.int8Tflite, bytes);
  const result: QuantizeResult = { int8Path: paths.int8Tflite, int8Bytes: bytes.length };
  if (args.float) {
    const floatBytes = writeTflite(floatModel, {});
    await writeFileAtomic(paths.floatTflite, floatBytes);
    result.floatPath = paths.floatTflite;
    result.floatBytes = floatBytes.length;
  }
  await writeJsonAtomic(paths.quantization, {
    calibrationSamples: train.count,
    calibrationDataSha256: train.sha256,
    perChannel: args['per-channel'],
    seconds: (performance.now() - started) / 1000,
    input: int8.input,
    layers: int8.layers.map((l) => ({
      name: l.name,
      inputSize: l.inputSize,
      outputSize: l.outputSize,
      activation: l.activation,
      output: l.output,
      weightScales: Array.from(l.weightScales),
    })),
    softmax: int8.softmax,
    tfliteBytes: bytes.length,
    tfliteSha256: await sha256(paths.int8Tflite),
  });
  return result;
}

async function sha256(path: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
