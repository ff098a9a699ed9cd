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
 * Each layer therefore keeps its kernel in both layouts, [in][out] (Keras's) and
 * [out][in], and Adam writes both.
 */
import * as tf from '@tensorflow/tfjs';

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

interface LayerState {
  readonly inSize: number;
  readonly outSize: number;
  readonly relu: boolean;
  /** [in][out]; kept current for the layers past the first, whose input gradient reads it. */
  readonly kernel: Float32Array;
  readonly kernelT: Float32Array; // [out][in], the master copy Adam updates
  readonly bias: Float32Array;
  readonly mK: Float32Array;
  readonly vK: Float32Array;
  readonly mB: Float32Array;
  readonly vB: Float32Array;
}

export interface StepResult {
  /** Sum over the batch of the per-sample cross-entropy (nats). */
  readonly lossSum: number;
  /** Samples whose largest logit was the label (first of equal maxima, like argmax). */
  readonly correct: number;
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

/**
 * Trains a Flatten -> Dense(relu)... -> Dense(softmax) stack on batches. Weights are
 * copied in at construction and read back with weights(); the trainer never touches
 * a tfjs model.
 */
export class DenseTrainer {
  private readonly layers: LayerState[];
  private readonly adam: AdamConfig;
  private steps = 0;

  /** `sizes` = [input, hidden..., classes]; `weights` one entry per layer. */
  constructor(sizes: readonly number[], weights: readonly DenseWeights[], adam: AdamConfig = KERAS_ADAM) {
    if (weights.length !== sizes.length - 1) throw new RangeError(`${sizes.length - 1} layers but ${weights.length} weight sets`);
    this.adam = adam;
    this.layers = weights.map((w, l) => {
      const inSize = sizes[l]!;
      const outSize = sizes[l + 1]!;
      if (w.kernel.length !== inSize * outSize || w.bias.length !== outSize) {
        throw new RangeError(`layer ${l + 1}: expected a ${inSize}x${outSize} kernel and ${outSize} biases`);
      }
      const kernel = Float32Array.from(w.kernel);
      const kernelT = transpose(kernel, inSize, outSize, new Float32Array(inSize * outSize));
      const n = inSize * outSize;
      return {
        inSize, outSize, relu: l < weights.length - 1, kernel, kernelT, bias: Float32Array.from(w.bias),
        mK: new Float32Array(n), vK: new Float32Array(n), mB: new Float32Array(outSize), vB: new Float32Array(outSize),
      };
    });
  }

  /** Copies of the current weights, kernel [in][out]. */
  weights(): DenseWeights[] {
    return this.layers.map((l) => ({
      kernel: transpose(l.kernelT, l.outSize, l.inSize, new Float32Array(l.inSize * l.outSize)),
      bias: Float32Array.from(l.bias),
    }));
  }

  /**
   * One step on `n` samples: xT is the batch feature-major, [input][n]; labels[k] is
   * sample k's class. Returns the batch's loss sum and correct count computed on the
   * forward pass before the update, as Keras's metrics are.
   */
  step(xT: Float32Array, labels: ArrayLike<number>, n: number): StepResult {
    const L = this.layers.length;
    // acts[l] = input of layer l, feature-major [in][n]
    const acts: Float32Array[] = [xT];
    for (let l = 0; l < L; l++) {
      const layer = this.layers[l]!;
      const z = matMul(layer.kernelT, [layer.outSize, layer.inSize], acts[l]!, [layer.inSize, n]);
      for (let o = 0; o < layer.outSize; o++) {
        const b = layer.bias[o]!;
        const row = o * n;
        if (layer.relu) {
          for (let k = 0; k < n; k++) {
            const v = z[row + k]! + b;
            z[row + k] = v > 0 ? v : 0;
          }
        } else {
          for (let k = 0; k < n; k++) z[row + k] = z[row + k]! + b;
        }
      }
      acts.push(z);
    }

    // Softmax cross-entropy from the logits: loss = logsumexp(z) - z[label].
    const out = this.layers[L - 1]!;
    const C = out.outSize;
    const logits = acts[L]!;
    const dzT = new Float32Array(C * n); // [C][n], d(mean loss)/d(logits)
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

    this.steps++;
    const { learningRate, beta1, beta2, epsilon } = this.adam;
    const alpha = (learningRate * Math.sqrt(1 - beta2 ** this.steps)) / (1 - beta1 ** this.steps);
    let grad: Float32Array = dzT;
    for (let l = L - 1; l >= 0; l--) {
      const layer = this.layers[l]!;
      const { inSize, outSize } = layer;
      // The kernel gradient in [out][in] layout, dzT a, needs this layer's input sample-major.
      const aT = acts[l]!;
      const a = new Float32Array(n * inSize);
      for (let i = 0; i < inSize; i++) for (let k = 0; k < n; k++) a[k * inSize + i] = aT[i * n + k]!;
      const dWt = matMul(grad, [outSize, n], a, [n, inSize]);
      let below: Float32Array | undefined;
      if (l > 0) {
        below = matMul(layer.kernel, [inSize, outSize], grad, [outSize, n]);
        // ReLU output: its gradient passes where it is positive
        for (let i = 0; i < below.length; i++) if (!(aT[i]! > 0)) below[i] = 0;
      }
      const db = new Float32Array(outSize);
      for (let o = 0; o < outSize; o++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += grad[o * n + k]!;
        db[o] = s;
      }
      adamUpdate(layer.kernelT, dWt, layer.mK, layer.vK, alpha, beta1, beta2, epsilon);
      adamUpdate(layer.bias, db, layer.mB, layer.vB, alpha, beta1, beta2, epsilon);
      // The first layer's [in][out] kernel is only read back by weights(): no input gradient needs it.
      if (l > 0) transpose(layer.kernelT, outSize, inSize, layer.kernel);
      if (below) grad = below;
    }
    return { lossSum, correct };
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
