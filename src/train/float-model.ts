/**
 * The bridge from a tfjs LayersModel to the shared FloatModel (src/model/types.ts)
 * that the quantizer and exporters read, plus batched float inference.
 *
 * Accepted layers, in order: InputLayer, Flatten or Reshape to a flat vector,
 * Dense(relu | linear) ..., and optionally a final Dense(softmax), which becomes a
 * linear layer with FloatModel.softmax = true. Dropout is accepted and skipped: it is
 * the identity at inference, so the exported model computes what predict() computes.
 * Anything else (Conv2D, BatchNormalization, Dense with tanh/sigmoid, ...) is an
 * UnsupportedModelError naming the layer.
 */
import * as tf from '@tensorflow/tfjs';
import { basename, resolve } from 'node:path';
import { DataFormatError, UnsupportedModelError } from '../errors.ts';
import { FASHION_MNIST_CLASSES, type DenseActivation, type FloatDense, type FloatModel } from '../model/types.ts';
import { loadModel, readModelCard, type ModelCard } from './model-store.ts';

export interface FloatModelMeta {
  readonly name: string;
  readonly classNames: readonly string[];
  readonly normalized: boolean;
}

const SUPPORTED = 'only Flatten and Dense(relu) layers with a final Dense(softmax) are supported';

function refuse(layer: tf.layers.Layer, what: string, why = SUPPORTED): never {
  throw new UnsupportedModelError(`layer '${layer.name}' (${what}) cannot be quantized: ${why}`);
}

/** Extracts the Dense layers of a supported model; kernels become [out][in] row-major. */
export function toFloatModel(model: tf.LayersModel, meta: FloatModelMeta): FloatModel {
  const inShape = model.inputs[0]?.shape.slice(1) ?? [];
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new UnsupportedModelError(`model '${meta.name}' has ${model.inputs.length} inputs and ${model.outputs.length} outputs; only one of each is supported`);
  }
  if (inShape.some((d) => d == null || d < 1)) {
    throw new UnsupportedModelError(`model '${meta.name}' has an input shape [${inShape.join(', ')}] with unknown dimensions`);
  }
  const inputShape = inShape as number[];
  let width = inputShape.reduce((a, b) => a * b, 1);
  let flat = inputShape.length === 1;
  const layers: FloatDense[] = [];
  let softmax = false;
  const all = model.layers;
  // Index of the last Dense: the only one allowed a softmax.
  let lastDense = -1;
  all.forEach((l, i) => { if (l.getClassName() === 'Dense') lastDense = i; });

  all.forEach((layer, i) => {
    const cls = layer.getClassName();
    const config = layer.getConfig();
    if (softmax && cls !== 'Dropout') refuse(layer, cls, 'nothing may follow the softmax Dense layer');
    switch (cls) {
      case 'InputLayer':
      case 'Dropout':
        return;
      case 'Flatten':
        flat = true;
        return;
      case 'Reshape': {
        const target = config.targetShape as number[] | undefined;
        if (!target || target.length !== 1 || (target[0] !== -1 && target[0] !== width)) {
          refuse(layer, `Reshape to [${target?.join(', ')}]`, `only a reshape to a flat [${width}] vector is supported`);
        }
        flat = true;
        return;
      }
      case 'Dense': {
        if (!flat) refuse(layer, 'Dense', `its input is not flat ([${inputShape.join(', ')}]): add a Flatten before it`);
        const act = String(config.activation ?? 'linear');
        let activation: DenseActivation;
        if (act === 'relu' || act === 'linear') activation = act;
        else if (act === 'softmax' && i === lastDense) {
          activation = 'linear';
          softmax = true;
        } else if (act === 'softmax') {
          refuse(layer, `Dense, activation 'softmax'`, 'softmax is only supported on the last Dense layer');
        } else {
          refuse(layer, `Dense, activation '${act}'`);
        }
        layers.push(denseWeights(layer, activation, width));
        width = layers[layers.length - 1]!.outputSize;
        return;
      }
      default:
        refuse(layer, cls);
    }
  });

  if (layers.length === 0) throw new UnsupportedModelError(`model '${meta.name}' has no Dense layer`);
  if (width !== meta.classNames.length) {
    throw new UnsupportedModelError(
      `model '${meta.name}' has ${width} outputs but ${meta.classNames.length} class names`,
    );
  }
  return {
    kind: 'float32',
    name: meta.name,
    classNames: [...meta.classNames],
    inputShape: [...inputShape],
    normalized: meta.normalized,
    layers,
    softmax,
  };
}

function denseWeights(layer: tf.layers.Layer, activation: DenseActivation, inputSize: number): FloatDense {
  const [kernel, bias] = layer.getWeights();
  if (!kernel || kernel.shape.length !== 2) refuse(layer, 'Dense', 'its kernel is not a 2-D matrix');
  const [inSize, outSize] = kernel.shape as [number, number];
  if (inSize !== inputSize) refuse(layer, 'Dense', `its kernel expects ${inSize} inputs but receives ${inputSize}`);
  const k = kernel.dataSync() as Float32Array; // [in][out]
  const weights = new Float32Array(outSize * inSize);
  for (let i = 0; i < inSize; i++) {
    for (let o = 0; o < outSize; o++) weights[o * inSize + i] = k[i * outSize + o]!;
  }
  const b = bias ? Float32Array.from(bias.dataSync() as Float32Array) : new Float32Array(outSize);
  return { name: layer.name, inputSize: inSize, outputSize: outSize, weights, bias: b, activation };
}

export interface LoadedFloatModel {
  readonly tfModel: tf.LayersModel;
  readonly floatModel: FloatModel;
  /** metrics.json with defaults filled in (name from the folder, Fashion-MNIST classes, normalized). */
  readonly meta: FloatModelMeta & Partial<ModelCard>;
}

/** Loads a model folder (ours or tensorflowjs_converter's) and converts it to a FloatModel. */
export async function loadFloatModel(dir: string): Promise<LoadedFloatModel> {
  const tfModel = await loadModel(dir);
  const card = (await readModelCard(dir)) ?? {};
  const meta = {
    ...card,
    name: card.name ?? basename(resolve(dir)),
    classNames: card.classNames ?? FASHION_MNIST_CLASSES,
    normalized: card.normalized ?? true,
  };
  try {
    return { tfModel, floatModel: toFloatModel(tfModel, meta), meta };
  } catch (err) {
    tfModel.dispose();
    throw err;
  }
}

/**
 * Pixels 0..255 to model input floats: pixel/255 when normalizing (a float64
 * division rounded to float32), else the pixel value. Training and inference
 * both use this, so they see the same inputs bit for bit.
 */
export function pixelsToFloat32(pixels: Uint8Array, normalize: boolean): Float32Array {
  const out = new Float32Array(pixels.length);
  if (normalize) for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / 255;
  else out.set(pixels);
  return out;
}

export interface FloatPredictions {
  /** count*numOutputs model outputs (probabilities when the model ends in softmax). */
  readonly probabilities: Float32Array;
  /** Top-1 class per image (the first of equal maxima). */
  readonly top1: Uint8Array;
  readonly count: number;
  readonly numOutputs: number;
}

/**
 * Runs the model over many images (raw pixels, count*inputSize bytes) in batches
 * of `batch`, inside tf.tidy so no tensor outlives a batch.
 */
export function predictFloat(tfModel: tf.LayersModel, images: Uint8Array, normalize: boolean, batch = 256): FloatPredictions {
  const shape = tfModel.inputs[0]!.shape.slice(1) as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  if (images.length % size !== 0) {
    throw new DataFormatError(`${images.length} pixels are not a whole number of ${size}-pixel model inputs`);
  }
  const count = images.length / size;
  const numOutputs = tfModel.outputs[0]!.shape[1] as number;
  const probabilities = new Float32Array(count * numOutputs);
  const top1 = new Uint8Array(count);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const x = pixelsToFloat32(images.subarray(start * size, (start + n) * size), normalize);
    const out = tf.tidy(() => (tfModel.predict(tf.tensor(x, [n, ...shape])) as tf.Tensor).dataSync() as Float32Array);
    probabilities.set(out, start * numOutputs);
  }
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < numOutputs; c++) {
      if (probabilities[i * numOutputs + c]! > probabilities[i * numOutputs + best]!) best = c;
    }
    top1[i] = best;
  }
  return { probabilities, top1, count, numOutputs };
}
