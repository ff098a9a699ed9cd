/**
 * Picks the TensorFlow.js backend: native libtensorflow through the optional
 * @tensorflow/tfjs-node when it loads, else WebAssembly (the .wasm binaries are
 * read from the installed @tensorflow/tfjs-backend-wasm/dist), else pure JS.
 *
 * tfjs's production mode is switched on, which silences its console.warn chatter,
 * including the cpu backend's "Hi, looks like you are running TensorFlow.js in
 * Node.js" banner. Debug-mode checks are off in production mode anyway.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { UsageError } from '../errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

async function tryTensorflow(): Promise<void> {
  // A computed specifier keeps tsc from requiring the optional package's types.
  const specifier = '@tensorflow/tfjs-node';
  await import(specifier);
  if (!(await tf.setBackend('tensorflow'))) throw new Error("backend 'tensorflow' did not initialize");
}

let wasmPathsSet = false;

async function tryWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    const require = createRequire(import.meta.url);
    // Resolves to .../tfjs-backend-wasm/dist/tf-backend-wasm.node.js, next to the .wasm files.
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(`${dist}/`);
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend('wasm'))) throw new Error("backend 'wasm' did not initialize");
}

async function tryCpu(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error("backend 'cpu' did not initialize");
}

const loaders: Record<BackendName, () => Promise<void>> = { tensorflow: tryTensorflow, wasm: tryWasm, cpu: tryCpu };

/**
 * Initializes a backend and returns its name (as tf.getBackend() reports it).
 * With `preferred`, only that one is tried and failing is a UsageError naming why;
 * without, tensorflow -> wasm -> cpu, first that works.
 */
export async function initBackend(preferred?: BackendName): Promise<string> {
  tf.enableProdMode();
  if (preferred !== undefined) {
    if (!BACKEND_NAMES.includes(preferred)) {
      throw new UsageError(`unknown backend '${preferred}': use one of ${BACKEND_NAMES.join(', ')}`);
    }
    if (tf.getBackend() === preferred) return preferred;
    try {
      await loaders[preferred]();
    } catch (err) {
      const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
      const hint = preferred === 'tensorflow' ? ' (the optional @tensorflow/tfjs-node is not installed or its native library failed to load)' : '';
      throw new UsageError(`backend '${preferred}' is not available here${hint}: ${why}`, { cause: err });
    }
    return tf.getBackend();
  }
  for (const name of BACKEND_NAMES) {
    try {
      await loaders[name]();
      return tf.getBackend();
    } catch {
      // fall through to the next, slower backend
    }
  }
  throw new UsageError('no TensorFlow.js backend could be initialized (tried tensorflow, wasm, cpu)');
}
