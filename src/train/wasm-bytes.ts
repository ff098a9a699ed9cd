/**
 * Just enough of the WebAssembly binary format to write small SIMD kernels from
 * TypeScript: value types, LEB128, the opcodes the training kernels use, and a module
 * of functions that import one memory (env.memory). Generating the bytes at run time
 * keeps a toolchain and any built .wasm out of the repository, and lets each kernel be
 * unrolled for the shapes it will see.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** memarg: alignment hint (log2) and a constant byte offset added to the address. */
const memarg = (alignLog2: number, offset: number) => [alignLog2, ...uleb(offset)];
const simd = (sub: number) => [0xfd, ...uleb(sub)];

/** Instructions, each an array of bytes to spread into a function body. */
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v | 0)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Eqz: [0x45],
  i32LtU: [0x49],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  /** v128.load / store at address + offset (the address is on the stack). */
  load: (offset = 0) => [...simd(0x00), ...memarg(2, offset)],
  store: (offset = 0) => [...simd(0x0b), ...memarg(2, offset)],
  /** One float32 from memory into all four lanes. */
  loadSplat: (offset = 0) => [...simd(0x09), ...memarg(2, offset)],
  zero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  splat: simd(0x13),
  /** i8x16.shuffle of two vectors by f32 lane (0-3: first, 4-7: second). */
  shuffle32: (lanes: readonly [number, number, number, number]) => [...simd(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])],
  and: simd(0x4e),
  gt: simd(0x44),
  sqrt: simd(0xe3),
  add: simd(0xe4),
  sub: simd(0xe5),
  mul: simd(0xe6),
  div: simd(0xe7),
  /** pmax(a, b) = a < b ? b : a: with a = 0, ReLU that maps NaN to 0. */
  pmax: simd(0xeb),
};

export interface WasmFunction {
  readonly name: string;
  readonly params: readonly number[];
  /** Extra locals by type, declared after the params in this order. */
  readonly locals: readonly number[];
  readonly body: readonly number[];
}

const vec = (items: readonly number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const section = (id: number, body: readonly number[]) => [id, ...uleb(body.length), ...body];

/**
 * A module that imports env.memory (at least one page; `shared`: a shared memory, which
 * threads can run on at once) and exports `functions` (no results).
 */
export function wasmModule(functions: readonly WasmFunction[], shared = false): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0x00]);
  const codes = functions.map((f) => {
    const groups: number[][] = [];
    for (const t of f.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]!++;
      else groups.push([1, t]);
    }
    const body = [...uleb(groups.length), ...groups.flatMap(([count, t]) => [...uleb(count!), t!]), ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...(shared ? [0x03, 0x01, ...uleb(65536)] : [0x00, 0x01])]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(codes)),
  ]);
}
