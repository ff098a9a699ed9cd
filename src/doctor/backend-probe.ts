/**
 * Run as a child process by `tinyml doctor` (node --import tsx backend-probe.ts):
 * initializes the TensorFlow.js backend exactly as training does
 * (src/train/backend.ts) and prints one JSON line, a BackendProbe. A child, so
 * that whatever tfjs-node's native library writes to stderr while loading is
 * captured instead of landing in the doctor's table, and the doctor's own
 * process never holds TensorFlow.
 */
import { initBackend } from '../train/backend.ts';
import type { BackendProbe } from './types.ts';

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

const result: { -readonly [K in keyof BackendProbe]: BackendProbe[K] } = { backend: null };
try {
  await initBackend('tensorflow');
} catch (err) {
  result.tensorflowError = firstLine(err);
}
try {
  result.backend = await initBackend();
} catch (err) {
  result.error = firstLine(err);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
