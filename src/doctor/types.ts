/**
 * What every doctor check returns, and the probes it reads the machine through.
 * The checks never touch the machine directly: the CLI passes realProbes(), and
 * the tests pass the same probes pointed at a fake /sys, /proc, /dev and /etc in
 * a temp folder and at fake executables on PATH.
 */
import type { SerialPortInfo } from '../device/ports.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** Short and stable ("node", "debian gcc", "port /dev/ttyACM0"). */
  readonly name: string;
  /** fail: the project's own commands will not work; warn: only some (real boards), or slower. */
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly detail: string;
  /** One line: what to run or do, for warn and fail. */
  readonly fix?: string;
}

export interface DoctorReport {
  /** False when any check failed (warnings do not count). */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

export interface RunResult {
  /** null when the executable is missing or was killed. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The executable is not on PATH (ENOENT). */
  readonly notFound: boolean;
}

export interface RunOptions {
  /** Added to the probes' env. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Killed after this long (default 20 s). */
  readonly timeoutMs?: number;
}

export interface FileInfo {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

/** Which TensorFlow.js backend initBackend() picks, and why tfjs-node is not the one. */
export interface BackendProbe {
  /** 'tensorflow' | 'wasm' | 'cpu', or null when none initialized. */
  readonly backend: string | null;
  /** initBackend('tensorflow')'s error, when tfjs-node did not load. */
  readonly tensorflowError?: string;
  /** initBackend()'s error, when no backend loaded, or the probe itself failed. */
  readonly error?: string;
}

export interface DoctorProbes {
  /** Runs an executable found on env.PATH, without a shell; never throws. */
  run(cmd: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** null when missing or unreadable. */
  readFile(path: string): Promise<string | null>;
  readDir(path: string): Promise<string[] | null>;
  readLink(path: string): Promise<string | null>;
  stat(path: string): Promise<FileInfo | null>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** process.versions.node. */
  readonly nodeVersion: string;
  /** The folder with package.json, package-lock.json, node_modules and scripts/. */
  readonly projectRoot: string;
  /** Where sysfs, procfs, device nodes and /etc are ('/sys', '/proc', '/dev', '/etc'). */
  readonly roots: { readonly sys: string; readonly proc: string; readonly dev: string; readonly etc: string };
  /** Folders searched for the dataset after the user cache (default: Debian's). */
  readonly dataSystemDirs: readonly string[];
  /** This process's uid (0: root opens any port) and pid (its own fds are not "another process"). */
  readonly uid: number;
  readonly pid: number;
  listPorts(): Promise<SerialPortInfo[]>;
  backend(): Promise<BackendProbe>;
}

export function ok(name: string, detail: string): CheckResult {
  return { name, status: 'ok', detail };
}
export function warn(name: string, detail: string, fix: string): CheckResult {
  return { name, status: 'warn', detail, fix };
}
export function fail(name: string, detail: string, fix: string): CheckResult {
  return { name, status: 'fail', detail, fix };
}

/** The first non-empty line of a tool's output. */
export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}
