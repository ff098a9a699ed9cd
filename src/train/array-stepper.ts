/**
 * The portable dense stepper, for engines without WebAssembly SIMD: weights in
 * Float32Arrays, the matrix products through tf.matMul on fresh tensors, the rest in
 * plain loops (dense-math.ts). Slow, but it runs on any TensorFlow.js backend.
 */
import * as tf from '@tensorflow/tfjs';
import { adamAlpha, adamUpdate, rowSums, softmaxCrossEntropy, transpose, type AdamConfig, type StepResult } from './dense-math.ts';
import type { DenseStepper, DenseWeights } from './dense-step.ts';

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

/** Adds the bias to each row of z [out][n] and applies ReLU when asked, in place. */
function biasActivate(z: Float32Array, bias: Float32Array, n: number, relu: boolean): void {
  for (let o = 0; o < bias.length; o++) {
    const b = bias[o]!;
    const row = o * n;
    for (let k = 0; k < n; k++) {
      const v = z[row + k]! + b;
      z[row + k] = relu ? (v > 0 ? v : 0) : v;
    }
  }
}

export class ArrayStepper implements DenseStepper {
  private readonly layers: ArrayLayer[];
  private steps = 0;
  readonly threads = 1;
  readonly splitSteps = 0;

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

  step(x: Float32Array, labels: ArrayLike<number>, n: number): StepResult {
    const L = this.layers.length;
    const inSize0 = this.layers[0]!.inSize;
    const acts: Float32Array[] = [transpose(x, n, inSize0, new Float32Array(inSize0 * n))]; // acts[l] = input of layer l, [in][n]
    for (const layer of this.layers) {
      const z = matMul(layer.kernelT, [layer.outSize, layer.inSize], acts[acts.length - 1]!, [layer.inSize, n]);
      biasActivate(z, layer.bias, n, layer.relu);
      acts.push(z);
    }
    const C = this.layers[L - 1]!.outSize;
    let grad: Float32Array = new Float32Array(C * n);
    const result = softmaxCrossEntropy(acts[L]!, labels, C, n, n, grad);

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
      adamUpdate(layer.bias, rowSums(grad, outSize, n, n, new Float32Array(outSize)), layer.mB, layer.vB, alpha, beta1, beta2, epsilon);
      if (l > 0) transpose(layer.kernelT, outSize, inSize, layer.kernel);
      if (below) grad = below;
    }
    return result;
  }
}
