// A small WebAssembly module with the fused optimizer loops and relu's gradient, built here byte by byte and instantiated on the wasm
// backend's own memory: its f32 operations round each product, sum, quotient and square root to float32, as the
// backend's elementwise kernels do, without JavaScript's Math.fround on every operation.
import type { WasmMemory } from './wasm-heap.js';

/** The module's functions. Pointers are byte offsets into the backend's heap; `flags` as the addon's. */
export interface UpdateModule {
  /** Adam: flags bit 0 amsgrad, bit 1 decoupled, bit 2 the L2 term; scalars as the addon's `adamUpdate`. */
  adam(w: number, g: number, m: number, v: number, vMax: number, wOut: number, mOut: number, vOut: number, vMaxOut: number,
    n: number, flags: number, ...scalars: number[]): void;
  /** SGD: flags bit 0 the L2 term, bit 1 momentum, bit 2 Nesterov; scalars as the addon's `sgdUpdate`. */
  sgd(w: number, g: number, b: number, wOut: number, bOut: number, n: number, flags: number, ...scalars: number[]): void;
  /** Adagrad: flags bit 0 the L2 term; scalars [weightDecay, −rate, epsilon]. */
  adagrad(w: number, g: number, sum: number, wOut: number, sumOut: number, n: number, flags: number, ...scalars: number[]): void;
  /** Adadelta: flags bit 0 the L2 term; scalars [weightDecay, rho, 1 − rho, epsilon, −learningRate]. */
  adadelta(w: number, g: number, square: number, delta: number, wOut: number, squareOut: number, deltaOut: number, n: number,
    flags: number, ...scalars: number[]): void;
  /**
   * RMSprop: flags bit 0 the L2 term, bit 1 centered, bit 2 momentum; scalars [weightDecay, alpha, 1 − alpha, epsilon,
   * momentum, −learningRate].
   */
  rmsprop(w: number, g: number, square: number, mean: number, b: number, wOut: number, squareOut: number, meanOut: number,
    bOut: number, n: number, flags: number, ...scalars: number[]): void;
  /** Relu's gradient: dx = dy · (x > 0 ? 1 : x is NaN ? NaN : 0) over n floats (SIMD); flags unused (0). */
  reluGrad(dy: number, x: number, dx: number, n: number, flags: number): void;
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const op = {
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, select: 0x1b, get: 0x20, set: 0x21, tee: 0x22,
  load: 0x2a, store: 0x38, i32: 0x41, geU: 0x4f, add: 0x6a, and: 0x71, shl: 0x74,
  eqz: 0x45, sqrt: 0x91, fadd: 0x92, fsub: 0x93, fmul: 0x94, fdiv: 0x95, fmax: 0x97, fgt: 0x5e, fconst: 0x43,
  fabs: 0x8b, fmin: 0x96, fromI32: 0xb3, shrU: 0x76, simd: 0xfd,
} as const;
/** SIMD opcodes (after the 0xfd prefix). */
const simdOp = { load: 0x00, store: 0x0b, splat: 0x13, gt: 0x44, and: 0x4e, abs: 0xe0, min: 0xe8, add: 0xe4, mul: 0xe6 } as const;

const uleb = (value: number): number[] => {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (text: string): number[] => vec([...text].map((c) => [c.charCodeAt(0)]));

/** Code helpers over local indices. */
const get = (local: number): number[] => [op.get, local];
const set = (local: number): number[] => [op.set, local];
/** `f32` at `base + offset` (offset a local holding the byte offset). */
const load = (base: number, offset: number): number[] => [...get(base), ...get(offset), op.add, op.load, 2, 0];
const store = (base: number, offset: number, value: number[]): number[] => [...get(base), ...get(offset), op.add, ...value, op.store, 2, 0];
const bit = (flags: number, mask: number): number[] => [...get(flags), op.i32, mask, op.and];
const ifThen = (condition: number[], body: number[]): number[] => [...condition, op.if, 0x40, ...body, op.end];

/** `for (offset = 0; offset < n·4; offset += 4) body`, with `end` a scratch local. */
function loop(n: number, offset: number, end: number, body: number[]): number[] {
  return [
    ...get(n), op.i32, 2, op.shl, ...set(end),
    op.block, 0x40, op.loop, 0x40,
    ...get(offset), ...get(end), op.geU, op.brIf, 1,
    ...body,
    ...get(offset), op.i32, 4, op.add, ...set(offset),
    op.br, 0, op.end, op.end,
  ];
}

// adam(w, g, m, v, vMax, wOut, mOut, vOut, vMaxOut, n, flags, weightScale, weightDecay, beta1, oneMinusBeta1, beta2,
//      oneMinusBeta2, negativeStepSize, sqrtBiasCorrection2, epsilon); locals: offset, end, weight, grad, first, second, used.
function adamBody(): number[] {
  const [w, g, m, v, vMax, wOut, mOut, vOut, vMaxOut, n, flags] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [weightScale, weightDecay, beta1, oneMinusBeta1, beta2, oneMinusBeta2, negativeStepSize, sqrtBias, epsilon] = [11, 12, 13, 14, 15, 16, 17, 18, 19];
  const [offset, end, weight, grad, first, second, used] = [20, 21, 22, 23, 24, 25, 26];
  const body = [
    ...load(w, offset), ...set(weight),
    ...load(g, offset), ...set(grad),
    // grad ← grad + weight·weightDecay (L2)
    ...ifThen(bit(flags, 4), [...get(grad), ...get(weight), ...get(weightDecay), op.fmul, op.fadd, ...set(grad)]),
    ...load(m, offset), ...get(beta1), op.fmul, ...get(grad), ...get(oneMinusBeta1), op.fmul, op.fadd, ...set(first),
    ...load(v, offset), ...get(beta2), op.fmul, ...get(grad), ...get(oneMinusBeta2), op.fmul, ...get(grad), op.fmul, op.fadd, op.tee, second, ...set(used),
    ...ifThen(bit(flags, 1), [...load(vMax, offset), ...get(second), op.fmax, ...set(used), ...store(vMaxOut, offset, get(used))]),
    // weight ← weight·weightScale (decoupled), then weight + first·(−stepSize) / (√used / √biasCorrection2 + epsilon)
    ...ifThen(bit(flags, 2), [...get(weight), ...get(weightScale), op.fmul, ...set(weight)]),
    ...store(wOut, offset, [...get(weight), ...get(first), ...get(negativeStepSize), op.fmul, ...get(used), op.sqrt, ...get(sqrtBias), op.fdiv, ...get(epsilon), op.fadd, op.fdiv, op.fadd]),
    ...store(mOut, offset, get(first)),
    ...store(vOut, offset, get(second)),
  ];
  return [...vec([[2, I32], [5, F32]]), ...loop(n, offset, end, body), op.end];
}

// sgd(w, g, b, wOut, bOut, n, flags, weightDecay, momentum, oneMinusDampening, negativeLearningRate);
// locals: offset, end, weight, direction, buffer.
function sgdBody(): number[] {
  const [w, g, b, wOut, bOut, n, flags, weightDecay, momentum, oneMinusDampening, negativeLearningRate] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [offset, end, weight, direction, buffer] = [11, 12, 13, 14, 15];
  const body = [
    ...load(w, offset), ...set(weight),
    ...load(g, offset), ...set(direction),
    ...ifThen(bit(flags, 1), [...get(direction), ...get(weight), ...get(weightDecay), op.fmul, op.fadd, ...set(direction)]),
    ...ifThen(bit(flags, 2), [
      ...load(b, offset), ...get(momentum), op.fmul, ...get(direction), ...get(oneMinusDampening), op.fmul, op.fadd, ...set(buffer),
      ...store(bOut, offset, get(buffer)),
      // direction ← nesterov ? direction + buffer·momentum : buffer
      ...get(direction), ...get(buffer), ...get(momentum), op.fmul, op.fadd, ...get(buffer), ...bit(flags, 4), op.select, ...set(direction),
    ]),
    ...store(wOut, offset, [...get(weight), ...get(direction), ...get(negativeLearningRate), op.fmul, op.fadd]),
  ];
  return [...vec([[2, I32], [3, F32]]), ...loop(n, offset, end, body), op.end];
}

/** grad ← g[offset], plus weight·weightDecay when `flags` bit 0 (the L2 term) is set. */
const gradientWithL2 = (g: number, offset: number, flags: number, weight: number, grad: number, weightDecay: number): number[] => [
  ...load(g, offset), ...set(grad),
  ...ifThen(bit(flags, 1), [...get(grad), ...get(weight), ...get(weightDecay), op.fmul, op.fadd, ...set(grad)]),
];

// adagrad(w, g, sum, wOut, sumOut, n, flags, weightDecay, negativeRate, epsilon); locals: offset, end, weight, grad, total.
function adagradBody(): number[] {
  const [w, g, sum, wOut, sumOut, n, flags, weightDecay, negativeRate, epsilon] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [offset, end, weight, grad, total] = [10, 11, 12, 13, 14];
  const body = [
    ...load(w, offset), ...set(weight),
    ...gradientWithL2(g, offset, flags, weight, grad, weightDecay),
    ...load(sum, offset), ...get(grad), ...get(grad), op.fmul, op.fadd, ...set(total),
    ...store(sumOut, offset, get(total)),
    // weight + grad·(−rate) / (√total + epsilon)
    ...store(wOut, offset, [...get(weight), ...get(grad), ...get(negativeRate), op.fmul, ...get(total), op.sqrt, ...get(epsilon), op.fadd, op.fdiv, op.fadd]),
  ];
  return [...vec([[2, I32], [3, F32]]), ...loop(n, offset, end, body), op.end];
}

// adadelta(w, g, sq, acc, wOut, sqOut, accOut, n, flags, weightDecay, rho, oneMinusRho, epsilon, negativeLearningRate);
// locals: offset, end, weight, grad, square, delta, previous.
function adadeltaBody(): number[] {
  const [w, g, sq, acc, wOut, sqOut, accOut, n, flags, weightDecay, rho, oneMinusRho, epsilon, negativeLearningRate] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [offset, end, weight, grad, square, delta, previous] = [14, 15, 16, 17, 18, 19, 20];
  const body = [
    ...load(w, offset), ...set(weight),
    ...gradientWithL2(g, offset, flags, weight, grad, weightDecay),
    ...load(sq, offset), ...get(rho), op.fmul, ...get(grad), ...get(oneMinusRho), op.fmul, ...get(grad), op.fmul, op.fadd, ...set(square),
    ...store(sqOut, offset, get(square)),
    // delta ← √(acc + epsilon) / √(square + epsilon) · grad
    ...load(acc, offset), ...set(previous),
    ...get(previous), ...get(epsilon), op.fadd, op.sqrt, ...get(square), ...get(epsilon), op.fadd, op.sqrt, op.fdiv, ...get(grad), op.fmul, ...set(delta),
    ...store(accOut, offset, [...get(previous), ...get(rho), op.fmul, ...get(delta), ...get(oneMinusRho), op.fmul, ...get(delta), op.fmul, op.fadd]),
    ...store(wOut, offset, [...get(weight), ...get(delta), ...get(negativeLearningRate), op.fmul, op.fadd]),
  ];
  return [...vec([[2, I32], [5, F32]]), ...loop(n, offset, end, body), op.end];
}

// rmsprop(w, g, sq, mean, b, wOut, sqOut, meanOut, bOut, n, flags, weightDecay, alpha, oneMinusAlpha, epsilon, momentum,
//         negativeLearningRate); locals: offset, end, weight, grad, square, average, mean value, buffer.
function rmspropBody(): number[] {
  const [w, g, sq, mean, b, wOut, sqOut, meanOut, bOut, n, flags] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [weightDecay, alpha, oneMinusAlpha, epsilon, momentum, negativeLearningRate] = [11, 12, 13, 14, 15, 16];
  const [offset, end, weight, grad, square, average, meanValue, buffer] = [17, 18, 19, 20, 21, 22, 23, 24];
  const body = [
    ...load(w, offset), ...set(weight),
    ...gradientWithL2(g, offset, flags, weight, grad, weightDecay),
    ...load(sq, offset), ...get(alpha), op.fmul, ...get(grad), ...get(oneMinusAlpha), op.fmul, ...get(grad), op.fmul, op.fadd, ...set(square),
    ...store(sqOut, offset, get(square)),
    ...get(square), op.sqrt, ...set(average),
    // centered: mean ← mean·alpha + grad·(1 − alpha), average ← √(square − mean·mean)
    ...ifThen(bit(flags, 2), [
      ...load(mean, offset), ...get(alpha), op.fmul, ...get(grad), ...get(oneMinusAlpha), op.fmul, op.fadd, ...set(meanValue),
      ...store(meanOut, offset, get(meanValue)),
      ...get(square), ...get(meanValue), ...get(meanValue), op.fmul, op.fsub, op.sqrt, ...set(average),
    ]),
    ...get(average), ...get(epsilon), op.fadd, ...set(average),
    // momentum: buffer ← buffer·momentum + grad / average, weight + buffer·(−learningRate); else weight + grad·(−learningRate) / average
    ...ifThen(bit(flags, 4), [
      ...load(b, offset), ...get(momentum), op.fmul, ...get(grad), ...get(average), op.fdiv, op.fadd, ...set(buffer),
      ...store(bOut, offset, get(buffer)),
      ...store(wOut, offset, [...get(weight), ...get(buffer), ...get(negativeLearningRate), op.fmul, op.fadd]),
    ]),
    ...ifThen([...bit(flags, 4), op.eqz], [
      ...store(wOut, offset, [...get(weight), ...get(grad), ...get(negativeLearningRate), op.fmul, ...get(average), op.fdiv, op.fadd]),
    ]),
  ];
  return [...vec([[2, I32], [6, F32]]), ...loop(n, offset, end, body), op.end];
}

// reluGrad(dy, x, dx, n, flags); locals: offset, end (i32), value, mask (f32), vector, one (v128). Four floats at a
// time with SIMD, then the last n mod 4 one by one. The mask is built without a branch or a select (V8 compiles a
// float select to a branch, mispredicted on half of the random signs: 10 ns per element): mask = (x > 0 ? 1 : 0) +
// min(|x|, 0), where min(|x|, 0) is 0 for every x but NaN, and NaN for NaN (wasm's min propagates NaN).
function reluGradBody(): number[] {
  const [dy, x, dx, n] = [0, 1, 2, 3];
  const [offset, end, value, mask, vector, one] = [5, 6, 7, 8, 9, 10];
  const zero = [op.fconst, 0x00, 0x00, 0x00, 0x00];
  const simd = (code: number): number[] => [op.simd, ...uleb(code)];
  const vload = (base: number): number[] => [...get(base), ...get(offset), op.add, ...simd(simdOp.load), 4, 0];
  const vstore = (base: number, v: number[]): number[] => [...get(base), ...get(offset), op.add, ...v, ...simd(simdOp.store), 4, 0];
  const groups = [
    ...vload(x), ...set(vector),
    ...get(vector), ...zero, ...simd(simdOp.splat), ...simd(simdOp.gt), ...get(one), ...simd(simdOp.and),
    ...get(vector), ...simd(simdOp.abs), ...zero, ...simd(simdOp.splat), ...simd(simdOp.min), ...simd(simdOp.add),
    ...vload(dy), ...simd(simdOp.mul), ...set(vector),
    ...vstore(dx, get(vector)),
  ];
  const single = [
    ...load(x, offset), ...set(value),
    ...get(value), ...zero, op.fgt, op.fromI32,
    ...get(value), op.fabs, ...zero, op.fmin, op.fadd, ...set(mask),
    ...store(dx, offset, [...load(dy, offset), ...get(mask), op.fmul]),
  ];
  return [
    ...vec([[2, I32], [2, F32], [2, V128]]),
    op.fconst, 0x00, 0x00, 0x80, 0x3f, ...simd(simdOp.splat), ...set(one),
    // end ← (n >> 2) << 4: the bytes of the whole groups of four
    ...get(n), op.i32, 2, op.shrU, op.i32, 4, op.shl, ...set(end),
    op.block, 0x40, op.loop, 0x40,
    ...get(offset), ...get(end), op.geU, op.brIf, 1,
    ...groups,
    ...get(offset), op.i32, 16, op.add, ...set(offset),
    op.br, 0, op.end, op.end,
    ...loop(n, offset, end, single),
    op.end,
  ];
}

/** The module's bytes, importing `env.memory` (shared, for the threaded backend, when `shared`). */
function moduleBytes(shared: boolean): Uint8Array {
  const type = (pointers: number, scalars: number): number[] => [0x60, ...vec([...Array(pointers + 2).fill([I32]), ...Array(scalars).fill([F32])]), 0];
  const limits = shared ? [0x03, 0, ...uleb(65536)] : [0x00, 0];
  const functions: [string, number[], number[]][] = [
    ['adam', type(9, 9), adamBody()],
    ['sgd', type(5, 4), sgdBody()],
    ['adagrad', type(5, 3), adagradBody()],
    ['adadelta', type(7, 5), adadeltaBody()],
    ['rmsprop', type(9, 6), rmspropBody()],
    ['reluGrad', type(3, 0), reluGradBody()],
  ];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(functions.map(([, signature]) => signature))),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]])),
    ...section(3, vec(functions.map((_, index) => [index]))),
    ...section(7, vec(functions.map(([label], index) => [...name(label), 0x00, index]))),
    ...section(10, vec(functions.map(([, , body]) => [...uleb(body.length), ...body]))),
  ]);
}

/** The engine's WebAssembly API, as far as it is used here (the DOM library, which declares it, is not loaded). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WebAssemblyApi };

const instances = new WeakMap<WasmMemory, UpdateModule>();

/** The update module on `memory` (made once per memory). Throws when the engine refuses it. */
export function updateModule(memory: WasmMemory): UpdateModule {
  let instance = instances.get(memory);
  if (instance === undefined) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const compiled = new wasmApi.Module(moduleBytes(shared));
    instance = new wasmApi.Instance(compiled, { env: { memory } }).exports as unknown as UpdateModule;
    instances.set(memory, instance);
  }
  return instance;
}
