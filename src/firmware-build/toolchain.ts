/**
 * Running the C toolchains (arm-none-eabi-*, host gcc) with execa: one place
 * that turns "not installed" into a one-line fix and a failed run into a
 * ToolError carrying the tool's stderr.
 */
import { execa, type ExecaError } from 'execa';
import { ToolError } from '../errors.ts';

/** What to tell the user when a tool is missing, by tool name prefix. */
const INSTALL_HINTS: ReadonlyArray<readonly [prefix: string, fix: string]> = [
  ['arm-none-eabi-', 'sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib'],
  ['qemu-system-arm', 'sudo apt-get install qemu-system-arm'],
  ['gcc', 'sudo apt-get install gcc'],
];

/** The apt-get line that installs `tool`. */
export function installHint(tool: string): string {
  return INSTALL_HINTS.find(([prefix]) => tool.startsWith(prefix))?.[1] ?? `install ${tool}`;
}

export function missingToolError(tool: string, cause?: unknown): ToolError {
  return new ToolError(`${tool} not found: install it with: ${installHint(tool)}`, tool, '', { cause });
}

/** Newlib (or its libstdc++ build) missing shows up as a missing header, spec file or library. */
export function isMissingNewlib(stderr: string): boolean {
  return /nano\.specs|nosys\.specs|cannot find -lc\b|cannot find -lm\b|cannot find -lstdc\+\+_nano|stdint\.h: No such file|string\.h: No such file/.test(stderr);
}

/** Runs `tool args`; resolves to stdout. Throws ToolError (with stderr) on failure. */
export async function runTool(tool: string, args: readonly string[], what: string, cwd?: string): Promise<string> {
  try {
    const r = await execa(tool, args, { cwd, all: false, stripFinalNewline: true });
    return r.stdout;
  } catch (err) {
    const e = err as ExecaError;
    if ((e as { code?: string }).code === 'ENOENT') throw missingToolError(tool, err);
    const stderr = typeof e.stderr === 'string' ? e.stderr : '';
    if (tool.startsWith('arm-none-eabi-') && isMissingNewlib(stderr)) {
      throw new ToolError(
        `${tool}: the newlib C (or C++) library for Cortex-M is missing: install it with: ${installHint(tool)}`,
        tool,
        '',
        { cause: err },
      );
    }
    throw new ToolError(`${what} failed (${tool} exited with ${e.exitCode ?? e.signal ?? 'an error'})`, tool, stderr, {
      cause: err,
    });
  }
}

/** Runs `fns` with at most `limit` in flight; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
