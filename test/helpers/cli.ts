/** Running the real `tinyml` CLI as a user does, in a child process. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tinyml.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tinyml(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A failed command prints exactly one `error:` line naming the problem, and exits non-zero. */
export function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got success: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(lines.length, 1, `one error line expected, stderr was:\n${r.stderr}`);
  assert.match(lines[0], pattern);
}
