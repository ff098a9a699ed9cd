/**
 * Keras's Adam update as a WebAssembly SIMD loop, assembled here byte by byte (a few
 * dozen instructions, so no toolchain and nothing built is checked in). It runs on a
 * memory it imports, the tfjs wasm backend's heap, so it updates weights, moments and
 * reads gradients where the matrix products put them, without copies.
 *
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  w -= alpha*m / (sqrt(v) + eps)
 *
 * All in float32, four lanes at a time, as TensorFlow computes it.
 */

/** adam(w, g, m, v, bytes, alpha, beta1, beta2, epsilon): byte offsets, bytes a multiple of 16. */
export type SimdAdam = (
  w: number, g: number, m: number, v: number, bytes: number,
  alpha: number, beta1: number, beta2: number, epsilon: number,
) => void;

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

const op = {
  localGet: (i: number) => [0x20, i],
  localSet: (i: number) => [0x21, i],
  i32Add: [0x6a],
  i32GeU: [0x4f],
  i32Const16: [0x41, 0x10],
  // SIMD opcodes: 0xfd prefix, LEB128 u32 sub-opcode.
  load: [0xfd, 0x00, 0x02, 0x00], // v128.load align=4 offset=0
  store: [0xfd, 0x0b, 0x02, 0x00], // v128.store align=4 offset=0
  splat: [0xfd, 0x13], // f32x4.splat
  sqrt: [0xfd, 0xe3, 0x01],
  add: [0xfd, 0xe4, 0x01],
  sub: [0xfd, 0xe5, 0x01],
  mul: [0xfd, 0xe6, 0x01],
  div: [0xfd, 0xe7, 0x01],
};

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

const name = (s: string) => [...leb(s.length), ...Buffer.from(s, 'utf8')];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];

/** The module's bytes: imports env.memory, exports adam. */
export function simdAdamModuleBytes(): Uint8Array<ArrayBuffer> {
  // params: 0 w, 1 g, 2 m, 3 v, 4 bytes, 5 alpha, 6 b1, 7 1-b1, 8 b2, 9 1-b2, 10 eps; locals: 11 i, 12.. vectors
  const [W, G, M, V, N, ALPHA, B1, C1, B2, C2, EPS, I] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [vB1, vC1, vB2, vC2, vA, vE, vg, vm, vv] = [12, 13, 14, 15, 16, 17, 18, 19, 20];
  const at = (base: number) => [...op.localGet(base), ...op.localGet(I), ...op.i32Add];
  const code = [
    0x02, 0x01, I32, 0x09, V128, // locals: 1 i32, 9 v128
    ...op.localGet(B1), ...op.splat, ...op.localSet(vB1),
    ...op.localGet(C1), ...op.splat, ...op.localSet(vC1),
    ...op.localGet(B2), ...op.splat, ...op.localSet(vB2),
    ...op.localGet(C2), ...op.splat, ...op.localSet(vC2),
    ...op.localGet(ALPHA), ...op.splat, ...op.localSet(vA),
    ...op.localGet(EPS), ...op.splat, ...op.localSet(vE),
    0x02, 0x40, // block
    0x03, 0x40, // loop
    ...op.localGet(I), ...op.localGet(N), ...op.i32GeU, 0x0d, 0x01, // br_if 1 when i >= bytes
    ...at(G), ...op.load, ...op.localSet(vg),
    ...at(M), ...op.load, ...op.localGet(vB1), ...op.mul, ...op.localGet(vC1), ...op.localGet(vg), ...op.mul, ...op.add, ...op.localSet(vm),
    ...at(V), ...op.load, ...op.localGet(vB2), ...op.mul,
    ...op.localGet(vC2), ...op.localGet(vg), ...op.mul, ...op.localGet(vg), ...op.mul, ...op.add, ...op.localSet(vv),
    ...at(M), ...op.localGet(vm), ...op.store,
    ...at(V), ...op.localGet(vv), ...op.store,
    ...at(W),
    ...at(W), ...op.load,
    ...op.localGet(vA), ...op.localGet(vm), ...op.mul,
    ...op.localGet(vv), ...op.sqrt, ...op.localGet(vE), ...op.add,
    ...op.div, ...op.sub, ...op.store,
    ...op.localGet(I), ...op.i32Const16, ...op.i32Add, ...op.localSet(I),
    0x0c, 0x00, // br 0
    0x0b, // end loop
    0x0b, // end block
    0x0b, // end function
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x0b, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, 0x00]),
    ...section(2, [0x01, ...name('env'), ...name('memory'), 0x02, 0x00, 0x01]),
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...name('adam'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(code.length), ...code]),
  ];
  return new Uint8Array(bytes);
}

let compiled: WebAssembly.Module | undefined;

/** Instantiates the update on `memory`; undefined when this engine lacks wasm SIMD. */
export function simdAdam(memory: WebAssembly.Memory): SimdAdam | undefined {
  try {
    compiled ??= new WebAssembly.Module(simdAdamModuleBytes());
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    const raw = instance.exports.adam as (...args: number[]) => void;
    // 1-beta in float64 then rounded, as Keras does (1 - 0.999 in float32 is off by 1e-5).
    return (w, g, m, v, bytes, alpha, beta1, beta2, epsilon) => raw(w, g, m, v, bytes, alpha, beta1, 1 - beta1, beta2, 1 - beta2, epsilon);
  } catch {
    return undefined;
  }
}
