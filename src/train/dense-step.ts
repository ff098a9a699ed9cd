/**
 * One training step of a dense ReLU classifier, computed the way Keras computes it:
 * the loss is a sparse softmax cross-entropy taken from the logits (stable on raw
 * 0..255 pixels, where the log of a clipped softmax, tfjs's sparseCategoricalCrossentropy,
 * stalls at chance), and the update is Keras's Adam (epsilon added to sqrt(v), the
 * bias correction folded into the step size).
 *
 * Only the matrix products run in TensorFlow.js (XNNPACK on the wasm backend); the
 * rest (bias, ReLU, softmax, Adam) are plain loops over Float32Arrays that we own, so a
 * step costs a handful of kernel calls rather than a graph of small ops. Activations are
 * kept feature-major ([features][batch]) so that every weight matrix is the LEFT operand
 * of its product: XNNPACK packs (and caches, by tensor id) the right operand, and
 * repacking a weight matrix that changed every step costs more than the product itself.
 * Each layer's master kernel is [out][in]; layers past the first also keep the
 * [in][out] copy their input gradient reads.
 *
 * Two implementations of the same arithmetic: on the wasm backend the weights, Adam
 * moments and gradients stay on the backend's heap and a SIMD Adam (simd-adam.ts)
 * updates them in place; elsewhere (tensorflow, cpu backends) they are Float32Arrays
 * copied into fresh tensors for each product.
 */
import * as tf from '@tensorflow/tfjs';
import { simdAdam, type SimdAdam } from './simd-adam.ts';

export interface AdamConfig {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

/** Keras's Adam defaults (tf.keras.optimizers.Adam()). */
export const KERAS_ADAM: AdamConfig = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

/** A dense layer's weights: kernel [in][out] row-major (the tfjs/Keras layout), bias [out]. */
export interface DenseWeights {
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
}

export interface StepResult {
  /** Sum over the batch of the per-sample cross-entropy (nats). */
  readonly lossSum: number;
  /** Samples whose largest logit was the label (first of equal maxima, like argmax). */
  readonly correct: number;
}

/** Trains a Flatten -> Dense(relu)... -> Dense(softmax) stack one batch at a time. */
export interface DenseStepper {
  /**
   * One step on `n` samples: xT is the batch feature-major, [input][n]; labels[k] is
   * sample k's class. The loss and correct count are those of the forward pass before
   * the update, as Keras's metrics are.
   */
  step(xT: Float32Array, labels: ArrayLike<number>, n: number): StepResult;
  /** Copies of the current weights, kernel [in][out]. */
  weights(): DenseWeights[];
  /** Frees backend memory; the stepper is unusable afterwards. */
  dispose(): void;
}

export interface StepperOptions {
  readonly adam?: AdamConfig;
  /** 'auto' (default): the wasm heap path when the wasm backend and SIMD are there. */
  readonly mode?: 'auto' | 'arrays';
}

/** `sizes` = [input, hidden..., classes]; `weights` one entry per layer (copied). */
export function createDenseStepper(sizes: readonly number[], weights: readonly DenseWeights[], options: StepperOptions = {}): DenseStepper {
  if (weights.length !== sizes.length - 1) throw new RangeError(`${sizes.length - 1} layers but ${weights.length} weight sets`);
  weights.forEach((w, l) => {
    if (w.kernel.length !== sizes[l]! * sizes[l + 1]! || w.bias.length !== sizes[l + 1]!) {
      throw new RangeError(`layer ${l + 1}: expected a ${sizes[l]}x${sizes[l + 1]} kernel and ${sizes[l + 1]} biases`);
    }
  });
  const adam = options.adam ?? KERAS_ADAM;
  const heap = options.mode === 'arrays' ? undefined : wasmHeap();
  const update = heap && simdAdam(heap.memory);
  return heap && update ? new HeapStepper(sizes, weights, adam, heap, update) : new ArrayStepper(sizes, weights, adam);
}

/** Adds the bias to each row of zT [out][n] and applies ReLU when asked, in place. */
function biasActivate(z: Float32Array, bias: Float32Array, n: number, relu: boolean): void {
  for (let o = 0; o < bias.length; o++) {
    const b = bias[o]!;
    const row = o * n;
    if (relu) {
      for (let k = 0; k < n; k++) {
        const v = z[row + k]! + b;
        z[row + k] = v > 0 ? v : 0;
      }
    } else {
      for (let k = 0; k < n; k++) z[row + k] = z[row + k]! + b;
    }
  }
}

/**
 * Softmax cross-entropy from logits zT [C][n]: loss = logsumexp(z) - z[label]. Writes
 * d(mean loss)/d(logits) into dzT [C][n].
 */
function softmaxCrossEntropy(logits: Float32Array, labels: ArrayLike<number>, C: number, n: number, dzT: Float32Array): StepResult {
  let lossSum = 0;
  let correct = 0;
  for (let k = 0; k < n; k++) {
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < C; c++) {
      const v = logits[c * n + k]!;
      if (v > max) { max = v; arg = c; }
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[c * n + k]! - max);
    const label = labels[k]!;
    lossSum += Math.log(sum) + max - logits[label * n + k]!;
    if (arg === label) correct++;
    for (let c = 0; c < C; c++) {
      const p = Math.exp(logits[c * n + k]! - max) / sum;
      dzT[c * n + k] = (p - (c === label ? 1 : 0)) / n;
    }
  }
  return { lossSum, correct };
}

/** Row sums of gT [out][n]: the bias gradient. */
function rowSums(g: Float32Array, out: number, n: number): Float32Array {
  const s = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let acc = 0;
    for (let k = 0; k < n; k++) acc += g[o * n + k]!;
    s[o] = acc;
  }
  return s;
}

/** Keras's bias-corrected step size for step t (1-based). */
function adamAlpha({ learningRate, beta1, beta2 }: AdamConfig, t: number): number {
  return (learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
}

interface ArrayLayer {
  readonly inSize: number;
  readonly outSize: number;
  readonly relu: boolean;
  /** [out][in], the master copy Adam updates. */
  readonly kernelT: Float32Array;
  /** [in][out]; kept current for the layers past the first, whose input gradient reads it. */
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
  readonly mK: Float32Array;
  readonly vK: Float32Array;
  readonly mB: Float32Array;
  readonly vB: Float32Array;
}

/** Runs tfjs matMul(a, b) on fresh tensors and returns the product's values as a new array. */
function matMul(a: Float32Array, aShape: [number, number], b: Float32Array, bShape: [number, number]): Float32Array {
  const ta = tf.tensor2d(a, aShape);
  const tb = tf.tensor2d(b, bShape);
  const out = tf.matMul(ta, tb);
  try {
    return out.dataSync() as Float32Array;
  } finally {
    ta.dispose();
    tb.dispose();
    out.dispose();
  }
}

/** The portable stepper: weights in Float32Arrays, copied into tensors per product. */
class ArrayStepper implements DenseStepper {
  private readonly layers: ArrayLayer[];
  private steps = 0;

  constructor(sizes: readonly number[], weights: readonly DenseWeights[], private readonly adam: AdamConfig) {
    this.layers = weights.map((w, l) => {
      const inSize = sizes[l]!;
      const outSize = sizes[l + 1]!;
      const count = inSize * outSize;
      return {
        inSize, outSize, relu: l < weights.length - 1,
        kernel: Float32Array.from(w.kernel), kernelT: transpose(w.kernel, inSize, outSize, new Float32Array(count)),
        bias: Float32Array.from(w.bias),
        mK: new Float32Array(count), vK: new Float32Array(count), mB: new Float32Array(outSize), vB: new Float32Array(outSize),
      };
    });
  }

  weights(): DenseWeights[] {
    return this.layers.map((l) => ({
      kernel: transpose(l.kernelT, l.outSize, l.inSize, new Float32Array(l.inSize * l.outSize)),
      bias: Float32Array.from(l.bias),
    }));
  }

  dispose(): void {}

  step(xT: Float32Array, labels: ArrayLike<number>, n: number): StepResult {
    const L = this.layers.length;
    const acts: Float32Array[] = [xT]; // acts[l] = input of layer l, [in][n]
    for (const layer of this.layers) {
      const z = matMul(layer.kernelT, [layer.outSize, layer.inSize], acts[acts.length - 1]!, [layer.inSize, n]);
      biasActivate(z, layer.bias, n, layer.relu);
      acts.push(z);
    }
    const C = this.layers[L - 1]!.outSize;
    let grad: Float32Array = new Float32Array(C * n);
    const result = softmaxCrossEntropy(acts[L]!, labels, C, n, grad);

    const alpha = adamAlpha(this.adam, ++this.steps);
    const { beta1, beta2, epsilon } = this.adam;
    for (let l = L - 1; l >= 0; l--) {
      const layer = this.layers[l]!;
      const { inSize, outSize } = layer;
      const aT = acts[l]!;
      const dWt = matMul(grad, [outSize, n], transpose(aT, inSize, n, new Float32Array(n * inSize)), [n, inSize]);
      let below: Float32Array | undefined;
      if (l > 0) {
        below = matMul(layer.kernel, [inSize, outSize], grad, [outSize, n]);
        for (let i = 0; i < below.length; i++) if (!(aT[i]! > 0)) below[i] = 0; // ReLU passes where its output is positive
      }
      adamUpdate(layer.kernelT, dWt, layer.mK, layer.vK, alpha, beta1, beta2, epsilon);
      adamUpdate(layer.bias, rowSums(grad, outSize, n), layer.mB, layer.vB, alpha, beta1, beta2, epsilon);
      if (l > 0) transpose(layer.kernelT, outSize, inSize, layer.kernel);
      if (below) grad = below;
    }
    return result;
  }
}

/** A tensor as backend kernels see it: data id, shape, dtype. tf.Tensor is one too. */
interface Info {
  readonly dataId: object;
  readonly shape: readonly number[];
  readonly dtype: string;
}

/** What we use of the tfjs wasm backend's internals (tfjs-backend-wasm 4.x). */
interface WasmHeap {
  readonly memory: WebAssembly.Memory;
  /** Byte offset of a tensor's data on the heap. */
  offsetOf(t: Info): number;
  /**
   * a @ b through the backend's BatchMatMul kernel, called directly: the engine's
   * bookkeeping costs as much as a small product. The result must be release()d.
   */
  matMul(a: Info, b: Info): Info;
  release(t: Info): void;
}

function wasmHeap(): WasmHeap | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const be = tf.backend() as unknown as {
    wasm?: { asm?: { memory?: unknown } };
    dataIdMap?: { get(id: unknown): { memoryOffset?: unknown } | undefined };
    disposeData?: (dataId: object) => boolean;
  };
  const memory = be.wasm?.asm?.memory;
  const map = be.dataIdMap;
  const kernel = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
  if (!(memory instanceof WebAssembly.Memory) || typeof map?.get !== 'function' || typeof be.disposeData !== 'function' || !kernel) {
    return undefined;
  }
  const attrs = { transposeA: false, transposeB: false };
  return {
    memory,
    offsetOf(t) {
      const off = map.get(t.dataId)?.memoryOffset;
      if (typeof off !== 'number' || off % 4 !== 0) throw new Error('tfjs wasm backend: a tensor has no heap offset');
      return off;
    },
    matMul: (a, b) => kernel({ inputs: { a, b } as never, backend: be as never, attrs }) as Info,
    release: (t) => void be.disposeData!(t.dataId),
  };
}

interface HeapLayer {
  readonly inSize: number;
  readonly outSize: number;
  readonly relu: boolean;
  readonly kernelT: tf.Tensor2D; // [out][in]
  readonly kernel: tf.Tensor2D | undefined; // [in][out], layers past the first
  readonly mK: tf.Tensor;
  readonly vK: tf.Tensor;
  readonly bias: Float32Array;
  readonly mB: Float32Array;
  readonly vB: Float32Array;
}

/**
 * The wasm-backend stepper: kernels and their Adam moments live in tensors on the
 * backend's heap and are updated in place (safe: XNNPACK caches only right operands,
 * and a weight is never one), through views made afresh after each allocation since
 * the heap may grow.
 */
class HeapStepper implements DenseStepper {
  private readonly layers: HeapLayer[];
  private steps = 0;

  constructor(
    sizes: readonly number[], weights: readonly DenseWeights[], private readonly adam: AdamConfig,
    private readonly heap: WasmHeap, private readonly update: SimdAdam,
  ) {
    this.layers = weights.map((w, l) => {
      const inSize = sizes[l]!;
      const outSize = sizes[l + 1]!;
      const count = inSize * outSize;
      return {
        inSize, outSize, relu: l < weights.length - 1,
        kernelT: tf.tensor2d(transpose(w.kernel, inSize, outSize, new Float32Array(count)), [outSize, inSize]),
        kernel: l > 0 ? tf.tensor2d(w.kernel, [inSize, outSize]) : undefined,
        mK: tf.zeros([count]), vK: tf.zeros([count]),
        bias: Float32Array.from(w.bias), mB: new Float32Array(outSize), vB: new Float32Array(outSize),
      };
    });
  }

  private view(t: Info): Float32Array {
    return new Float32Array(this.heap.memory.buffer, this.heap.offsetOf(t), t.shape.reduce((a, b) => a * b, 1));
  }

  weights(): DenseWeights[] {
    return this.layers.map((l) => ({
      kernel: transpose(this.view(l.kernelT), l.outSize, l.inSize, new Float32Array(l.inSize * l.outSize)),
      bias: Float32Array.from(l.bias),
    }));
  }

  dispose(): void {
    for (const l of this.layers) tf.dispose([l.kernelT, l.mK, l.vK, ...(l.kernel ? [l.kernel] : [])]);
  }

  step(xT: Float32Array, labels: ArrayLike<number>, n: number): StepResult {
    const temps: Info[] = [];
    const input = (values: Float32Array, shape: [number, number]) => {
      const t = tf.tensor2d(values, shape);
      temps.push(t);
      return t;
    };
    const matMul = (a: Info, b: Info) => {
      const t = this.heap.matMul(a, b);
      temps.push(t);
      return t;
    };
    try {
      const L = this.layers.length;
      const acts: Info[] = [input(xT, [xT.length / n, n])];
      for (const layer of this.layers) {
        const z = matMul(layer.kernelT, acts[acts.length - 1]!);
        biasActivate(this.view(z), layer.bias, n, layer.relu);
        acts.push(z);
      }
      const C = this.layers[L - 1]!.outSize;
      const dzT = new Float32Array(C * n);
      const result = softmaxCrossEntropy(this.view(acts[L]!), labels, C, n, dzT);

      const alpha = adamAlpha(this.adam, ++this.steps);
      const { beta1, beta2, epsilon } = this.adam;
      let grad: Info = input(dzT, [C, n]);
      for (let l = L - 1; l >= 0; l--) {
        const layer = this.layers[l]!;
        const { inSize, outSize } = layer;
        const a = input(transpose(this.view(acts[l]!), inSize, n, new Float32Array(n * inSize)), [n, inSize]);
        const dWt = matMul(grad, a);
        const below = layer.kernel ? matMul(layer.kernel, grad) : undefined;
        // No allocation from here to the end of the layer: the views stay valid.
        const g = this.view(grad);
        if (below) {
          const b = this.view(below);
          const aT = this.view(acts[l]!);
          for (let i = 0; i < b.length; i++) if (!(aT[i]! > 0)) b[i] = 0; // ReLU passes where its output is positive
        }
        const count = inSize * outSize;
        const simd = count - (count % 4);
        const [w, dw, m, v] = [layer.kernelT, dWt, layer.mK, layer.vK].map((t) => this.heap.offsetOf(t)) as [number, number, number, number];
        this.update(w, dw, m, v, simd * 4, alpha, beta1, beta2, epsilon);
        if (simd < count) {
          const tail = (t: Info) => this.view(t).subarray(simd);
          adamUpdate(tail(layer.kernelT), tail(dWt), tail(layer.mK), tail(layer.vK), alpha, beta1, beta2, epsilon);
        }
        adamUpdate(layer.bias, rowSums(g, outSize, n), layer.mB, layer.vB, alpha, beta1, beta2, epsilon);
        if (layer.kernel) transpose(this.view(layer.kernelT), outSize, inSize, this.view(layer.kernel));
        if (below) grad = below;
      }
      return result;
    } finally {
      for (const t of temps) {
        if (t instanceof tf.Tensor) t.dispose();
        else this.heap.release(t);
      }
    }
  }
}

/** out = transpose of the rows x cols matrix m (row-major); returns out. */
function transpose(m: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = m[row + c]!;
  }
  return out;
}

/** Keras's Adam on one variable, in place: w -= alpha * m / (sqrt(v) + epsilon). */
function adamUpdate(
  w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  alpha: number, beta1: number, beta2: number, epsilon: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    const mi = beta1 * m[i]! + c1 * gi;
    const vi = beta2 * v[i]! + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i]! - (alpha * mi) / (Math.sqrt(vi) + epsilon);
  }
}
