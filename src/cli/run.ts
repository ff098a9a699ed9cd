/**
 * Process-level error handling shared by every command: a TinymlError becomes
 * one `error: ...` line on stderr and its exit code; anything else is a bug and
 * keeps its stack.
 */
import { TinymlError } from '../errors.ts';

export function reportError(err: unknown): number {
  if (err instanceof TinymlError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (process.env.TINYML_DEBUG && err.cause) console.error(err.cause);
    return err.exitCode;
  }
  console.error(err);
  return 70;
}
