/** Deterministic random models and images for tests that need no training. */
import type { FloatModel, Int8Model } from '../../src/model/types.ts';
import { FASHION_MNIST_CLASSES } from '../../src/model/types.ts';
import { mulberry32 } from '../../src/util/prng.ts';


export function randomFloatModel(hidden: number[], seed: number, normalized = true): FloatModel {
  const rand = mulberry32(seed);
  const sizes = [784, ...hidden, 10];
  const layers = sizes.slice(1).map((out, i) => {
    const inp = sizes[i];
    const limit = Math.sqrt(6 / (inp + out)) * (normalized ? 1 : 1 / 255);
    return {
      name: `dense${i === 0 ? '' : `_${i}`}`,
      inputSize: inp,
      outputSize: out,
      weights: Float32Array.from({ length: inp * out }, () => (rand() * 2 - 1) * limit),
      bias: Float32Array.from({ length: out }, () => (rand() * 2 - 1) * 0.1),
      activation: i === sizes.length - 2 ? ('linear' as const) : ('relu' as const),
    };
  });
  return { kind: 'float32', name: 'random', classNames: FASHION_MNIST_CLASSES, inputShape: [28, 28], normalized, layers, softmax: true };
}

export function randomImages(count: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const out = new Uint8Array(count * 784);
  for (let i = 0; i < out.length; i++) out[i] = rand() < 0.5 ? 0 : Math.floor(rand() * 256);
  // At least one full-scale pixel, as real images have.
  out[0] = 255;
  return out;
}


/**
 * A model folder holding only the int8 artifacts (model_int8.tflite,
 * model_data.h/.cc) of a random 784-hidden-10 model: what build, budget and
 * sketch tests need, without training. CI has no models/ folder.
 */
export async function writeInt8ModelFolder(dir: string, hidden: number[], seed = 5): Promise<{ model: Int8Model; bytes: Uint8Array }> {
  const { quantizeModel } = await import('../../src/quantize/quantize.ts');
  const { writeTflite } = await import('../../src/tflite/writer.ts');
  const { renderCArray } = await import('../../src/export/c-array.ts');
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  const model = quantizeModel(randomFloatModel(hidden, seed), { images: randomImages(20, seed + 1), count: 20 });
  const bytes = writeTflite(model);
  await writeFile(join(dir, 'model_int8.tflite'), bytes);
  const { header, source } = renderCArray(bytes, model, {});
  await writeFile(join(dir, 'model_data.h'), header);
  await writeFile(join(dir, 'model_data.cc'), source);
  return { model, bytes };
}
