/**
 * A plain TypeScript float32 forward pass of a FloatModel. Calibration uses it to
 * see every intermediate tensor (tfjs would need one model per layer for that),
 * and tests use it to check the tfjs and TFLite float paths.
 */
import type { FloatDense, FloatModel } from '../model/types.ts';

/** One layer: out = act(W x + b), with W in [out][in] layout. `out` is written in place. */
export function denseForward(layer: FloatDense, x: Float32Array, out: Float32Array): void {
  const { inputSize, outputSize, weights, bias } = layer;
  for (let o = 0; o < outputSize; o++) {
    let acc = 0;
    const row = o * inputSize;
    for (let i = 0; i < inputSize; i++) acc += weights[row + i] * x[i];
    acc += bias[o];
    out[o] = layer.activation === 'relu' && acc < 0 ? 0 : acc;
  }
}

/** Numerically stable softmax, in place. */
export function softmaxInPlace(v: Float32Array): void {
  let max = -Infinity;
  for (const x of v) if (x > max) max = x;
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = Math.exp(v[i] - max);
    sum += v[i];
  }
  for (let i = 0; i < v.length; i++) v[i] /= sum;
}

/** The real-valued model input for one image of raw 0..255 pixels. */
export function pixelsToFloat(model: FloatModel, pixels: Uint8Array, offset: number, out: Float32Array): void {
  const scale = model.normalized ? 1 / 255 : 1;
  for (let i = 0; i < out.length; i++) out[i] = pixels[offset + i] * scale;
}

/**
 * Runs one sample and returns every layer's output (after its fused activation);
 * the last entry is the logits. Softmax is not applied: callers that want
 * probabilities call softmaxInPlace on a copy.
 */
export function forwardLayers(model: FloatModel, input: Float32Array): Float32Array[] {
  const outs: Float32Array[] = [];
  let x = input;
  for (const layer of model.layers) {
    const y = new Float32Array(layer.outputSize);
    denseForward(layer, x, y);
    outs.push(y);
    x = y;
  }
  return outs;
}
