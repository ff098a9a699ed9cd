/**
 * Boots firmware in QEMU's Arm MPS2-AN386 (Cortex-M4) and hands back the pty its
 * UART0 is connected to, so the host talks to the emulator exactly as to a board:
 * through node-serialport on a real tty.
 *
 * -icount shift=0 makes the guest's cycle counter count executed instructions
 * (deterministic, independent of host load) while running as fast as the host
 * can (align=off). sleep=on lets the vCPU really sleep while the firmware waits
 * for input in WFI (hal_idle), so QEMU's main loop, which hands the UART one
 * host byte per iteration, has the CPU; with sleep=off QEMU would instead jump
 * virtual time to the next timer (SysTick) and wake the vCPU again at once.
 * Virtual time only moves with real time while the vCPU sleeps, never inside an
 * inference, so instruction counts are unchanged. -nographic -monitor none
 * -serial pty sends serial0 to a new pty and nothing to stdio.
 *
 * QEMU is stopped by stop(), and killed if this process exits or gets
 * SIGINT/SIGTERM/SIGHUP (the handler kills QEMU, then re-raises the signal when
 * no other handler is installed, so Ctrl-C still ends the program).
 *
 * No handler runs on SIGKILL (or a crash), so QEMU is started under util-linux's
 * `setpriv --pdeathsig KILL`: the kernel sends it SIGKILL when the thread that
 * forked it exits. Node forks from the thread that calls startQemu (the main
 * thread here: it ends only with the process; from a worker_thread QEMU would
 * die with that thread). setpriv execs QEMU, so the pid is QEMU's own.
 *
 * QEMU is also pinned to one CPU (util-linux's `taskset`, which execs setpriv).
 * Every host byte on the UART is a handoff between QEMU's main-loop thread and
 * its vCPU thread (the CMSDK UART holds one byte); on two CPUs each handoff is
 * a cross-CPU wakeup, on one it is a plain context switch, and the link moves
 * about twice the bytes per second (npm run bench, validation section, measured
 * 41 -> 91 samples/s). Each QEMU takes one of the CPUs this process may use, in
 * turn, so several emulators spread out.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ToolError, UsageError } from '../errors.ts';

export const QEMU_BINARY = 'qemu-system-arm';
export const QEMU_MACHINE = 'mps2-an386';
/** Sets the parent-death signal, then execs its command (util-linux, essential on Debian). */
export const SETPRIV_BINARY = 'setpriv';
/** Runs its command pinned to given CPUs (util-linux). */
export const TASKSET_BINARY = 'taskset';

export interface QemuOptions {
  /** Firmware ELF to load with -kernel. */
  readonly elf: string;
  /** Executable; default qemu-system-arm from PATH. */
  readonly qemu?: string;
  readonly machine?: string;
  /** How long QEMU may take to report its pty; default 10 s. */
  readonly startTimeoutMs?: number;
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface QemuExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
}

export interface QemuInstance {
  /** /dev/pts/N connected to the guest's UART0. */
  readonly ptyPath: string;
  readonly pid: number;
  readonly args: readonly string[];
  /** Everything QEMU wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves when QEMU has exited, for whatever reason. */
  readonly exited: Promise<QemuExit>;
  /** Whether QEMU is still running. */
  readonly running: boolean;
  /** Stops QEMU (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

/** The -icount suboptions (see the top of this file). */
export const QEMU_ICOUNT = 'shift=0,align=off,sleep=on';

/** The arguments for booting `elf`; exported for tests and for printing. */
export function qemuArgs(elf: string, machine = QEMU_MACHINE, extra: readonly string[] = []): string[] {
  return ['-M', machine, '-icount', QEMU_ICOUNT, '-nographic', '-monitor', 'none', '-serial', 'pty', '-kernel', elf, ...extra];
}

/** The pty path in QEMU's "char device redirected to /dev/pts/N (label serial0)" line, or null. */
export function parsePtyPath(output: string, label = 'serial0'): string | null {
  const re = /char device redirected to (\S+) \(label ([^)]+)\)/g;
  for (const m of output.matchAll(re)) if (m[2] === label) return m[1]!;
  return null;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The executable `name` resolves to on `path` (a name with a slash is taken as it is), or null. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  const candidates = name.includes('/') ? [name] : path.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The command line that runs QEMU so that it dies with this process: setpriv
 * and QEMU resolved to absolute paths first (setpriv would report a missing
 * QEMU only as its own exit code 127).
 * @throws ToolError naming the missing program and its Debian package
 */
export function qemuCommand(
  bin: string,
  args: readonly string[],
  env?: Readonly<Record<string, string | undefined>>,
  cpu: number = nextQemuCpu(),
): { file: string; args: string[] } {
  const qemu = findExecutable(bin, (env ?? process.env).PATH ?? '');
  if (!qemu) throw new ToolError(`${bin} not found: install it with 'sudo apt-get install qemu-system-arm'`, bin, '');
  const utilLinux = (name: string, why: string): string => {
    const path = findExecutable(name) ?? findExecutable(name, '/usr/bin:/bin');
    if (!path) throw new ToolError(`${name} not found (${why}): install it with 'sudo apt-get install util-linux'`, name, '');
    return path;
  };
  const setpriv = utilLinux(SETPRIV_BINARY, 'it keeps QEMU from outliving a killed process');
  const taskset = utilLinux(TASKSET_BINARY, "it keeps QEMU's threads on one CPU");
  return { file: taskset, args: ['--cpu-list', String(cpu), setpriv, '--pdeathsig', 'KILL', '--', qemu, ...args] };
}

/** The CPUs this process may run on (Cpus_allowed_list of /proc/self/status), else 0..n-1. */
export function allowedCpus(status: string | null = readProcStatus()): number[] {
  const list = status?.match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1];
  const cpus: number[] = [];
  for (const part of list?.split(',') ?? []) {
    const [lo, hi] = part.split('-').map(Number);
    if (!Number.isInteger(lo)) continue;
    for (let c = lo!; c <= (Number.isInteger(hi) ? hi! : lo!); c++) cpus.push(c);
  }
  return cpus.length > 0 ? cpus : Array.from({ length: Math.max(1, availableParallelism()) }, (_, i) => i);
}

function readProcStatus(): string | null {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return null;
  }
}

let qemuStarted = 0;
/** One of the allowed CPUs, in turn from a start that depends on the pid, so emulators of several processes spread out too. */
function nextQemuCpu(): number {
  const cpus = allowedCpus();
  return cpus[(process.pid + qemuStarted++) % cpus.length]!;
}

/**
 * Starts QEMU and waits until it reports the pty.
 * @throws ToolError when qemu-system-arm is missing (with the apt-get fix), exits
 *         early or reports no pty in time (with its output); UsageError when the
 *         ELF does not exist
 */
export async function startQemu(options: QemuOptions): Promise<QemuInstance> {
  const bin = options.qemu ?? QEMU_BINARY;
  if (!existsSync(options.elf)) throw new UsageError(`firmware ELF ${options.elf} does not exist`);
  const args = qemuArgs(options.elf, options.machine, options.extraArgs);
  const command = qemuCommand(bin, args, options.env);
  let output = '';
  let child: ResultPromise<{ buffer: false; cleanup: false; reject: false; stdin: 'ignore' }>;
  try {
    child = execa(command.file, command.args, {
      buffer: false,
      cleanup: false,
      reject: false,
      stdin: 'ignore',
      env: options.env,
      extendEnv: options.env === undefined,
    });
  } catch (err) {
    throw new ToolError(`cannot start ${bin}: ${(err as Error).message}`, bin, '', { cause: err });
  }

  let running = true;
  const killNow = () => {
    if (running) child.kill('SIGKILL');
  };
  const onSignal = (sig: NodeJS.Signals) => {
    killNow();
    removeHandlers();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const removeHandlers = () => {
    process.off('exit', killNow);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  process.on('exit', killNow);
  for (const s of SIGNALS) process.on(s, onSignal);

  const exited: Promise<QemuExit> = child.then(
    (r) => {
      running = false;
      removeHandlers();
      return { exitCode: r.exitCode, signal: r.signal };
    },
    (err: unknown) => {
      running = false;
      removeHandlers();
      const e = err as { exitCode?: number; signal?: string };
      return { exitCode: e.exitCode, signal: e.signal };
    },
  );

  const stop = async () => {
    if (running) {
      child.kill('SIGTERM');
      const t = setTimeout(() => killNow(), 2000);
      await exited;
      clearTimeout(t);
    }
    await exited;
  };

  const ptyPath = await new Promise<string>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, path?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(path!);
    };
    const onChunk = (chunk: Buffer) => {
      output += chunk.toString();
      const path = parsePtyPath(output);
      if (path) finish(null, path);
    };
    child.stdout?.on('data', onChunk);
    child.stderr?.on('data', onChunk);
    const timer = setTimeout(() => {
      finish(new ToolError(`${bin} did not report its serial pty within ${options.startTimeoutMs ?? 10_000} ms`, bin, output));
    }, options.startTimeoutMs ?? 10_000);
    child.catch(() => undefined);
    void (child as Promise<unknown>).then(
      (r) => {
        const res = r as { failed?: boolean; code?: string; exitCode?: number; signal?: string; message?: string; cause?: unknown };
        if (res.code === 'ENOENT' || /ENOENT/.test(String(res.message ?? ''))) {
          finish(new ToolError(`${bin} not found: install it with 'sudo apt-get install qemu-system-arm'`, bin, '', { cause: res.cause }));
        } else {
          const how = res.signal ? `on signal ${res.signal}` : `with exit code ${res.exitCode}`;
          finish(new ToolError(`${bin} exited ${how} before connecting its serial port (${args.join(' ')})`, bin, output));
        }
      },
      () => undefined,
    );
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });

  return {
    ptyPath,
    pid: child.pid ?? -1,
    args,
    output: () => output,
    exited,
    get running() {
      return running;
    },
    stop,
  };
}
