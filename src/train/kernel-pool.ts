/**
 * A second thread for the dense kernels: a worker_threads Worker that instantiates the
 * same compiled kernels on the same shared memory and runs the calls it is handed, so a
 * large product is computed half here, half there (dense-kernels.ts splits it by rows).
 *
 * Hand-over is through a small SharedArrayBuffer with Atomics (no message per call): the
 * caller writes the kernel and its arguments, bumps a sequence number and notifies; the
 * worker runs the call, publishes the sequence number it finished, and notifies back.
 * The worker's code is a plain script evaluated in the Worker (the TypeScript loader is
 * not there), and the worker is unref'd: a stepper never disposed cannot hold the
 * process open.
 */
import { Worker } from 'node:worker_threads';
import { KERNEL_NAMES, type KernelHelper, type KernelName } from './dense-kernels.ts';

// Control words: 0 job sequence, 1 kernel index (-1: quit), 2 argument count, 3 sequence done, 4 status (0 ok).
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, names } = workerData;
const ctl = new Int32Array(control, 0, 8);
const args = new Float64Array(control, 32, 16);
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
let seen = 0;
for (;;) {
  Atomics.wait(ctl, 0, seen);
  seen = Atomics.load(ctl, 0);
  const f = ctl[1];
  if (f < 0) break;
  let status = 0;
  try {
    kernels[names[f]](...args.subarray(0, ctl[2]));
  } catch {
    status = 1;
  }
  ctl[4] = status;
  Atomics.store(ctl, 3, seen);
  Atomics.notify(ctl, 3);
}
`;

/** How long a call may take on the worker before we give up on it (a loaded machine is slow, not this slow). */
const WAIT_MS = 60_000;

export class KernelPool implements KernelHelper {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly worker: Worker;
  private seq = 0;
  /** Calls handed to the worker so far. */
  calls = 0;

  /** Infinity turns splitting off (the stepper does, when one thread proves faster). */
  minWork: number;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, minWork: number) {
    this.minWork = minWork;
    const control = new SharedArrayBuffer(32 + 16 * 8);
    this.ctl = new Int32Array(control, 0, 8);
    this.args = new Float64Array(control, 32, 16);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, names: KERNEL_NAMES } });
    this.worker.unref();
  }

  start(name: KernelName, args: readonly number[]): void {
    this.args.set(args);
    this.ctl[1] = KERNEL_NAMES.indexOf(name);
    this.ctl[2] = args.length;
    this.seq = Atomics.add(this.ctl, 0, 1) + 1;
    Atomics.notify(this.ctl, 0);
    this.calls++;
  }

  wait(): void {
    for (;;) {
      const done = Atomics.load(this.ctl, 3);
      if (done === this.seq) break;
      if (Atomics.wait(this.ctl, 3, done, WAIT_MS) === 'timed-out') {
        throw new Error(`kernel worker: no answer in ${WAIT_MS / 1000} s`);
      }
    }
    if (this.ctl[4] !== 0) throw new Error('kernel worker: a kernel call failed');
  }

  /** Stops the worker (it exits its loop, then is terminated). */
  close(): void {
    this.ctl[1] = -1;
    Atomics.add(this.ctl, 0, 1);
    Atomics.notify(this.ctl, 0);
    void this.worker.terminate();
  }
}
