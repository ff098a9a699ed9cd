/**
 * The dense classifiers we train: Flatten(28x28) -> Dense(h, relu)... -> Dense(10, softmax).
 *
 * Presets: the TinyML course's Fashion-MNIST exercise tries a 20-unit, a 1024-unit
 * and a two-layer 512+512 hidden layer; `default` is one 128-unit layer, which at
 * int8 is about 100 KB of weights (784*128 + 128*10 bytes) and needs under 1 KB of
 * activation arena, so it fits an Arduino Nano 33 BLE Sense (1 MB flash, 256 KB RAM).
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../errors.ts';

export const PRESETS = {
  default: [128],
  'seed-base': [20],
  'seed-wide': [1024],
  'seed-deep': [512, 512],
} as const satisfies Record<string, readonly number[]>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export const INPUT_SHAPE: readonly [number, number] = [28, 28];
export const NUM_CLASSES = 10;

/** Hidden layer sizes of a preset; unknown name -> UsageError listing the valid ones. */
export function presetHidden(name: string): number[] {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new UsageError(`unknown preset '${name}': use one of ${PRESET_NAMES.join(', ')}`);
  }
  return [...PRESETS[name as PresetName]];
}

/** Largest hidden layer we accept; far beyond what fits a microcontroller, it only catches typos. */
export const MAX_HIDDEN_UNITS = 65536;

/** Parses "128" or "512,512" (spaces allowed) into layer sizes; anything else -> UsageError. */
export function parseHidden(text: string | number): number[] {
  const parts = String(text).split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new UsageError(`--hidden '${text}': expected comma-separated layer sizes such as 128 or 512,512`);
  }
  return parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n) || n < 1 || n > MAX_HIDDEN_UNITS) {
      throw new UsageError(`--hidden '${text}': '${p}' is not a layer size (an integer 1..${MAX_HIDDEN_UNITS})`);
    }
    return n;
  });
}

/** Folder-friendly model name for hidden sizes: [128] -> "h128", [512, 512] -> "h512-512". */
export function hiddenName(hidden: readonly number[]): string {
  return `h${hidden.join('-')}`;
}

/**
 * Builds and compiles the classifier (Adam at its default learning rate 0.001, given
 * by name so the model owns the optimizer and dispose() frees its state;
 * sparse categorical cross-entropy, accuracy). With a seed, kernels are
 * Glorot-uniform seeded with seed+layerIndex and biases are zeros, so two builds
 * with the same seed have identical weights. Layers are named hidden_1.., output.
 */
export function buildModel(hidden: readonly number[], seed?: number): tf.Sequential {
  if (hidden.length === 0 || hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new UsageError(`hidden layer sizes must be positive integers, got [${hidden.join(', ')}]`);
  }
  const kernel = (i: number) =>
    tf.initializers.glorotUniform(seed === undefined ? {} : { seed: seed + i });
  const model = tf.sequential({ name: hiddenName(hidden) });
  model.add(tf.layers.flatten({ inputShape: [...INPUT_SHAPE], name: 'flatten' }));
  hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: kernel(i),
        biasInitializer: 'zeros',
        name: `hidden_${i + 1}`,
      }),
    );
  });
  model.add(
    tf.layers.dense({
      units: NUM_CLASSES,
      activation: 'softmax',
      kernelInitializer: kernel(hidden.length),
      biasInitializer: 'zeros',
      name: 'output',
    }),
  );
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
