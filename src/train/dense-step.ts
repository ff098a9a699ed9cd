/**
 * One training step of a dense ReLU classifier, computed the way Keras computes it:
 * the loss is a sparse softmax cross-entropy taken from the logits (stable on raw
 * 0..255 pixels, where the log of a clipped softmax, tfjs's sparseCategoricalCrossentropy,
 * stalls at chance), and the update is Keras's Adam (epsilon added to sqrt(v), the
 * bias correction folded into the step size).
 *
 * Two implementations of the same arithmetic: our WebAssembly SIMD kernels on a memory
 * of their own (kernel-stepper.ts), used whenever the engine has wasm SIMD, whatever the
 * TensorFlow.js backend; and a portable one through tf.matMul (array-stepper.ts).
 */
import { availableParallelism } from 'node:os';
import { ArrayStepper } from './array-stepper.ts';
import { KERAS_ADAM, type AdamConfig, type StepResult } from './dense-math.ts';
import { KernelStepper } from './kernel-stepper.ts';

export { KERAS_ADAM, type AdamConfig, type StepResult } from './dense-math.ts';

/** A dense layer's weights: kernel [in][out] row-major (the tfjs/Keras layout), bias [out]. */
export interface DenseWeights {
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
}

/** Trains a Flatten -> Dense(relu)... -> Dense(softmax) stack one batch at a time. */
export interface DenseStepper {
  /**
   * One step on `n` samples (1..batchSize): x is the batch sample-major, [n][input];
   * labels[k] is sample k's class. The loss and correct count are those of the forward
   * pass before the update, as Keras's metrics are.
   */
  step(x: Float32Array, labels: ArrayLike<number>, n: number): StepResult;
  /** Copies of the current weights, kernel [in][out]. */
  weights(): DenseWeights[];
  /** Threads the step may run on (2: large products split with a worker thread). */
  readonly threads: number;
  /** Steps so far that handed part of their products to the worker thread. */
  readonly splitSteps: number;
  /** Frees what the stepper holds; it is unusable afterwards. */
  dispose(): void;
}

export interface StepperOptions {
  readonly adam?: AdamConfig;
  /** The largest batch step() will be given (default 32). */
  readonly batchSize?: number;
  /** 'auto' (default): the wasm SIMD kernels when the engine has them; 'arrays': tf.matMul. */
  readonly mode?: 'auto' | 'arrays';
  /**
   * Threads for the wasm kernels: 1; 2 (large products always split with a worker
   * thread); or 'auto' (default on machines with 2 or more CPUs): the stepper times
   * steps both ways now and then and uses the faster, since on a busy machine the worker
   * is often not scheduled when its half is due.
   */
  readonly threads?: number | 'auto';
  /** Products of at least this many multiply-adds are split between the 2 threads (default 2M). */
  readonly splitWork?: number;
}

/** Below about this many multiply-adds, handing half a product to the other thread costs more than it saves. */
const SPLIT_WORK = 2_000_000;

/** `sizes` = [input, hidden..., classes]; `weights` one entry per layer (copied). */
export function createDenseStepper(sizes: readonly number[], weights: readonly DenseWeights[], options: StepperOptions = {}): DenseStepper {
  if (weights.length !== sizes.length - 1) throw new RangeError(`${sizes.length - 1} layers but ${weights.length} weight sets`);
  weights.forEach((w, l) => {
    if (w.kernel.length !== sizes[l]! * sizes[l + 1]! || w.bias.length !== sizes[l + 1]!) {
      throw new RangeError(`layer ${l + 1}: expected a ${sizes[l]}x${sizes[l + 1]} kernel and ${sizes[l + 1]} biases`);
    }
  });
  const adam = options.adam ?? KERAS_ADAM;
  const threads = options.threads ?? (availableParallelism() > 1 ? 'auto' : 1);
  const fast = options.mode === 'arrays'
    ? undefined
    : KernelStepper.create(sizes, weights, adam, options.batchSize ?? 32, threads, options.splitWork ?? SPLIT_WORK);
  return fast ?? new ArrayStepper(sizes, weights, adam);
}
