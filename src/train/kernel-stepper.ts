/**
 * The fast dense stepper: the whole step runs in our WebAssembly SIMD kernels
 * (dense-kernels.ts) on one memory this stepper owns and sizes once, so a step makes no
 * allocation, no tensor and no framework call. TensorFlow.js only built the model.
 *
 * Every size is padded to a multiple of 4 (batch, hidden units, input, classes). Padded
 * weights start at zero and stay there, since their gradients are zero; padded batch
 * columns get zero loss gradient. Layout on the memory, per layer: kernel [out][in] with
 * its Adam moments, the bias, the output activations feature-major [out][np] and
 * sample-major [np][out] (the next layer's kernel gradient reads that one), and the
 * gradient at the layer's output [out][np]; plus the input batch in both layouts.
 */
import { compileDenseKernels, denseKernels, type DenseKernels } from './dense-kernels.ts';
import { KernelPool } from './kernel-pool.ts';
import { adamAlpha, adamUpdate, rowSums, softmaxCrossEntropy, transpose, type AdamConfig, type StepResult } from './dense-math.ts';
import type { DenseStepper, DenseWeights } from './dense-step.ts';

const pad4 = (n: number) => Math.ceil(n / 4) * 4;

/** The kernels are unrolled across the batch: past this, their code grows for little gain (the array stepper takes over). */
const MAX_BATCH = 512;

/** A float32 array at a byte address on the memory. */
interface Buf {
  readonly at: number;
  readonly f: Float32Array;
}

interface KernelLayer {
  readonly inSize: number;
  readonly outSize: number;
  readonly inP: number;
  readonly outP: number;
  readonly relu: boolean;
  readonly w: Buf; // [outP][inP]
  readonly m: Buf;
  readonly v: Buf;
  readonly bias: Buf; // [outP]
  readonly mB: Float32Array;
  readonly vB: Float32Array;
  readonly gB: Float32Array;
  readonly z: Buf; // output, [outP][np]
  readonly zt: Buf | undefined; // output, [np][outP]; hidden layers only
  readonly dz: Buf; // d(loss)/d(pre-activation output), [outP][np]
}

export class KernelStepper implements DenseStepper {
  private readonly layers: KernelLayer[];
  private readonly x: Buf; // [inP][np]
  private readonly xt: Buf; // [np][inP]
  private steps = 0;
  private split = 0;
  private readonly chooser: SplitChooser | undefined;

  private constructor(
    private readonly np: number, private readonly adam: AdamConfig,
    private readonly kernels: DenseKernels, private readonly pool: KernelPool | undefined, adaptive: boolean, alloc: (floats: number) => Buf, sizes: readonly number[], weights: readonly DenseWeights[],
  ) {
    this.chooser = pool && adaptive ? new SplitChooser(pool.minWork) : undefined;
    const inP0 = pad4(sizes[0]!);
    this.x = alloc(inP0 * np);
    this.xt = alloc(np * inP0);
    this.layers = weights.map((wt, l) => {
      const inSize = sizes[l]!;
      const outSize = sizes[l + 1]!;
      const inP = pad4(inSize);
      const outP = pad4(outSize);
      const hidden = l < weights.length - 1;
      const layer: KernelLayer = {
        inSize, outSize, inP, outP, relu: hidden,
        w: alloc(outP * inP), m: alloc(outP * inP), v: alloc(outP * inP), bias: alloc(outP),
        mB: new Float32Array(outP), vB: new Float32Array(outP), gB: new Float32Array(outP),
        z: alloc(outP * np), zt: hidden ? alloc(np * outP) : undefined, dz: alloc(outP * np),
      };
      transpose(wt.kernel, inSize, outSize, layer.w.f, outSize, inP);
      layer.bias.f.set(wt.bias);
      return layer;
    });
  }

  /**
   * undefined when this engine has no WebAssembly SIMD or the batch is over MAX_BATCH. With threads = 2 (and shared
   * wasm memory in this engine), products of at least `splitWork` multiply-adds run half
   * on a worker thread.
   */
  static create(
    sizes: readonly number[], weights: readonly DenseWeights[], adam: AdamConfig, batchSize: number,
    threads: number | 'auto', splitWork: number,
  ): KernelStepper | undefined {
    const np = pad4(batchSize);
    if (np > MAX_BATCH) return undefined;
    const sz = sizes.map(pad4);
    let floats = 2 * sz[0]! * np;
    for (let l = 1; l < sz.length; l++) floats += 3 * sz[l]! * sz[l - 1]! + sz[l]! + 3 * sz[l]! * np + 4 * 4;
    const bytes = 4 * floats + 64 * (3 * sizes.length + 2);
    const pages = Math.ceil(bytes / 65536) + 1;
    const shared = threads === 'auto' || threads > 1 ? compileDenseKernels(np, true) : undefined;
    const memory = new WebAssembly.Memory(shared ? { initial: pages, maximum: pages, shared: true } : { initial: pages });
    const pool = shared ? new KernelPool(shared, memory, splitWork) : undefined;
    try {
      const kernels = denseKernels(memory, np, pool);
      if (!kernels) {
        pool?.close();
        return undefined;
      }
      let top = 16;
      const alloc = (count: number): Buf => {
        const at = top;
        top += Math.ceil((count * 4) / 16) * 16;
        if (top > memory.buffer.byteLength) throw new Error('kernel stepper: memory sized too small');
        return { at, f: new Float32Array(memory.buffer, at, count) };
      };
      return new KernelStepper(np, adam, kernels, pool, threads === 'auto', alloc, sizes, weights);
    } catch (err) {
      pool?.close();
      throw err;
    }
  }

  weights(): DenseWeights[] {
    return this.layers.map((l) => ({
      kernel: transpose(l.w.f, l.outSize, l.inSize, new Float32Array(l.inSize * l.outSize), l.inP, l.outSize),
      bias: l.bias.f.slice(0, l.outSize),
    }));
  }

  get threads(): number {
    return this.pool ? 2 : 1;
  }

  get splitSteps(): number {
    return this.split;
  }

  dispose(): void {
    this.pool?.close();
  }

  step(input: Float32Array, labels: ArrayLike<number>, n: number): StepResult {
    const { pool, chooser } = this;
    const calls = pool?.calls;
    if (chooser) chooser.next(pool!);
    const t = performance.now();
    const result = this.run(input, labels, n);
    chooser?.record(performance.now() - t);
    if (pool && pool.calls !== calls) this.split++;
    return result;
  }

  private run(input: Float32Array, labels: ArrayLike<number>, n: number): StepResult {
    const { np, kernels, layers } = this;
    if (!(n >= 1 && n <= np)) throw new RangeError(`batch of ${n} samples, this stepper takes 1..${np}`);
    const inSize = layers[0]!.inSize;
    const inP = layers[0]!.inP;
    const xt = this.xt.f;
    if (inP === inSize) xt.set(input.subarray(0, n * inSize));
    else for (let k = 0; k < n; k++) xt.set(input.subarray(k * inSize, (k + 1) * inSize), k * inP);
    xt.fill(0, n * inP);
    kernels.transpose(this.xt.at, this.x.at, np, inP);

    let a = this.x;
    for (const layer of layers) {
      kernels.forward(layer.w.at, a.at, layer.bias.at, layer.z.at, layer.outP, layer.inP, layer.relu);
      if (layer.zt) kernels.transpose(layer.z.at, layer.zt.at, layer.outP, np);
      a = layer.z;
    }
    const last = layers[layers.length - 1]!;
    const result = softmaxCrossEntropy(last.z.f, labels, last.outSize, n, np, last.dz.f);

    const alpha = adamAlpha(this.adam, ++this.steps);
    const { beta1, beta2, epsilon } = this.adam;
    for (let l = layers.length - 1; l >= 0; l--) {
      const layer = layers[l]!;
      const below = l > 0 ? layers[l - 1]! : undefined;
      // The input gradient reads this layer's kernel before Adam changes it.
      if (below) kernels.backward(layer.w.at, layer.dz.at, below.z.at, below.dz.at, layer.outP, layer.inP);
      const xtIn = below ? below.zt! : this.xt;
      kernels.gradAdam(layer.dz.at, xtIn.at, layer.w.at, layer.m.at, layer.v.at, layer.outP, layer.inP, alpha, beta1, beta2, epsilon);
      adamUpdate(layer.bias.f, rowSums(layer.dz.f, layer.outP, np, np, layer.gB), layer.mB, layer.vB, alpha, beta1, beta2, epsilon);
    }
    return result;
  }
}

/**
 * Picks, as training goes, whether the large products are split with the worker: a
 * window of steps on two threads, one on one, then the faster of the two for a stretch,
 * and measure again. Whether the second thread helps depends on what else the machine
 * is running, which changes; results are the same bit for bit either way.
 */
class SplitChooser {
  private static readonly WINDOW = 16;
  private static readonly STRETCH = 32 * SplitChooser.WINDOW;
  private step = 0;
  private twoMs = 0;
  private oneMs = 0;
  private useTwo = true;

  constructor(private readonly splitWork: number) {}

  /** Turns splitting on or off for the coming step. */
  next(pool: KernelPool): void {
    const { WINDOW, STRETCH } = SplitChooser;
    const at = this.step % (2 * WINDOW + STRETCH);
    const two = at < WINDOW ? true : at < 2 * WINDOW ? false : this.useTwo;
    pool.minWork = two ? this.splitWork : Infinity;
  }

  record(ms: number): void {
    const { WINDOW, STRETCH } = SplitChooser;
    const at = this.step % (2 * WINDOW + STRETCH);
    // The first step of each window pays for the switch; it is left out of the comparison.
    if (at > 0 && at < WINDOW) this.twoMs += ms;
    else if (at > WINDOW && at < 2 * WINDOW) this.oneMs += ms;
    if (at === 2 * WINDOW - 1) {
      this.useTwo = this.twoMs < this.oneMs;
      this.twoMs = 0;
      this.oneMs = 0;
    }
    this.step++;
  }
}
