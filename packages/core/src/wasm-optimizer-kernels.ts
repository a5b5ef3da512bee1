// Fused optimizer updates on the wasm backend: one kernel call updates every variable of a step (weights and slots),
// as loops over the wasm heap that repeat the unfused tensor ops' float32 arithmetic exactly.
import * as tf from '@tensorflow/tfjs';
import { installKernelProviders, setKernelProvider, type KernelProvider, type ProviderKernel } from './kernel-registry.js';
import { heapFloats, heapMemory, heapOffset, makeOutput } from './wasm-heap.js';
import { updateModule, type UpdateModule } from './wasm-update-module.js';
import type { KernelArgs } from './wasm-kernel-call.js';
import type { NativeKernels } from '@convkit/native';

type TensorInfo = tf.TensorInfo;

/** The fused Adam/AdamW update's tfjs kernel name (see {@link WASM_OPTIMIZER_PROVIDER} for its contract). */
export const FUSED_ADAM_KERNEL = 'ConvkitFusedAdam';
/** The fused SGD (momentum, Nesterov) update's tfjs kernel name (see {@link WASM_OPTIMIZER_PROVIDER}). */
export const FUSED_SGD_KERNEL = 'ConvkitFusedSgd';
/** The fused Adagrad update's tfjs kernel name (WebAssembly loops only). */
export const FUSED_ADAGRAD_KERNEL = 'ConvkitFusedAdagrad';
/** The fused Adadelta update's tfjs kernel name (WebAssembly loops only). */
export const FUSED_ADADELTA_KERNEL = 'ConvkitFusedAdadelta';
/** The fused RMSprop update's tfjs kernel name (WebAssembly loops only). */
export const FUSED_RMSPROP_KERNEL = 'ConvkitFusedRmsprop';

/** The attributes of one fused call: how many variables, the flags, and per-variable float32 scalars. */
interface FusedCall {
  count: number;
  flags: Record<string, boolean>;
  /** Per variable, the scalars in `names` order, rounded to float32 (as the unfused path's scalar tensors are). */
  scalars: Float32Array[];
  /** The same before rounding, for the unfused path's `!== 0` tests. */
  raw: Record<string, number[]>;
}

function readCall(args: KernelArgs, kernel: string, names: readonly string[], flagNames: readonly string[]): FusedCall {
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  const count = attrs.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    throw new Error(`${kernel}: attrs.count must be a non-negative integer (received ${String(count)})`);
  }
  const raw: Record<string, number[]> = {};
  for (const name of names) {
    const list = attrs[name];
    if (!Array.isArray(list) || list.length !== count) {
      throw new Error(`${kernel}: attrs.${name} must be an array of ${count} numbers (received ${JSON.stringify(list)})`);
    }
    raw[name] = list.map(Number);
  }
  const scalars = Array.from({ length: count }, (_, v) => Float32Array.from(names, (name) => raw[name]![v]!));
  return { count, raw, scalars, flags: Object.fromEntries(flagNames.map((name) => [name, attrs[name] === true])) };
}

function input(args: KernelArgs, kernel: string, name: string, like?: TensorInfo): TensorInfo {
  const info = args.inputs[name];
  if (info === undefined) throw new Error(`${kernel}: input '${name}' is missing`);
  if (like !== undefined && (info.shape.length !== like.shape.length || info.shape.some((size, axis) => size !== like.shape[axis]))) {
    throw new Error(`${kernel}: input '${name}' has shape [${String(info.shape)}] (expected [${String(like.shape)}])`);
  }
  return info;
}

/**
 * One variable's pass: `operands` are its inputs then its outputs (the value, then the `slots` it has), `scalars` its
 * float32 scalars, `flags` the kernel's bits (see the addon's `adamUpdate` and `sgdUpdate`).
 */
type Pass = (backend: tf.KernelBackend, operands: TensorInfo[], slots: readonly string[], scalars: Float32Array, flags: number) => void;

/** The parts of the wasm backend's data map that in-place updates use (tfjs-backend-wasm 4.x). */
interface RefCountedBackend {
  refCount(dataId: object): number;
  incRef(dataId: object): void;
}

/**
 * The output for a variable's or a slot's new value: its own buffer, updated in place, when nothing but this tensor
 * holds that buffer (the backend's reference count is 1: no clone, reshape or saved copy shares it; the optimizer then
 * assigns the variable and drops the old slot, which leave the same buffer with the new values), else a new buffer.
 * In place, a step reads and writes each weight's memory once instead of streaming to new memory: Adam over W1's
 * 421,642 weights with cold caches 0.86 → 0.48 ms at one thread.
 */
function updatedInPlaceOr(backend: tf.KernelBackend, like: TensorInfo): TensorInfo {
  const counted = backend as unknown as Partial<RefCountedBackend>;
  if (typeof counted.refCount === 'function' && typeof counted.incRef === 'function' && counted.refCount(like.dataId as object) === 1) {
    counted.incRef(like.dataId as object);
    return { dataId: like.dataId, shape: [...like.shape], dtype: like.dtype };
  }
  return makeOutput(backend, [...like.shape]);
}

/**
 * A fused kernel: per variable, reads `variable{i}`, `gradient{i}` and the slots `slotsOf` names (in order), makes one
 * output like the variable for the value and each slot, and runs `pass` on them all.
 */
function fusedKernel(
  kernel: string,
  names: readonly string[],
  flagNames: readonly string[],
  slotsOf: (call: FusedCall, v: number) => readonly string[],
  flagsOf: (call: FusedCall, v: number) => number,
  pass: Pass,
  inPlace: boolean,
): ProviderKernel {
  return (args) => {
    const call = readCall(args, kernel, names, flagNames);
    const operands = Array.from({ length: call.count }, (_, v) => {
      const variable = input(args, kernel, `variable${v}`);
      return [variable, input(args, kernel, `gradient${v}`, variable), ...slotsOf(call, v).map((name) => input(args, kernel, `${name}${v}`, variable))];
    });
    const outputs = operands.map((list) =>
      [list[0]!, ...list.slice(2)].map((like) => (inPlace ? updatedInPlaceOr(args.backend, like) : makeOutput(args.backend, [...like.shape]))),
    );
    // Passes only after every allocation (an allocation may grow the heap and detach earlier views).
    for (let v = 0; v < call.count; v++) pass(args.backend, [...operands[v]!, ...outputs[v]!], slotsOf(call, v), call.scalars[v]!, flagsOf(call, v));
    return outputs.flat();
  };
}

/** One fused rule: its scalar attributes, flag attributes, every slot it may have (in order), which it has, its flags. */
interface Rule {
  kernel: string;
  scalars: readonly string[];
  flagNames: readonly string[];
  allSlots: readonly string[];
  slotsOf: (call: FusedCall, v: number) => readonly string[];
  flagsOf: (call: FusedCall, v: number) => number;
}

const l2 = (call: FusedCall, v: number): number => (call.raw.weightDecay![v] !== 0 ? 1 : 0);
const nonZero = (call: FusedCall, name: string, v: number): boolean => call.raw[name]![v] !== 0;

// Flags: Adam bit 0 amsgrad, bit 1 decoupled (AdamW), bit 2 the L2 term; SGD bit 0 L2, bit 1 momentum, bit 2
// Nesterov; Adagrad and Adadelta bit 0 L2; RMSprop bit 0 L2, bit 1 centered, bit 2 momentum. The L2 term is on when
// weightDecay is not 0 before rounding, as in the unfused ops.
const ADAM: Rule = {
  kernel: FUSED_ADAM_KERNEL,
  scalars: ['weightScale', 'weightDecay', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'negativeStepSize', 'sqrtBiasCorrection2', 'epsilon'],
  flagNames: ['amsgrad', 'decoupled'],
  allSlots: ['expAvg', 'expAvgSq', 'maxExpAvgSq'],
  slotsOf: (call) => (call.flags.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq']),
  flagsOf: (call, v) => (call.flags.amsgrad ? 1 : 0) | (call.flags.decoupled ? 2 : 4 * l2(call, v)),
};
const SGD: Rule = {
  kernel: FUSED_SGD_KERNEL,
  scalars: ['weightDecay', 'momentum', 'oneMinusDampening', 'negativeLearningRate'],
  flagNames: ['nesterov'],
  allSlots: ['momentumBuffer'],
  slotsOf: (call, v) => (nonZero(call, 'momentum', v) ? ['momentumBuffer'] : []),
  flagsOf: (call, v) => l2(call, v) | (nonZero(call, 'momentum', v) ? 2 : 0) | (call.flags.nesterov ? 4 : 0),
};
const ADAGRAD: Rule = {
  kernel: FUSED_ADAGRAD_KERNEL,
  scalars: ['weightDecay', 'negativeRate', 'epsilon'],
  flagNames: [],
  allSlots: ['sum'],
  slotsOf: () => ['sum'],
  flagsOf: l2,
};
const ADADELTA: Rule = {
  kernel: FUSED_ADADELTA_KERNEL,
  scalars: ['weightDecay', 'rho', 'oneMinusRho', 'epsilon', 'negativeLearningRate'],
  flagNames: [],
  allSlots: ['squareAvg', 'accDelta'],
  slotsOf: () => ['squareAvg', 'accDelta'],
  flagsOf: l2,
};
const RMSPROP: Rule = {
  kernel: FUSED_RMSPROP_KERNEL,
  scalars: ['weightDecay', 'alpha', 'oneMinusAlpha', 'epsilon', 'momentum', 'negativeLearningRate'],
  flagNames: ['centered'],
  allSlots: ['squareAvg', 'gradAvg', 'momentumBuffer'],
  slotsOf: (call, v) => ['squareAvg', ...(call.flags.centered ? ['gradAvg'] : []), ...(call.raw.momentum![v]! > 0 ? ['momentumBuffer'] : [])],
  flagsOf: (call, v) => l2(call, v) | (call.flags.centered ? 2 : 0) | (call.raw.momentum![v]! > 0 ? 4 : 0),
};

/**
 * A variable's operands in a loop's fixed order: the weights, the gradient, every slot of `allSlots` (`absent` for
 * those it lacks), the new weights, every new slot (`absent` likewise).
 */
function arrange<T>(operands: readonly T[], slots: readonly string[], allSlots: readonly string[], absent: T): T[] {
  const inputs = operands.slice(2, 2 + slots.length);
  const outputs = operands.slice(3 + slots.length);
  const pick = (list: readonly T[], name: string): T => (slots.includes(name) ? list[slots.indexOf(name)]! : absent);
  return [operands[0]!, operands[1]!, ...allSlots.map((name) => pick(inputs, name)), operands[2 + slots.length]!, ...allSlots.map((name) => pick(outputs, name))];
}

/** The WebAssembly loop `name` of wasm-update-module.ts for `rule`, on byte offsets into the backend's heap. */
function modulePass(rule: Rule, name: keyof UpdateModule): Pass {
  return (backend, operands, slots, scalars, flags) => {
    const memory = heapMemory(backend);
    if (memory === undefined) throw new Error(`${rule.kernel}: this tfjs-backend-wasm build does not expose its memory`);
    const offsets = operands.map((info) => heapOffset(backend, info, rule.kernel));
    const loop = updateModule(memory)[name] as (...values: number[]) => void;
    loop(...arrange(offsets, slots, rule.allSlots, 0), tf.util.sizeFromShape(operands[0]!.shape), flags, ...scalars);
  };
}

/** `inPlace`: whether the pass may write a variable's or a slot's new value over its old one (see updatedInPlaceOr). */
const kernelOf = (rule: Rule, pass: Pass, inPlace = false): ProviderKernel =>
  fusedKernel(rule.kernel, rule.scalars, rule.flagNames, rule.slotsOf, rule.flagsOf, pass, inPlace);

/**
 * convkit's fused optimizer updates on wasm, as WebAssembly loops on the backend's heap (wasm-update-module.ts), a
 * kernel provider: `ConvkitFusedAdam`, `ConvkitFusedSgd`, `ConvkitFusedAdagrad`, `ConvkitFusedAdadelta` and
 * `ConvkitFusedRmsprop`, which `@convkit/optim`'s optimizers call once per step, for all their variables, where the active backend
 * has the kernel (elsewhere, or with this provider disabled, they run their per-variable tensor ops). The loops repeat
 * those ops' float32 arithmetic in the same order (each product, sum, quotient and square root rounded to float32,
 * no fused multiply-add), so the results are bit-identical. Inputs are float32; every scalar attribute is an array
 * with one float32 value per variable (`attrs.count` of them), computed by the optimizer as its tensor ops would.
 */
export const WASM_OPTIMIZER_PROVIDER: KernelProvider = {
  name: 'wasm-fused-optimizer',
  label: 'convkit-wasm',
  backend: 'wasm',
  priority: 100,
  kernels: Object.fromEntries(
    ([[ADAM, 'adam'], [SGD, 'sgd'], [ADAGRAD, 'adagrad'], [ADADELTA, 'adadelta'], [RMSPROP, 'rmsprop']] as const).map(([rule, name]) => [
      rule.kernel,
      kernelOf(rule, modulePass(rule, name)),
    ]),
  ),
};

/** The native provider's name: the same kernels as {@link WASM_OPTIMIZER_PROVIDER}, as C++ loops in @convkit/native. */
export const NATIVE_OPTIMIZER_PROVIDER_NAME = 'native-fused-optimizer';

const nativeProvider = (kernels: Record<string, ProviderKernel>, declined?: string): KernelProvider => ({
  name: NATIVE_OPTIMIZER_PROVIDER_NAME,
  label: 'convkit-native',
  backend: 'wasm',
  priority: 200,
  kernels,
  ...(declined === undefined ? {} : { declined }),
});

/**
 * Declares the fused optimizer kernels of @convkit/native (provider `'native-fused-optimizer'`, above the WebAssembly
 * ones): the same float32 arithmetic, compiled with `-ffp-contract=off`; declined when the addon was built from sources
 * older than these functions. {@link registerNativeKernels} calls it.
 */
export function registerNativeOptimizerKernels(native: Pick<NativeKernels, 'adamUpdate' | 'sgdUpdate'>): void {
  const { adamUpdate, sgdUpdate } = native;
  if (adamUpdate === undefined || sgdUpdate === undefined) {
    declineNativeOptimizerKernels('the @convkit/native addon predates adamUpdate and sgdUpdate; rebuild it (npm rebuild @convkit/native)');
    installKernelProviders('wasm');
    return;
  }
  const views = (rule: Rule, backend: tf.KernelBackend, operands: TensorInfo[], slots: readonly string[]): (Float32Array | null)[] =>
    arrange(operands.map((info) => heapFloats(backend, info, rule.kernel)) as (Float32Array | null)[], slots, rule.allSlots, null);
  type AdamArgs = Parameters<typeof adamUpdate>;
  type SgdArgs = Parameters<typeof sgdUpdate>;
  const adam: Pass = (backend, operands, slots, scalars, flags) =>
    adamUpdate(...(views(ADAM, backend, operands, slots) as [AdamArgs[0], AdamArgs[1], AdamArgs[2], AdamArgs[3], AdamArgs[4], AdamArgs[5], AdamArgs[6], AdamArgs[7], AdamArgs[8]]), scalars, flags);
  const sgd: Pass = (backend, operands, slots, scalars, flags) =>
    sgdUpdate(...(views(SGD, backend, operands, slots) as [SgdArgs[0], SgdArgs[1], SgdArgs[2], SgdArgs[3], SgdArgs[4]]), scalars, flags);
  // In place: the C++ loops read each element's operands before writing its results (the WebAssembly loops are not
  // written for it and always make new buffers).
  setKernelProvider(nativeProvider({ [FUSED_ADAM_KERNEL]: kernelOf(ADAM, adam, true), [FUSED_SGD_KERNEL]: kernelOf(SGD, sgd, true) }));
  installKernelProviders('wasm');
}

/** Declares the native fused optimizer kernels declined, with `reason`; the WebAssembly ones serve. */
export function declineNativeOptimizerKernels(reason: string): void {
  const { [FUSED_ADAM_KERNEL]: adam, [FUSED_SGD_KERNEL]: sgd } = WASM_OPTIMIZER_PROVIDER.kernels;
  setKernelProvider(nativeProvider({ [FUSED_ADAM_KERNEL]: adam!, [FUSED_SGD_KERNEL]: sgd! }, reason));
}

/**
 * Declares convkit's fused optimizer kernels on `'wasm'`: one call per step updates every variable of
 * `@convkit/optim`'s optimizers (`adam`, `adamW`, `sgd`, `adagrad`, `adadelta`, `rmsprop`), bit-identical to their
 * per-variable tensor ops. The C++ loops of @convkit/native (provider `'native-fused-optimizer'`, declared by
 * `registerNativeKernels`) serve Adam and SGD when the addon loads; below them, and for the others, the WebAssembly
 * loops of provider `'wasm-fused-optimizer'`, which work on the backend's heap in place (declined, with the reason,
 * when an initialised wasm backend does not expose its memory). {@link initBackend} calls this when it picks wasm.
 * Calling it again is a no-op. Makes no tensors.
 *
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * await tf.setBackend('wasm');
 * registerWasmOptimizerKernels();
 * const unfused = ['native-fused-optimizer', 'wasm-fused-optimizer'];
 * withKernelProviders({ disable: unfused }, () => optimizer.applyGradients(grads)); // the per-variable ops
 * ```
 */
export function registerWasmOptimizerKernels(): void {
  const backend = tf.findBackend('wasm');
  const hidden = backend !== null && backend !== undefined && heapMemory(backend) === undefined;
  setKernelProvider(hidden ? { ...WASM_OPTIMIZER_PROVIDER, declined: MEMORY_HIDDEN } : WASM_OPTIMIZER_PROVIDER);
  installKernelProviders('wasm');
}

/** Why the WebAssembly loops decline: they need the backend's WebAssembly.Memory. */
const MEMORY_HIDDEN = 'this @tensorflow/tfjs-backend-wasm build does not expose its WebAssembly.Memory';

