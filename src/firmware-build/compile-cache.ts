/**
 * Incremental compiles: an object is reused when it was built by the same
 * command and is newer than its source and every header it included (the
 * compiler's own -MMD dependency list). TFLM is some 150 files; without this a
 * one-line model change would recompile all of it (12 minutes on 2 cores).
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';

/** The gcc flags that make it write `<obj>.d`. */
export function dependencyFlags(obj: string): string[] {
  return ['-MMD', '-MF', `${obj}.d`];
}

function commandHash(command: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(command)).digest('hex');
}

/** Files named in a Make-style dependency file (`obj: a.c b.h \` ...). */
export function parseDependencies(text: string): string[] {
  const body = text.replace(/\\\r?\n/g, ' ');
  const colon = body.indexOf(': ');
  if (colon < 0) return [];
  return body
    .slice(colon + 2)
    .split(/\s+/)
    .filter((f) => f && !f.endsWith(':'));
}

/** True when `obj` exists, came from `command`, and no dependency changed since. */
export async function isUpToDate(obj: string, command: readonly string[]): Promise<boolean> {
  try {
    if ((await readFile(`${obj}.cmd`, 'utf8')) !== commandHash(command)) return false;
    const built = (await stat(obj)).mtimeMs;
    const deps = parseDependencies(await readFile(`${obj}.d`, 'utf8'));
    if (deps.length === 0) return false;
    for (const dep of deps) if ((await stat(dep)).mtimeMs > built) return false;
    return true;
  } catch {
    return false;
  }
}

/** Records the command an object was just built with. */
export async function recordCommand(obj: string, command: readonly string[]): Promise<void> {
  await writeFile(`${obj}.cmd`, commandHash(command));
}
