/**
 * Compiles the host C test programs (firmware/tests/*.c) with gcc against the
 * portable core and the host board (firmware/boards/host), into a temp folder
 * unless told otherwise. Strict: -std=c11 -Wall -Wextra -Werror.
 */
import { mkdtemp } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIRMWARE_DIR } from './paths.ts';
import { runTool } from './toolchain.ts';

/** Arena of the host kernel test; scripts/golden-vectors.ts builds its "too small" case from it. */
export const HOST_TEST_ARENA_BYTES = 16384;

export const HOST_CFLAGS: readonly string[] = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O2', '-g'];

export interface HostTestPrograms {
  outDir: string;
  /** kernel_test <kernels.txt> */
  kernelTest: string;
  /** protocol_test <protocol.txt> */
  protocolTest: string;
}

function cIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));
}

/** Builds both test programs (in parallel); throws ToolError with gcc's stderr. */
export async function buildHostTests(options: { outDir?: string; cc?: string } = {}): Promise<HostTestPrograms> {
  const cc = options.cc ?? 'gcc';
  const outDir = options.outDir ?? (await mkdtemp(join(tmpdir(), 'tinyml-host-')));
  const fw = FIRMWARE_DIR;
  const includes = ['include', 'core', 'boards/host', 'tests'].map((d) => `-I${join(fw, d)}`);
  const core = cIn(join(fw, 'core'));
  const kernels = cIn(join(fw, 'core', 'kernels'));
  const hal = join(fw, 'boards', 'host', 'hal.c');
  const kernelTest = join(outDir, 'kernel_test');
  const protocolTest = join(outDir, 'protocol_test');
  await Promise.all([
    runTool(
      cc,
      [...HOST_CFLAGS, `-DTML_ARENA_BYTES=${HOST_TEST_ARENA_BYTES}u`, ...includes, join(fw, 'tests', 'kernel_test.c'),
        ...core.filter((f) => /(model|runtime_native)\.c$/.test(f)), ...kernels, hal, '-lm', '-o', kernelTest],
      'compiling firmware/tests/kernel_test.c',
    ),
    runTool(
      cc,
      [...HOST_CFLAGS, ...includes, join(fw, 'tests', 'protocol_test.c'), ...core, ...kernels, hal, '-lm', '-o', protocolTest],
      'compiling firmware/tests/protocol_test.c',
    ),
  ]);
  return { outDir, kernelTest, protocolTest };
}
