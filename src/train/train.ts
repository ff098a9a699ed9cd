/**
 * Trains the dense classifier as Keras's fit() does: glorot-uniform kernels and zero
 * biases (buildModel), a fresh shuffle each epoch (ours, seeded, so runs repeat),
 * batches of 32, the loss taken from the logits, Keras's Adam (dense-step.ts), and
 * the epoch's accuracy as Keras logs it: the running mean over the epoch's batches,
 * each measured before its update. Early stopping follows the course exercise's
 * callback (`on_epoch_end: if logs['accuracy'] > 0.86: self.model.stop_training = True`),
 * except that it never stops before the end of epoch 2. The model that comes back
 * ends in Dense(softmax), so what is saved, quantized and exported is unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { randomInt } from 'node:crypto';
import { UsageError } from '../errors.ts';
import { FASHION_MNIST_CLASSES } from '../model/types.ts';
import type { Dataset } from '../data/fashion-mnist.ts';
import { predictFloat } from './float-model.ts';
import { buildModel, NUM_CLASSES } from './model.ts';
import { createDenseStepper, type DenseStepper, type DenseWeights } from './dense-step.ts';
import { mulberry32 } from '../util/prng.ts';

export interface TrainOptions {
  readonly train: Dataset;
  readonly test: Dataset;
  readonly hidden: readonly number[];
  /** Default 5. */
  readonly epochs?: number;
  /** Default 32 (Keras' default). */
  readonly batchSize?: number;
  /** Divide pixels by 255 (default true); false trains on raw 0..255 floats like the exercise's un-normalized run. */
  readonly normalize?: boolean;
  /** Stop at the end of an epoch (2 or later) whose training accuracy is above this, in (0, 1]. */
  readonly stopAtAccuracy?: number;
  /** Seeds weight init and shuffling; a random one is drawn (and reported) when absent. */
  readonly seed?: number;
  readonly onProgress?: (event: TrainProgress) => void;
  /** Threads for the training step's kernels: 1, 2 or 'auto' (default; see dense-step.ts). */
  readonly threads?: number | 'auto';
}

/** `batch` after every batch; `epoch` after each epoch; `evaluate` before the test pass. */
export type TrainProgress =
  | {
      readonly kind: 'batch';
      readonly epoch: number; // 1-based
      readonly epochs: number;
      readonly batch: number; // 1-based
      readonly batches: number;
      /** Running mean over the epoch so far, like Keras' progress bar. */
      readonly loss: number;
      readonly accuracy: number;
      readonly samplesPerSec: number;
      readonly etaSeconds: number;
    }
  | ({ readonly kind: 'epoch'; readonly epochs: number; readonly samplesPerSec: number; readonly etaSeconds: number } & EpochMetrics)
  | { readonly kind: 'evaluate'; readonly count: number };

export interface EpochMetrics {
  readonly epoch: number;
  /** Mean training loss and accuracy over the epoch's samples. */
  readonly loss: number;
  readonly accuracy: number;
  readonly seconds: number;
  /** CPU time of this process over the epoch (user + system, all threads): steadier than `seconds` on a busy machine. */
  readonly cpuSeconds?: number;
}

export interface DatasetInfo {
  readonly count: number;
  readonly sha256: string;
  readonly source: string;
}

/** Everything metrics.json records about a run. */
export interface TrainMetrics {
  readonly hidden: readonly number[];
  readonly normalized: boolean;
  readonly seed: number;
  readonly classNames: readonly string[];
  readonly epochsRequested: number;
  readonly batchSize: number;
  readonly stopAtAccuracy: number | null;
  readonly stoppedEarly: boolean;
  readonly epochs: readonly EpochMetrics[];
  readonly testAccuracy: number;
  /** Training time (all epochs, without the test pass). */
  readonly seconds: number;
  /** Training samples per second over all epochs. */
  readonly samplesPerSec: number;
  readonly backend: string;
  /** Threads the training step could run on (1, or 2 with a worker thread). */
  readonly trainThreads: number;
  /** Share of the steps whose large products were split between the 2 threads. */
  readonly splitStepShare: number;
  readonly params: number;
  readonly tfjsVersion: string;
  readonly dataset: { readonly train: DatasetInfo; readonly test: DatasetInfo };
}

export interface TrainResult {
  readonly model: tf.Sequential;
  readonly metrics: TrainMetrics;
}


function denseLayers(model: tf.Sequential): tf.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() === 'Dense');
}

/** The Dense layers' kernels ([in][out]) and biases, copied out of the model. */
function denseWeightsOf(model: tf.Sequential): DenseWeights[] {
  return denseLayers(model).map((layer) => {
    const [kernel, bias] = layer.getWeights();
    return { kernel: Float32Array.from(kernel!.dataSync()), bias: Float32Array.from(bias!.dataSync()) };
  });
}

function setDenseWeights(model: tf.Sequential, weights: readonly DenseWeights[]): void {
  denseLayers(model).forEach((layer, l) => {
    const [kernel, bias] = layer.getWeights();
    const w = weights[l]!;
    const tensors = [tf.tensor(w.kernel, kernel!.shape), tf.tensor(w.bias, bias!.shape)];
    layer.setWeights(tensors);
    tf.dispose(tensors);
  });
}

/** Fisher-Yates shuffle in place. */
export function shuffleInPlace(order: Uint32Array, random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
}

/**
 * Writes samples order[start..start+n) into x, sample-major [n][pixel], each pixel
 * through `scale`, and their labels into y.
 */
function fillBatch(data: Dataset, order: Uint32Array, start: number, n: number, scale: Float32Array, x: Float32Array, y: Uint8Array): void {
  const { images, labels } = data;
  const sample = data.rows * data.cols;
  for (let k = 0; k < n; k++) {
    const idx = order[start + k]!;
    const base = idx * sample;
    const row = k * sample;
    for (let p = 0; p < sample; p++) x[row + p] = scale[images[base + p]!]!;
    y[k] = labels[idx]!;
  }
}

function positiveInt(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer, got ${value}`);
  return value;
}

/** Trains a fresh model; the caller owns (and must dispose) the returned model. */
export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const { train, test, hidden, onProgress } = options;
  const epochs = positiveInt(options.epochs ?? 5, '--epochs');
  const batchSize = positiveInt(options.batchSize ?? 32, '--batch-size');
  const normalize = options.normalize ?? true;
  const stopAt = options.stopAtAccuracy;
  if (stopAt !== undefined && !(stopAt > 0 && stopAt <= 1)) {
    throw new UsageError(`--stop-at-accuracy must be in (0, 1], got ${stopAt}`);
  }
  if (options.seed !== undefined && !(Number.isSafeInteger(options.seed) && options.seed >= 0)) {
    throw new UsageError(`--seed must be a non-negative integer, got ${options.seed}`);
  }
  if (train.count < 1 || test.count < 1) throw new UsageError('training and test sets must not be empty');
  const seed = options.seed ?? randomInt(0, 2 ** 31 - 1);
  const sample = train.rows * train.cols;

  const model = buildModel(hidden, seed);
  let trainer: DenseStepper | undefined;
  try {
    const random = mulberry32(seed ^ 0x5eed5eed);
    const order = new Uint32Array(train.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const batches = Math.ceil(train.count / batchSize);
    const totalSamples = epochs * train.count;
    const xb = new Float32Array(sample * batchSize);
    const yb = new Uint8Array(batchSize);
    // pixel/255 rounded to float32, as pixelsToFloat32 computes it, looked up rather than divided.
    const scale = Float32Array.from({ length: 256 }, (_, p) => (normalize ? p / 255 : p));
    trainer = createDenseStepper([sample, ...hidden, NUM_CLASSES], denseWeightsOf(model), { batchSize, threads: options.threads });

    const history: EpochMetrics[] = [];
    let stoppedEarly = false;
    let seen = 0;
    let stepsRun = 0;
    const t0 = performance.now();
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const te = performance.now();
      const ce = process.cpuUsage();
      shuffleInPlace(order, random);
      let lossSum = 0;
      let correct = 0;
      let done = 0;
      for (let b = 0; b < batches; b++) {
        const start = b * batchSize;
        const n = Math.min(batchSize, train.count - start);
        fillBatch(train, order, start, n, scale, xb, yb);
        const r = trainer.step(xb, yb, n);
        stepsRun++;
        // Steps are synchronous: let timers, signals and I/O in now and then.
        if (b % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
        lossSum += r.lossSum;
        correct += r.correct;
        done += n;
        seen += n;
        if (onProgress) {
          const rate = seen / ((performance.now() - t0) / 1000);
          onProgress({
            kind: 'batch', epoch, epochs, batch: b + 1, batches,
            loss: lossSum / done, accuracy: correct / done,
            samplesPerSec: rate, etaSeconds: (totalSamples - seen) / rate,
          });
        }
      }
      const cpu = process.cpuUsage(ce);
      const m: EpochMetrics = {
        epoch, loss: lossSum / done, accuracy: correct / done,
        seconds: (performance.now() - te) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6,
      };
      history.push(m);
      const rate = seen / ((performance.now() - t0) / 1000);
      const stop = stopAt !== undefined && epoch >= 2 && m.accuracy > stopAt;
      stoppedEarly = stop && epoch < epochs;
      onProgress?.({ kind: 'epoch', epochs, samplesPerSec: rate, etaSeconds: stop ? 0 : (totalSamples - seen) / rate, ...m });
      if (stop) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    setDenseWeights(model, trainer.weights());

    onProgress?.({ kind: 'evaluate', count: test.count });
    const { top1 } = predictFloat(model, test.images, normalize, 1024);
    let correct = 0;
    for (let i = 0; i < test.count; i++) if (top1[i] === test.labels[i]) correct++;

    const metrics: TrainMetrics = {
      hidden: [...hidden],
      normalized: normalize,
      seed,
      classNames: [...FASHION_MNIST_CLASSES],
      epochsRequested: epochs,
      batchSize,
      stopAtAccuracy: stopAt ?? null,
      stoppedEarly,
      epochs: history,
      testAccuracy: correct / test.count,
      seconds,
      samplesPerSec: seen / seconds,
      backend: tf.getBackend(),
      trainThreads: trainer.threads,
      splitStepShare: stepsRun > 0 ? +(trainer.splitSteps / stepsRun).toFixed(3) : 0,
      params: model.countParams(),
      tfjsVersion: tf.version.tfjs,
      dataset: {
        train: { count: train.count, sha256: train.sha256, source: train.source },
        test: { count: test.count, sha256: test.sha256, source: test.source },
      },
    };
    return { model, metrics };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    trainer?.dispose();
  }
}
