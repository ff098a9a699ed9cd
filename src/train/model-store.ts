/**
 * A model folder on disk, read and written without @tensorflow/tfjs-node (whose
 * file:// handler needs the native library):
 *
 *   model.json    tfjs layers-model JSON: modelTopology + weightsManifest
 *   weights.bin   the weights as one shard (what we write)
 *   metrics.json  optional; name, classNames, normalized, hidden and training metrics
 *
 * Loading follows the manifest, so folders from `tensorflowjs_converter
 * --input_format keras` (shards group1-shard1of1.bin, group1-shard1of2.bin, ...) load too.
 * Every file is written atomically.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { DataFormatError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic-write.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const METRICS_JSON = 'metrics.json';

/** Contents of metrics.json. The training fields are absent for models not trained here. */
export interface ModelCard {
  readonly name: string;
  readonly classNames: readonly string[];
  /** True when inputs are pixels/255; false when raw 0..255 floats. */
  readonly normalized: boolean;
  readonly hidden?: readonly number[];
  /** Anything else (TrainMetrics from train.ts when trained here). */
  readonly [key: string]: unknown;
}

/** A tf.io handler that saves model.json + weights.bin into `dir` atomically. */
export function folderSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer || artifacts.modelTopology == null) {
        throw new DataFormatError(`${join(dir, MODEL_JSON)}: only layers models with a JSON topology can be saved`);
      }
      const weightData = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      // weights first: a reader that finds the new model.json finds its weights.
      await writeFileAtomic(join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      await writeJsonAtomic(join(dir, MODEL_JSON), modelJson);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

async function readOrThrow(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `no such file (train one with 'tinyml train --out ${dirname(path)}', or point --model at a folder with a tfjs model.json)`
        : err instanceof Error
          ? err.message
          : String(err);
    throw new DataFormatError(`${path}: cannot read ${what}: ${why}`, { cause: err });
  }
}

/** Parses JSON or throws a DataFormatError naming the file. */
function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DataFormatError(`${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Keras 3 writes a few config fields tfjs 4.x does not read: InputLayer's
 * `batch_shape` (tfjs wants `batch_input_shape`) and dtype as a DTypePolicy object.
 * Rewrites those in place; a Keras 2 topology passes through unchanged.
 */
export function normalizeKerasTopology(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) normalizeKerasTopology(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (obj.class_name === 'InputLayer' && obj.config && typeof obj.config === 'object') {
    const config = obj.config as Record<string, unknown>;
    if (config.batch_input_shape === undefined && Array.isArray(config.batch_shape)) {
      config.batch_input_shape = config.batch_shape;
      delete config.batch_shape;
    }
  }
  const dtype = obj.dtype as Record<string, unknown> | undefined;
  if (dtype && typeof dtype === 'object' && dtype.class_name === 'DTypePolicy') {
    const name = (dtype.config as Record<string, unknown> | undefined)?.name;
    if (typeof name === 'string') obj.dtype = name;
  }
  for (const value of Object.values(obj)) normalizeKerasTopology(value);
}

/** A tf.io handler that loads a layers model (ours or tensorflowjs_converter's) from `dir`. */
export function folderLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = join(dir, MODEL_JSON);
      const json = parseJson((await readOrThrow(jsonPath, 'the model')).toString('utf8'), jsonPath) as tf.io.ModelJSON;
      if (!json || typeof json !== 'object' || !json.modelTopology) {
        throw new DataFormatError(`${jsonPath}: no modelTopology: not a TensorFlow.js layers model`);
      }
      if (json.format !== undefined && json.format !== 'layers-model') {
        throw new DataFormatError(
          `${jsonPath}: format '${json.format}' is not a layers model; convert with tensorflowjs_converter --input_format keras (or keras_saved_model) --output_format tfjs_layers_model`,
        );
      }
      normalizeKerasTopology(json.modelTopology);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const rel of group.paths) {
            if (isAbsolute(rel) || normalize(rel).split(sep).includes('..') || /^[a-z]+:\/\//i.test(rel)) {
              throw new DataFormatError(`${jsonPath}: weight path '${rel}' is not a file inside the model folder`);
            }
            const buf = await readOrThrow(join(dir, rel), 'a weight shard');
            buffers.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
          }
        }
        const specs = tf.io.getWeightSpecs(manifest);
        const data = tf.io.CompositeArrayBuffer.join(buffers);
        const needed = specs.reduce((n, s) => n + weightBytes(s), 0);
        if (data.byteLength !== needed) {
          throw new DataFormatError(
            `${jsonPath}: weight shards hold ${data.byteLength} bytes, the manifest describes ${needed}`,
          );
        }
        return [specs, data];
      });
    },
  };
}

function weightBytes(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) {
    return count * (spec.quantization.dtype === 'uint8' ? 1 : 2); // uint8, or uint16/float16
  }
  if (spec.dtype === 'string') return NaN; // not used by dense models; fails the size check
  return count * 4; // float32, int32
}

/** Saves the model (without optimizer state) and, when given, metrics.json. */
export async function saveModel(model: tf.LayersModel, dir: string, card?: ModelCard): Promise<void> {
  await model.save(folderSaveHandler(dir));
  if (card) await writeJsonAtomic(join(dir, METRICS_JSON), card);
}

/** Loads the layers model in `dir`. Missing or malformed files -> DataFormatError. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(folderLoadHandler(dir));
  } catch (err) {
    if (err instanceof DataFormatError) throw err;
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new DataFormatError(`${join(dir, MODEL_JSON)}: cannot load the model: ${why}`, { cause: err });
  }
}

/** Reads metrics.json, or returns undefined when the folder has none. */
export async function readModelCard(dir: string): Promise<Partial<ModelCard> | undefined> {
  const path = join(dir, METRICS_JSON);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DataFormatError(`${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const card = parseJson(text, path) as Record<string, unknown>;
  if (!card || typeof card !== 'object' || Array.isArray(card)) throw new DataFormatError(`${path}: expected a JSON object`);
  if (card.name !== undefined && typeof card.name !== 'string') throw new DataFormatError(`${path}: 'name' must be a string`);
  if (card.classNames !== undefined && (!Array.isArray(card.classNames) || card.classNames.some((c) => typeof c !== 'string'))) {
    throw new DataFormatError(`${path}: 'classNames' must be an array of strings`);
  }
  if (card.normalized !== undefined && typeof card.normalized !== 'boolean') {
    throw new DataFormatError(`${path}: 'normalized' must be true or false`);
  }
  return card as Partial<ModelCard>;
}
