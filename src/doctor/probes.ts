/**
 * The real probes: child processes through execa (no shell, a time limit, never
 * throwing), reads through node:fs, the port list of src/device/ports.ts, and the
 * backend probe in a child process. Every field can be overridden, which is how
 * the tests point them at fake trees and fake executables.
 */
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { SYSTEM_DATA_DIR } from '../data/fashion-mnist.ts';
import { listPorts } from '../device/ports.ts';
import type { BackendProbe, DoctorProbes, FileInfo, RunResult } from './types.ts';

/** The repository root: src/doctor/../.. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

const RUN_TIMEOUT_MS = 20_000;

export function makeRun(env: Readonly<Record<string, string | undefined>>): DoctorProbes['run'] {
  return async (cmd, args, options = {}) => {
    const r = await execa(cmd, args, {
      reject: false,
      cwd: options.cwd,
      env: { ...env, ...options.env },
      extendEnv: false,
      stdin: 'ignore',
      timeout: options.timeoutMs ?? RUN_TIMEOUT_MS,
      stripFinalNewline: false,
    });
    const notFound = (r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(r.originalMessage ?? ''));
    return { exitCode: r.exitCode ?? null, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), notFound } satisfies RunResult;
  };
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch {
    return null;
  }
}

/** Runs backend-probe.ts in a child (same node, tsx from the project) and parses its JSON line. */
export function makeBackendProbe(projectRoot: string, run: DoctorProbes['run']): () => Promise<BackendProbe> {
  return async () => {
    const r = await run(process.execPath, ['--import', 'tsx', join(projectRoot, 'src', 'doctor', 'backend-probe.ts')], {
      cwd: projectRoot,
      // Loading TensorFlow.js takes seconds on a busy machine.
      timeoutMs: 120_000,
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      const parsed = JSON.parse(line) as BackendProbe;
      if (parsed && typeof parsed === 'object' && 'backend' in parsed) return parsed;
    } catch {
      // fall through: report what the child said
    }
    const why = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.exitCode}`).split('\n')[0];
    return { backend: null, error: `the backend probe failed: ${why}` };
  };
}

export function realProbes(overrides: Partial<DoctorProbes> = {}): DoctorProbes {
  const env = overrides.env ?? process.env;
  const projectRoot = overrides.projectRoot ?? PROJECT_ROOT;
  const run = overrides.run ?? makeRun(env);
  const roots = overrides.roots ?? { sys: '/sys', proc: '/proc', dev: '/dev', etc: '/etc' };
  return {
    run,
    readFile: (p) => orNull(readFile(p, 'utf8')),
    readDir: (p) => orNull(readdir(p)),
    readLink: (p) => orNull(readlink(p)),
    stat: async (p): Promise<FileInfo | null> => {
      const s = await orNull(stat(p));
      return s && { mode: s.mode, uid: s.uid, gid: s.gid, isFile: s.isFile(), isDirectory: s.isDirectory() };
    },
    env,
    nodeVersion: process.versions.node,
    projectRoot,
    roots,
    dataSystemDirs: [SYSTEM_DATA_DIR],
    uid: process.getuid?.() ?? -1,
    pid: process.pid,
    listPorts: () => listPorts(),
    backend: makeBackendProbe(projectRoot, run),
    ...overrides,
  };
}
