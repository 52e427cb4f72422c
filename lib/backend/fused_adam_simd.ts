/**
 * The fused Adam update as a tiny WebAssembly SIMD function that works directly on the wasm
 * backend's memory (it imports the backend's `WebAssembly.Memory`), four floats at a time.
 *
 * Why hand-assembled bytes: the same loop in TypeScript (with `Math.fround` after every operation
 * to keep float32 results) ran at ~6.8 ns per element, slower than tfjs' ten separate kernels;
 * wasm f32x4 arithmetic is IEEE float32 by definition, so it gives the same bits as tfjs' wasm
 * kernels (mul, add, div, sqrt) without the rounding calls. No assembler (wabt) is a dependency
 * of this project, and the function is 60 instructions, so it is encoded here by hand.
 * @module
 */

// Opcodes (WebAssembly core spec + fixed-width SIMD proposal).
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_ADD = 0x6a, I32_GE_U = 0x4f, I32_CONST = 0x41;
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00, 0x04, 0x00]; // align 2^4, offset 0
const V128_STORE = [SIMD, 0x0b, 0x04, 0x00];
const F32X4_SPLAT = [SIMD, 0x13];
const F32X4_SQRT = [SIMD, 0xe3, 0x01];
const F32X4_ADD = [SIMD, 0xe4, 0x01];
const F32X4_MUL = [SIMD, 0xe6, 0x01];
const F32X4_DIV = [SIMD, 0xe7, 0x01];

// Parameters: byte addresses w, g, m, v, w1, m1, v1, byte count; then the float32 scalars.
const [W, G, M, V, W1, M1, V1, NB] = [0, 1, 2, 3, 4, 5, 6, 7];
// Locals: loop offset, the eight splatted scalars, and g, m1, v1 of the current lane group.
const I = 16, S = 17, GV = 25, MV = 26, VV = 27;
const [B1, OB1, B2, OB2, C1, C2, EPS, NLR] = [0, 1, 2, 3, 4, 5, 6, 7];

const get = (l: number) => [LOCAL_GET, l];
const set = (l: number) => [LOCAL_SET, l];
const load = (base: number) => [...get(base), ...get(I), I32_ADD, ...V128_LOAD];
const addr = (base: number) => [...get(base), ...get(I), I32_ADD];

function body(): number[] {
  const code: number[] = [];
  for (let k = 0; k < 8; k++) code.push(...get(8 + k), ...F32X4_SPLAT, ...set(S + k));
  code.push(BLOCK, VOID, LOOP, VOID);
  code.push(...get(I), ...get(NB), I32_GE_U, BR_IF, 1);
  code.push(...load(G), ...set(GV));
  // m1 = m * beta1 + g * (1 - beta1)
  code.push(...load(M), ...get(S + B1), ...F32X4_MUL, ...get(GV), ...get(S + OB1), ...F32X4_MUL);
  code.push(...F32X4_ADD, ...set(MV));
  // v1 = v * beta2 + g^2 * (1 - beta2)
  code.push(...load(V), ...get(S + B2), ...F32X4_MUL, ...get(GV), ...get(GV), ...F32X4_MUL);
  code.push(...get(S + OB2), ...F32X4_MUL, ...F32X4_ADD, ...set(VV));
  code.push(...addr(M1), ...get(MV), ...V128_STORE, ...addr(V1), ...get(VV), ...V128_STORE);
  // w1 = (m1 / c1) / (sqrt(v1 / c2) + eps) * -lr + w
  code.push(...addr(W1), ...get(MV), ...get(S + C1), ...F32X4_DIV);
  code.push(...get(VV), ...get(S + C2), ...F32X4_DIV, ...F32X4_SQRT, ...get(S + EPS), ...F32X4_ADD);
  code.push(...F32X4_DIV, ...get(S + NLR), ...F32X4_MUL, ...load(W), ...F32X4_ADD, ...V128_STORE);
  code.push(...get(I), I32_CONST, 16, I32_ADD, ...set(I), BR, 0, END, END, END);
  // locals: 1 x i32, 11 x v128
  return [2, 1, 0x7f, 11, 0x7b, ...code];
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string) => [s.length, ...new TextEncoder().encode(s)];

/** The module's bytes: imports memory `e.m`, exports `adam`. */
export function fusedAdamModuleBytes(): Uint8Array {
  const type = [1, 0x60, 16, ...Array(8).fill(0x7f), ...Array(8).fill(0x7d), 0];
  const imp = [1, ...name("e"), ...name("m"), 0x02, 0x00, 0x00]; // memory, no max, min 0 pages
  const code = body();
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, type),
    ...section(2, imp),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("adam"), 0x00, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

/**
 * `adam(w, g, m, v, w1, m1, v1, nBytes, beta1, 1-beta1, beta2, 1-beta2, c1, c2, eps, -lr)`:
 * updates `nBytes / 16` groups of four floats (addresses in bytes; nBytes a multiple of 16).
 */
export type SimdAdam = (...args: number[]) => void;

const cache = new WeakMap<WebAssembly.Memory, SimdAdam | null>();

/**
 * The SIMD update bound to `memory`, or null where this engine has no wasm SIMD (the caller then
 * uses its scalar loop). Compiled once per memory.
 */
export function simdAdamFor(memory: WebAssembly.Memory): SimdAdam | null {
  if (cache.has(memory)) return cache.get(memory)!;
  let fn: SimdAdam | null = null;
  try {
    const mod = new WebAssembly.Module(fusedAdamModuleBytes() as BufferSource);
    const inst = new WebAssembly.Instance(mod, { e: { m: memory } });
    fn = inst.exports.adam as SimdAdam;
  } catch {
    fn = null;
  }
  cache.set(memory, fn);
  return fn;
}
