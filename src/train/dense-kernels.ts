/**
 * The arithmetic of a dense training step as WebAssembly SIMD kernels, generated for
 * one padded batch width `np` (a multiple of 4: four samples per f32x4 lane group) and
 * run on a memory the caller owns. Matrices are row-major float32; activations and
 * their gradients are feature-major ([features][np]) so that every product is a sum of
 * scalar x row-vector terms, four samples per instruction, with no horizontal sums.
 *
 *   mm*:      out[r][:] = sum_k w[r*rStride + k*kStride] * x[k][:]   (x, out: [.][np])
 *             forward (w = kernel [out][in], rStride = in*4, kStride = 4) with the bias
 *             and ReLU applied on the way out, or the input gradient (w = the same kernel
 *             read down its columns: rStride = 4, kStride = in*4) masked where the
 *             layer's input was not positive (ReLU's derivative).
 *   gradAdam: the kernel gradient g[o][i] = sum_k dz[o][k] * xt[k][i] (xt sample-major
 *             [np][in]) folded straight into Keras's Adam on w, m, v:
 *               m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  w -= alpha*m / (sqrt(v) + eps)
 *             so the gradient never goes to memory.
 *   transpose: 4x4 blocks through lane shuffles; gives the input batch and the hidden
 *             activations their other layout.
 *
 * Row counts must be multiples of 4 (ROWS), column counts of 4; all byte
 * addresses 16-aligned. float32 throughout, a multiply then an add (no fused
 * multiply-add); only the order of the sums differs from TensorFlow's kernels.
 */
import { F32, I32, V128, op, wasmModule, type WasmFunction } from './wasm-bytes.ts';

/** Rows computed together, and f32x4 accumulators per row: 4 x 2 keeps 8 in registers (a few % faster than 2 x 4 here). */
const ROWS = 4;
const TILE = 2;

type Epilogue = 'bias' | 'biasRelu' | 'mask';

/** mm(w, rStride, kStride, x, out, rows, K, extra): see the file comment; extra = bias or mask base. */
function mmFunction(fname: string, np: number, epilogue: Epilogue): WasmFunction {
  const [W, RS, KS, X, OUT, ROWSN, K, EXTRA] = [0, 1, 2, 3, 4, 5, 6, 7];
  let next = 8;
  const r0 = next++, kc = next++, xp = next++, ob = next++, eb = next++;
  const p = Array.from({ length: ROWS }, () => next++);
  const i32Locals = next - 8;
  const vectors = np / 4;
  const acc = Array.from({ length: ROWS * TILE }, () => next++);
  const s = Array.from({ length: ROWS }, () => next++);
  const xv = next++, zero = next++;
  const v128Locals = next - 8 - i32Locals;
  const rowBytes = np * 4;

  const body: number[] = [...op.zero, ...op.set(zero), ...op.i32(0), ...op.set(r0)];
  body.push(...op.block, ...op.loop);
  body.push(...op.get(r0), ...op.get(ROWSN), ...op.i32LtU, ...op.i32Eqz, ...op.brIf(1));
  // ob: this row pair's output (and mask) row; eb: its bias (or mask) base.
  body.push(...op.get(OUT), ...op.get(r0), ...op.i32(rowBytes), ...op.i32Mul, ...op.i32Add, ...op.set(ob));
  body.push(...op.get(EXTRA), ...op.get(r0), ...op.i32(epilogue === 'mask' ? rowBytes : 4), ...op.i32Mul, ...op.i32Add, ...op.set(eb));
  for (let c0 = 0; c0 < vectors; c0 += TILE) {
    const width = Math.min(TILE, vectors - c0);
    for (let r = 0; r < ROWS; r++) {
      body.push(...op.get(W), ...op.get(r0), ...op.i32(r), ...op.i32Add, ...op.get(RS), ...op.i32Mul, ...op.i32Add, ...op.set(p[r]!));
    }
    for (let a = 0; a < ROWS * width; a++) body.push(...op.get(zero), ...op.set(acc[a]!));
    body.push(...op.get(X), ...op.set(xp), ...op.get(K), ...op.set(kc));
    body.push(...op.loop);
    for (let r = 0; r < ROWS; r++) body.push(...op.get(p[r]!), ...op.loadSplat(), ...op.set(s[r]!));
    for (let j = 0; j < width; j++) {
      body.push(...op.get(xp), ...op.load((c0 + j) * 16), ...op.set(xv));
      for (let r = 0; r < ROWS; r++) {
        const a = acc[r * width + j]!;
        body.push(...op.get(a), ...op.get(s[r]!), ...op.get(xv), ...op.mul, ...op.add, ...op.set(a));
      }
    }
    for (let r = 0; r < ROWS; r++) body.push(...op.get(p[r]!), ...op.get(KS), ...op.i32Add, ...op.set(p[r]!));
    body.push(...op.get(xp), ...op.i32(rowBytes), ...op.i32Add, ...op.set(xp));
    body.push(...op.get(kc), ...op.i32(1), ...op.i32Sub, ...op.tee(kc), ...op.brIf(0), ...op.end);
    for (let r = 0; r < ROWS; r++) {
      for (let j = 0; j < width; j++) {
        const offset = r * rowBytes + (c0 + j) * 16;
        body.push(...op.get(ob), ...op.get(acc[r * width + j]!));
        if (epilogue === 'mask') {
          body.push(...op.get(eb), ...op.load(offset), ...op.get(zero), ...op.gt, ...op.and);
        } else {
          body.push(...op.get(eb), ...op.loadSplat(r * 4), ...op.add);
          if (epilogue === 'biasRelu') body.push(...op.set(xv), ...op.get(zero), ...op.get(xv), ...op.pmax);
        }
        body.push(...op.store(offset));
      }
    }
  }
  body.push(...op.get(r0), ...op.i32(ROWS), ...op.i32Add, ...op.set(r0), ...op.br(0), ...op.end, ...op.end);
  return {
    name: fname,
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [...new Array<number>(i32Locals).fill(I32), ...new Array<number>(v128Locals).fill(V128)],
    body,
  };
}

/** gradAdam(dz, xt, w, m, v, rows, cols, alpha, b1, 1-b1, b2, 1-b2, eps). */
function gradAdamFunction(np: number): WasmFunction {
  const [DZ, XT, W, M, V, ROWSN, COLS, ALPHA, B1, C1, B2, C2, EPS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const params = 13;
  let next = params;
  const r0 = next++, ci = next++, kc = next++, dp = next++, xp = next++, q = next++, colBytes = next++;
  const i32Locals = next - params;
  const acc = Array.from({ length: ROWS * TILE }, () => next++);
  const s = Array.from({ length: ROWS }, () => next++);
  const [xv, vA, vB1, vC1, vB2, vC2, vE, g, mm, vv] = Array.from({ length: 10 }, () => next++) as number[];
  const v128Locals = next - params - i32Locals;
  const rowBytes = np * 4;

  const body: number[] = [];
  for (const [from, to] of [[ALPHA, vA], [B1, vB1], [C1, vC1], [B2, vB2], [C2, vC2], [EPS, vE]] as const) {
    body.push(...op.get(from), ...op.splat, ...op.set(to!));
  }
  body.push(...op.get(COLS), ...op.i32(4), ...op.i32Mul, ...op.set(colBytes), ...op.i32(0), ...op.set(r0));
  body.push(...op.block, ...op.loop);
  body.push(...op.get(r0), ...op.get(ROWSN), ...op.i32LtU, ...op.i32Eqz, ...op.brIf(1));
  body.push(...op.i32(0), ...op.set(ci));
  // Columns TILE vectors at a time, then the rest one vector at a time.
  for (const width of [TILE, 1]) {
    body.push(...op.block, ...op.loop);
    body.push(...op.get(COLS), ...op.get(ci), ...op.i32(4 * width), ...op.i32Add, ...op.i32LtU, ...op.brIf(1));
    for (let a = 0; a < ROWS * width; a++) body.push(...op.zero, ...op.set(acc[a]!));
    body.push(...op.get(DZ), ...op.get(r0), ...op.i32(rowBytes), ...op.i32Mul, ...op.i32Add, ...op.set(dp));
    body.push(...op.get(XT), ...op.get(ci), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(xp));
    body.push(...op.i32(np), ...op.set(kc));
    body.push(...op.loop);
    for (let r = 0; r < ROWS; r++) body.push(...op.get(dp), ...op.loadSplat(r * rowBytes), ...op.set(s[r]!));
    for (let j = 0; j < width; j++) {
      body.push(...op.get(xp), ...op.load(j * 16), ...op.set(xv));
      for (let r = 0; r < ROWS; r++) {
        const a = acc[r * width + j]!;
        body.push(...op.get(a), ...op.get(s[r]!), ...op.get(xv), ...op.mul, ...op.add, ...op.set(a));
      }
    }
    body.push(...op.get(dp), ...op.i32(4), ...op.i32Add, ...op.set(dp));
    body.push(...op.get(xp), ...op.get(colBytes), ...op.i32Add, ...op.set(xp));
    body.push(...op.get(kc), ...op.i32(1), ...op.i32Sub, ...op.tee(kc), ...op.brIf(0), ...op.end);
    for (let r = 0; r < ROWS; r++) {
      body.push(...op.get(r0), ...op.i32(r), ...op.i32Add, ...op.get(COLS), ...op.i32Mul, ...op.get(ci), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.set(q));
      for (let j = 0; j < width; j++) {
        const o = j * 16;
        const at = (base: number) => [...op.get(base), ...op.get(q), ...op.i32Add];
        body.push(...op.get(acc[r * width + j]!), ...op.set(g));
        body.push(...at(M), ...op.get(vB1), ...at(M), ...op.load(o), ...op.mul, ...op.get(vC1), ...op.get(g), ...op.mul, ...op.add, ...op.tee(mm), ...op.store(o));
        body.push(...at(V), ...op.get(vB2), ...at(V), ...op.load(o), ...op.mul, ...op.get(vC2), ...op.get(g), ...op.mul, ...op.get(g), ...op.mul, ...op.add, ...op.tee(vv), ...op.store(o));
        body.push(...at(W), ...at(W), ...op.load(o), ...op.get(vA), ...op.get(mm), ...op.mul, ...op.get(vv), ...op.sqrt, ...op.get(vE), ...op.add, ...op.div, ...op.sub, ...op.store(o));
      }
    }
    body.push(...op.get(ci), ...op.i32(4 * width), ...op.i32Add, ...op.set(ci), ...op.br(0), ...op.end, ...op.end);
  }
  body.push(...op.get(r0), ...op.i32(ROWS), ...op.i32Add, ...op.set(r0), ...op.br(0), ...op.end, ...op.end);
  return {
    name: 'gradAdam',
    params: [I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32],
    locals: [...new Array<number>(i32Locals).fill(I32), ...new Array<number>(v128Locals).fill(V128)],
    body,
  };
}

/** transpose(src, dst, rows, cols): dst [cols][rows] = src [rows][cols], 4x4 blocks (both counts multiples of 4). */
function transposeFunction(): WasmFunction {
  const [SRC, DST, ROWSN, COLS] = [0, 1, 2, 3];
  let next = 4;
  const r = next++, c = next++, sp = next++, dp = next++, srcRow = next++, dstRow = next++;
  const rowv = [next++, next++, next++, next++];
  const t = [next++, next++, next++, next++];
  const body: number[] = [];
  body.push(...op.get(COLS), ...op.i32(4), ...op.i32Mul, ...op.set(srcRow), ...op.get(ROWSN), ...op.i32(4), ...op.i32Mul, ...op.set(dstRow));
  body.push(...op.i32(0), ...op.set(r), ...op.block, ...op.loop);
  body.push(...op.get(r), ...op.get(ROWSN), ...op.i32LtU, ...op.i32Eqz, ...op.brIf(1));
  body.push(...op.i32(0), ...op.set(c), ...op.block, ...op.loop);
  body.push(...op.get(c), ...op.get(COLS), ...op.i32LtU, ...op.i32Eqz, ...op.brIf(1));
  // sp = src + (r*cols + c)*4; dp = dst + (c*rows + r)*4
  body.push(...op.get(SRC), ...op.get(r), ...op.get(srcRow), ...op.i32Mul, ...op.i32Add, ...op.get(c), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(sp));
  body.push(...op.get(DST), ...op.get(c), ...op.get(dstRow), ...op.i32Mul, ...op.i32Add, ...op.get(r), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(dp));
  for (let i = 0; i < 4; i++) {
    body.push(...op.get(sp), ...op.load(), ...op.set(rowv[i]!));
    if (i < 3) body.push(...op.get(sp), ...op.get(srcRow), ...op.i32Add, ...op.set(sp));
  }
  const shuf = (a: number, b: number, lanes: readonly [number, number, number, number]) => [...op.get(a), ...op.get(b), ...op.shuffle32(lanes)];
  body.push(...shuf(rowv[0]!, rowv[1]!, [0, 4, 1, 5]), ...op.set(t[0]!), ...shuf(rowv[0]!, rowv[1]!, [2, 6, 3, 7]), ...op.set(t[1]!));
  body.push(...shuf(rowv[2]!, rowv[3]!, [0, 4, 1, 5]), ...op.set(t[2]!), ...shuf(rowv[2]!, rowv[3]!, [2, 6, 3, 7]), ...op.set(t[3]!));
  const outs = [shuf(t[0]!, t[2]!, [0, 1, 4, 5]), shuf(t[0]!, t[2]!, [2, 3, 6, 7]), shuf(t[1]!, t[3]!, [0, 1, 4, 5]), shuf(t[1]!, t[3]!, [2, 3, 6, 7])];
  outs.forEach((o, i) => {
    body.push(...op.get(dp), ...o, ...op.store());
    if (i < 3) body.push(...op.get(dp), ...op.get(dstRow), ...op.i32Add, ...op.set(dp));
  });
  body.push(...op.get(c), ...op.i32(4), ...op.i32Add, ...op.set(c), ...op.br(0), ...op.end, ...op.end);
  body.push(...op.get(r), ...op.i32(4), ...op.i32Add, ...op.set(r), ...op.br(0), ...op.end, ...op.end);
  return { name: 'transpose', params: [I32, I32, I32, I32], locals: [...new Array<number>(6).fill(I32), ...new Array<number>(8).fill(V128)], body };
}

/** Byte addresses and sizes (rows, K, cols) as described in the file comment. */
export interface DenseKernels {
  /** out[r][:] = bias[r] + sum_k w[r][k] x[k][:], then ReLU when `relu`. */
  forward(w: number, x: number, bias: number, out: number, rows: number, k: number, relu: boolean): void;
  /** dx[i][:] = (a[i][:] > 0) ? sum_o w[o][i] dz[o][:] : 0, for w [rows(out)][cols(in)]. */
  backward(w: number, dz: number, a: number, dx: number, out: number, inSize: number): void;
  /** Keras's Adam on w, m, v [rows][cols] with the gradient dz [rows][np] x xt [np][cols]. */
  gradAdam(dz: number, xt: number, w: number, m: number, v: number, rows: number, cols: number,
    alpha: number, beta1: number, beta2: number, epsilon: number): void;
  /** dst [cols][rows] = src [rows][cols]; rows and cols multiples of 4. */
  transpose(src: number, dst: number, rows: number, cols: number): void;
}

export const KERNEL_NAMES = ['mmBias', 'mmBiasRelu', 'mmMask', 'gradAdam', 'transpose'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** Another thread on the same (shared) memory that runs one kernel call while this one runs another (kernel-pool.ts). */
export interface KernelHelper {
  /** Calls of at least this many multiply-adds are split in two halves by rows. */
  readonly minWork: number;
  /** Starts `name(...args)` on the other thread; args are i32 addresses and sizes, or f32 scalars. */
  start(name: KernelName, args: readonly number[]): void;
  /** Returns when the started call is done; throws if it failed. */
  wait(): void;
}

const modules = new Map<string, WebAssembly.Module>();

/** The module's bytes for padded batch width np (tests and tools may inspect them). */
export function denseKernelBytes(np: number, shared = false): Uint8Array<ArrayBuffer> {
  if (!(Number.isInteger(np) && np > 0 && np % 4 === 0)) throw new RangeError(`padded batch ${np} is not a positive multiple of 4`);
  const functions = [mmFunction('mmBias', np, 'bias'), mmFunction('mmBiasRelu', np, 'biasRelu'), mmFunction('mmMask', np, 'mask'), gradAdamFunction(np), transposeFunction()];
  return wasmModule(functions, shared);
}

/** The compiled kernels for np, for a shared memory or not; undefined when this engine lacks wasm SIMD (or threads, for shared). */
export function compileDenseKernels(np: number, shared: boolean): WebAssembly.Module | undefined {
  const key = `${np}${shared ? 's' : ''}`;
  let module = modules.get(key);
  if (!module) {
    const bytes = denseKernelBytes(np, shared);
    try {
      module = new WebAssembly.Module(bytes);
    } catch {
      return undefined;
    }
    modules.set(key, module);
  }
  return module;
}

/**
 * The kernels for padded batch width np on `memory`; undefined when this engine lacks
 * wasm SIMD. With a helper, the large products are split by rows between this thread
 * and the helper's: each row is computed exactly as it would be on one thread.
 */
export function denseKernels(memory: WebAssembly.Memory, np: number, helper?: KernelHelper): DenseKernels | undefined {
  const module = compileDenseKernels(np, memory.buffer instanceof SharedArrayBuffer);
  if (!module) return undefined;
  const raw = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<KernelName, (...args: number[]) => void>;
  const rowBytes = np * 4;
  /** argsFor(r0, r1): the call for rows r0..r1 (bounds multiples of ROWS). */
  const run = (name: KernelName, rows: number, work: number, argsFor: (r0: number, r1: number) => number[]) => {
    if (helper && work >= helper.minWork && rows >= 2 * ROWS) {
      const half = Math.floor(rows / (2 * ROWS)) * ROWS;
      helper.start(name, argsFor(half, rows));
      try {
        raw[name](...argsFor(0, half));
      } finally {
        helper.wait();
      }
    } else {
      raw[name](...argsFor(0, rows));
    }
  };
  return {
    forward: (w, x, bias, out, rows, k, relu) =>
      run(relu ? 'mmBiasRelu' : 'mmBias', rows, rows * k * np, (r0, r1) => [w + r0 * k * 4, k * 4, 4, x, out + r0 * rowBytes, r1 - r0, k, bias + r0 * 4]),
    backward: (w, dz, a, dx, out, inSize) =>
      run('mmMask', inSize, inSize * out * np, (r0, r1) => [w + r0 * 4, 4, inSize * 4, dz, dx + r0 * rowBytes, r1 - r0, out, a + r0 * rowBytes]),
    // 1-beta in float64 then rounded, as Keras does (1 - 0.999 in float32 is off by 1e-5).
    gradAdam: (dz, xt, w, m, v, rows, cols, alpha, beta1, beta2, epsilon) =>
      run('gradAdam', rows, rows * cols * np, (r0, r1) => [
        dz + r0 * rowBytes, xt, w + r0 * cols * 4, m + r0 * cols * 4, v + r0 * cols * 4, r1 - r0, cols,
        alpha, beta1, 1 - beta1, beta2, 1 - beta2, epsilon,
      ]),
    transpose: raw.transpose,
  };
}
