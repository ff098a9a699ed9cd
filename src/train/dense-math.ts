/**
 * The scalar pieces of a dense training step shared by both steppers: softmax
 * cross-entropy from the logits, Keras's Adam on a small array, its bias-corrected step
 * size, transposes and row sums. Matrices are row-major; feature-major activations are
 * [features][stride] with samples along a row.
 */

export interface AdamConfig {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

/** Keras's Adam defaults (tf.keras.optimizers.Adam()). */
export const KERAS_ADAM: AdamConfig = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

export interface StepResult {
  /** Sum over the batch of the per-sample cross-entropy (nats). */
  readonly lossSum: number;
  /** Samples whose largest logit was the label (first of equal maxima, like argmax). */
  readonly correct: number;
}

/**
 * Softmax cross-entropy from feature-major logits [C][stride] for samples 0..n-1:
 * loss = logsumexp(z) - z[label]. Writes d(mean loss)/d(logits) into dz [C][stride],
 * and zeros in columns n..stride-1 so that padding samples carry no gradient.
 */
export function softmaxCrossEntropy(
  logits: Float32Array, labels: ArrayLike<number>, C: number, n: number, stride: number, dz: Float32Array,
): StepResult {
  let lossSum = 0;
  let correct = 0;
  for (let k = 0; k < n; k++) {
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < C; c++) {
      const v = logits[c * stride + k]!;
      if (v > max) { max = v; arg = c; }
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[c * stride + k]! - max);
    const label = labels[k]!;
    lossSum += Math.log(sum) + max - logits[label * stride + k]!;
    if (arg === label) correct++;
    for (let c = 0; c < C; c++) {
      const p = Math.exp(logits[c * stride + k]! - max) / sum;
      dz[c * stride + k] = (p - (c === label ? 1 : 0)) / n;
    }
  }
  for (let c = 0; c < C; c++) dz.fill(0, c * stride + n, (c + 1) * stride);
  return { lossSum, correct };
}

/** Keras's bias-corrected step size for step t (1-based). */
export function adamAlpha({ learningRate, beta1, beta2 }: AdamConfig, t: number): number {
  return (learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
}

/** Keras's Adam on one variable, in place: w -= alpha * m / (sqrt(v) + epsilon). */
export function adamUpdate(
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

/** out = transpose of the rows x cols matrix m (row-major, rows `mStride` apart); returns out. */
export function transpose(m: Float32Array, rows: number, cols: number, out: Float32Array, mStride = cols, outStride = rows): Float32Array {
  for (let r = 0; r < rows; r++) {
    const row = r * mStride;
    for (let c = 0; c < cols; c++) out[c * outStride + r] = m[row + c]!;
  }
  return out;
}

/** out[o] = sum of g[o][0..n) for g [rows][stride]: the bias gradient. */
export function rowSums(g: Float32Array, rows: number, n: number, stride: number, out: Float32Array): Float32Array {
  for (let o = 0; o < rows; o++) {
    let acc = 0;
    for (let k = 0; k < n; k++) acc += g[o * stride + k]!;
    out[o] = acc;
  }
  return out;
}
