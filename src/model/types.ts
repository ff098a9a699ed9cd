/**
 * The in-memory forms of a model that every stage shares. Weight matrices use
 * the TFLite FULLY_CONNECTED filter layout, [outputSize][inputSize] row-major
 * (the transpose of a Keras/tfjs Dense kernel), so no stage needs to transpose.
 */

/** Affine quantization of one tensor: real = scale * (q - zeroPoint). */
export interface QuantParams {
  /** Always a float32-representable value (it is stored as float32 in .tflite). */
  readonly scale: number;
  readonly zeroPoint: number;
}

export type DenseActivation = 'relu' | 'linear';

/** A float Dense layer; `activation` is what is fused into FULLY_CONNECTED. */
export interface FloatDense {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  /** [outputSize][inputSize], row-major. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  readonly activation: DenseActivation;
}

/** Flatten -> Dense... -> (optional) softmax, in float32. */
export interface FloatModel {
  readonly kind: 'float32';
  readonly name: string;
  readonly classNames: readonly string[];
  /** Shape of one input sample without the batch dimension, e.g. [28, 28]. */
  readonly inputShape: readonly number[];
  /** True when the float model divides pixels by 255 before the first layer. */
  readonly normalized: boolean;
  readonly layers: readonly FloatDense[];
  /** False for a logits-only model (no SOFTMAX at the end). */
  readonly softmax: boolean;
}

/** One int8 FULLY_CONNECTED with its tensors' quantization. */
export interface Int8Dense {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  /** [outputSize][inputSize], row-major, symmetric (zero point 0), in [-127, 127]. */
  readonly weights: Int8Array;
  /** Length 1 (per-tensor) or outputSize (per-channel, quantized dimension 0). */
  readonly weightScales: Float32Array;
  /** int32, scale inputScale * weightScale[c], zero point 0. */
  readonly bias: Int32Array;
  readonly input: QuantParams;
  readonly output: QuantParams;
  readonly activation: DenseActivation;
}

/** A full-integer model: int8 in, FULLY_CONNECTED layers, optional int8 SOFTMAX out. */
export interface Int8Model {
  readonly kind: 'int8';
  readonly name: string;
  readonly classNames: readonly string[];
  readonly inputShape: readonly number[];
  /** Quantization of the model input; equals layers[0].input. */
  readonly input: QuantParams;
  readonly layers: readonly Int8Dense[];
  /** Output quantization of the SOFTMAX (scale 1/256, zero point -128), or null for logits-only. */
  readonly softmax: { readonly output: QuantParams; readonly beta: number } | null;
}

export type AnyModel = FloatModel | Int8Model;

/** The ten Fashion-MNIST classes, in label order. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
