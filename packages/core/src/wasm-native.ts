// oneDNN kernels on the wasm backend's heap, through @convkit/native when it is installed and built.
import * as tf from '@tensorflow/tfjs';
import type { FusedActivation, NativeKernels } from '@convkit/native';
import { getKernelProvider, installKernelProviders, removeKernelProvider, setKernelProvider, type NextKernel, type ProviderKernel } from './kernel-registry.js';
import { heapFloats, makeOutput } from './wasm-heap.js';
import { NATIVE_OPTIMIZER_PROVIDER_NAME, declineNativeOptimizerKernels, registerNativeOptimizerKernels } from './wasm-optimizer-kernels.js';
import { convInfo, type ConvBackpropAttrs, type KernelArgs } from './wasm-kernel-call.js';
import { MAX_POOL_RELU_GRAD_KERNEL, recordPoolBiasSums } from './pool-relu-gradient.js';
import { NATIVE_IMAGE_PROVIDER_NAME, declineNativeImageKernels, registerNativeImageKernels } from './native-image-kernels.js';
import { RELU_BIAS_GRAD_KERNEL, RELU_GRAD_KERNEL } from './relu-gradient.js';
import {
  BLOCKED_CONV_BACKPROP_FILTER_KERNEL,
  BLOCKED_CONV_BACKPROP_INPUT_KERNEL,
  BLOCKED_CONV_KERNEL,
  BLOCKED_RELU_POOL_GRAD_KERNEL,
  BLOCKED_RELU_POOL_KERNEL,
  CONV_RELU_POOL_GRAD_KERNEL,
  CONV_RELU_POOL_KERNEL,
  setBlockedConvFits,
} from './conv-pool-names.js';

type TensorInfo = tf.TensorInfo;

/** The kernels convkit runs through oneDNN on wasm when @convkit/native is available. */
export const NATIVE_KERNEL_NAMES: readonly string[] = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'BatchMatMul',
  'Sum',
  'MaxPoolGrad',
];

let kernels: NativeKernels | undefined;

/** The kernel below oneDNN's in the registry's stack, for what oneDNN does not take (NCHW, PReLU, int32, …). */
function fallback(next: NextKernel, args: KernelArgs): TensorInfo {
  return next(args) as TensorInfo;
}

function active(): NativeKernels {
  if (kernels === undefined) throw new Error('the native kernels are registered but @convkit/native is not loaded');
  return kernels;
}

function isEmpty(...shapes: number[][]): boolean {
  return shapes.some((shape) => shape.some((size) => size === 0));
}

function allFloat32(...infos: (TensorInfo | undefined)[]): boolean {
  return infos.every((info) => info === undefined || info.dtype === 'float32');
}

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * One oneDNN pass over a convolution's (or a pool's) geometry: runs `run` on heap views of `operands` (null for an
 * absent one) and of a new tensor of `outShape(info)`, or the kernel it replaced when oneDNN cannot take the call (NCHW,
 * a dtype other than float32, an empty operand, a geometry the addon refuses, such as a `dimRoundingMode` shape).
 */
function nativePass(
  name: string,
  next: NextKernel,
  args: KernelArgs,
  operands: readonly (TensorInfo | undefined)[],
  geometry: () => Conv2DInfo,
  outShape: (info: Conv2DInfo) => number[],
  run: (info: Conv2DInfo, views: (Float32Array | null)[], out: Float32Array) => void,
): TensorInfo {
  const { backend } = args;
  const format = (args.attrs as { dataFormat?: string } | undefined)?.dataFormat;
  const present = operands.filter((operand): operand is TensorInfo => operand !== undefined);
  if ((format !== undefined && format !== 'NHWC') || !allFloat32(...present) || isEmpty(...present.map((o) => o.shape))) {
    return fallback(next, args);
  }
  const info = geometry();
  if (active().geometryProblem(info) !== undefined) return fallback(next, args);
  const out = makeOutput(backend, outShape(info));
  const views = operands.map((operand) => (operand === undefined ? null : heapFloats(backend, operand, name)));
  run(info, views, heapFloats(backend, out, name));
  return out;
}

interface FusedConvAttrs extends ConvBackpropAttrs {
  activation?: string;
  leakyreluAlpha?: number;
}

const NATIVE_ACTIVATIONS = new Set<string>(['linear', 'relu', 'relu6', 'leakyrelu', 'elu', 'sigmoid']);

function convForward(name: 'Conv2D' | 'FusedConv2D', args: KernelArgs, next: NextKernel): TensorInfo {
  const { inputs } = args;
  const attrs = (args.attrs ?? {}) as unknown as FusedConvAttrs;
  const x = inputs['x'] as TensorInfo;
  const filter = inputs['filter'] as TensorInfo;
  const bias = inputs['bias'] as TensorInfo | undefined;
  const activation = attrs.activation ?? 'linear';
  const biasPerChannel = bias === undefined || tf.util.sizeFromShape(bias.shape) === filter.shape[3];
  if (!NATIVE_ACTIVATIONS.has(activation) || !biasPerChannel) return fallback(next, args);
  return nativePass(
    name,
    next,
    args,
    [x, filter, bias],
    () => convInfo(x.shape, filter.shape, attrs, false),
    (info) => info.outShape,
    (info, [xs, filters, biases], out) =>
      active().conv2d(info, xs!, filters!, biases ?? null, out, activation as FusedActivation, attrs.leakyreluAlpha ?? 0.2),
  );
}

function convBackpropInput(args: KernelArgs, next: NextKernel): TensorInfo {
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape: number[] };
  const filter = args.inputs['filter'] as TensorInfo;
  return nativePass(
    'Conv2DBackpropInput',
    next,
    args,
    [args.inputs['dy'], filter],
    () => convInfo(attrs.inputShape, filter.shape, attrs, false),
    () => attrs.inputShape,
    (info, [dy, filters], dx) => active().conv2dBackwardData(info, dy!, filters!, dx),
  );
}

function convBackpropFilter(args: KernelArgs, next: NextKernel): TensorInfo {
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { filterShape: number[] };
  const x = args.inputs['x'] as TensorInfo;
  return nativePass(
    'Conv2DBackpropFilter',
    next,
    args,
    [x, args.inputs['dy']],
    () => convInfo(x.shape, attrs.filterShape, attrs, false),
    () => attrs.filterShape,
    (info, [xs, dy], dfilter) => active().conv2dBackwardFilter(info, xs!, dy!, dfilter),
  );
}

/** tfjs's BatchMatMul: `a` `[...batch, m, k]` (or `k, m` transposed) by `b` `[...batch, k, n]`, batch dims broadcast. */
function batchMatMul(args: KernelArgs, next: NextKernel): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const a = inputs['a'] as TensorInfo;
  const b = inputs['b'] as TensorInfo;
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  if (!allFloat32(a, b) || rankA < 2 || rankB < 2 || isEmpty(a.shape, b.shape)) return fallback(next, args);
  const m = attrs.transposeA ? (a.shape[rankA - 1] as number) : (a.shape[rankA - 2] as number);
  const k = attrs.transposeA ? (a.shape[rankA - 2] as number) : (a.shape[rankA - 1] as number);
  const kB = attrs.transposeB ? (b.shape[rankB - 1] as number) : (b.shape[rankB - 2] as number);
  const n = attrs.transposeB ? (b.shape[rankB - 2] as number) : (b.shape[rankB - 1] as number);
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  // One operand's batch broadcasts only when it holds a single matrix; other broadcasts go to the stock kernel.
  if (k !== kB || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return fallback(next, args);
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = Math.max(batchA, batchB);
  if (tf.util.sizeFromShape(batchShape) !== batch) return fallback(next, args);
  const out = makeOutput(backend, [...batchShape, m, n]);
  active().matMul(
    batch,
    m,
    n,
    k,
    attrs.transposeA,
    attrs.transposeB,
    heapFloats(backend, a, 'BatchMatMul'),
    batchA === 1 ? 0 : m * k,
    heapFloats(backend, b, 'BatchMatMul'),
    batchB === 1 ? 0 : k * n,
    heapFloats(backend, out, 'BatchMatMul'),
  );
  return out;
}

/**
 * `Sum` over leading axes (a bias gradient sums `dy` over batch, height and width): one pass over memory. The stock
 * kernel transposes the reduced axes innermost first. Other reductions go to the stock kernel.
 */
function sum(args: KernelArgs, next: NextKernel): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const x = inputs['x'] as TensorInfo;
  const rank = x.shape.length;
  if (x.dtype !== 'float32' || rank < 2 || isEmpty(x.shape)) return fallback(next, args);
  const axes = [...new Set(tf.util.parseAxisParam(attrs.axis, x.shape))].sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < rank && axes.every((axis, i) => axis === i);
  if (!leading) return fallback(next, args);
  const kept = x.shape.slice(axes.length);
  const shape = attrs.keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const out = makeOutput(backend, shape);
  const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
  const cols = tf.util.sizeFromShape(kept);
  active().sumRows(heapFloats(backend, x, 'Sum'), rows, cols, heapFloats(backend, out, 'Sum'));
  return out;
}

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** `MaxPoolGrad` on OpenMP threads, with the cpu kernel's tie rule (first strictly greatest wins). */
function maxPoolGrad(args: KernelArgs, next: NextKernel): TensorInfo {
  const attrs = args.attrs as unknown as PoolGradAttrs;
  const input = args.inputs['input'] as TensorInfo;
  return nativePass(
    'MaxPoolGrad',
    next,
    args,
    [input, args.inputs['dy']],
    () =>
      tf.backend_util.computePool2DInfo(
        input.shape as [number, number, number, number],
        attrs.filterSize,
        attrs.strides,
        1,
        attrs.pad,
        attrs.dimRoundingMode,
      ),
    () => input.shape,
    (info, [x, dy], dx) => active().maxPoolGrad(info, x!, dy!, dx),
  );
}

/**
 * {@link MAX_POOL_RELU_GRAD_KERNEL}: the pool's gradient times relu's mask of its input, in one pass for 2×2 pools with
 * stride 2, else `maxPoolGrad` then `reluGrad` on the addon. In that pass the addon also sums the result per channel
 * (the bias gradient of the convolution below, bit for bit what `Sum` gives), recorded for `fusedConv2d`'s gradient
 * with `recordPoolBiasSums`. No stock kernel below it: `MaxPool`'s gradient calls it for float32 only.
 */
function maxPoolReluGrad(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const attrs = args.attrs as unknown as PoolGradAttrs;
  const input = args.inputs['input'] as TensorInfo;
  const dy = args.inputs['dy'] as TensorInfo;
  const out = makeOutput(backend, [...input.shape]);
  if (isEmpty(input.shape, dy.shape)) return out;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const name = MAX_POOL_RELU_GRAD_KERNEL;
  const x = heapFloats(backend, input, name);
  const gradient = heapFloats(backend, dy, name);
  const dx = heapFloats(backend, out, name);
  const native = active();
  if (native.maxPoolReluBiasGrad !== undefined) {
    const sums = new Float32Array(info.inChannels);
    if (native.maxPoolReluBiasGrad(info, x, gradient, dx, sums)) {
      recordPoolBiasSums(out.dataId as object, sums);
      return out;
    }
  }
  if (!native.maxPoolReluGrad!(info, x, gradient, dx)) {
    const pooled = new Float32Array(dx.length);
    native.maxPoolGrad(info, x, gradient, pooled);
    native.reluGrad!(pooled, x, dx);
  }
  return out;
}

interface ConvReluPoolAttrs {
  pad: 'same' | 'valid';
  withDz?: boolean;
}

/** The convolution geometry of {@link CONV_RELU_POOL_KERNEL} and its gradient: stride 1, no dilation, NHWC. */
function convReluPoolInfo(name: string, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, pad: ConvReluPoolAttrs['pad']): Conv2DInfo {
  if (!allFloat32(x, filter, bias) || x.shape.length !== 4 || filter.shape.length !== 4) {
    throw new Error(`${name}: x and filter must be 4-D float32 tensors (received ${x.dtype} [${x.shape}] and ${filter.dtype} [${filter.shape}])`);
  }
  const info = convInfo(x.shape, filter.shape, { strides: 1, pad, dilations: 1 } as unknown as ConvBackpropAttrs, false);
  const problem = active().geometryProblem(info);
  if (problem !== undefined || info.outHeight < 2 || info.outWidth < 2 || isEmpty(x.shape)) {
    throw new Error(`${name}: the convolution of x [${x.shape}] by filter [${filter.shape}] (pad '${pad}') must have an output of at least 2 × 2${problem === undefined ? '' : ` (${problem})`}`);
  }
  return info;
}

/**
 * The windows' winners {@link CONV_RELU_POOL_KERNEL} recorded beside its output (a byte per pooled value, see the
 * addon's `convReluPool`), by the output's data: its backward kernel reads them instead of computing the rows again.
 * They live as long as that data, or until that kernel has read them (it then gives them back for the next forward).
 */
const poolMasks = new WeakMap<object, Uint8Array>();

/**
 * Mask arrays the backward kernel has read (or a forward did not write), by length, for the next forward: a training
 * step then writes its winners into pages it already has. A fresh array each step (W1: 401,408 bytes) cost page
 * faults and, when freed, a TLB shootdown across the OpenMP threads: W1's page faults per step 62–67 → 24–34 with the
 * arrays reused, 13.4 → 12.8 ms a step at 1 thread and 11.2 → 10.0 at 2 (a 2-core EPYC VM). At most
 * {@link SPARE_MASKS} arrays are kept per length.
 */
const spareMasks = new Map<number, Uint8Array[]>();
const SPARE_MASKS = 4;

function takeMask(length: number): Uint8Array {
  return spareMasks.get(length)?.pop() ?? new Uint8Array(length);
}

function giveBackMask(mask: Uint8Array): void {
  const spare = spareMasks.get(mask.length);
  if (spare === undefined) spareMasks.set(mask.length, [mask]);
  else if (spare.length < SPARE_MASKS) spare.push(mask);
}

/** {@link CONV_RELU_POOL_KERNEL} on the addon: each pair of output rows computed and pooled in a buffer. */
function convReluPool(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const attrs = args.attrs as unknown as ConvReluPoolAttrs;
  const x = args.inputs['x'] as TensorInfo;
  const filter = args.inputs['filter'] as TensorInfo;
  const bias = args.inputs['bias'] as TensorInfo | undefined;
  const name = CONV_RELU_POOL_KERNEL;
  const info = convReluPoolInfo(name, x, filter, bias, attrs.pad);
  const out = makeOutput(backend, [info.batchSize, Math.floor(info.outHeight / 2), Math.floor(info.outWidth / 2), info.outChannels]);
  // The winners are kept only while a gradient tape records (inference does not pay for them).
  const recording = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
  const mask = recording ? takeMask(tf.util.sizeFromShape(out.shape)) : null;
  const masked = active().convReluPool!(info, heapFloats(backend, x, name), heapFloats(backend, filter, name), bias === undefined ? null : heapFloats(backend, bias, name), heapFloats(backend, out, name), mask);
  if (mask !== null) {
    if (masked === true) poolMasks.set(out.dataId as object, mask);
    else giveBackMask(mask);
  }
  return out;
}

/** {@link CONV_RELU_POOL_GRAD_KERNEL} on the addon; the bias gradient is recorded beside dfilter. */
function convReluPoolGrad(args: KernelArgs): TensorInfo[] {
  const { backend } = args;
  const attrs = args.attrs as unknown as ConvReluPoolAttrs;
  const x = args.inputs['x'] as TensorInfo;
  const filter = args.inputs['filter'] as TensorInfo;
  const bias = args.inputs['bias'] as TensorInfo | undefined;
  const dy = args.inputs['dy'] as TensorInfo;
  // The forward's output (optional): the winners recorded beside it, if any, spare computing the rows again.
  const pooled = args.inputs['pooled'] as TensorInfo | undefined;
  const mask = pooled === undefined ? undefined : poolMasks.get(pooled.dataId as object);
  const name = CONV_RELU_POOL_GRAD_KERNEL;
  const info = convReluPoolInfo(name, x, filter, bias, attrs.pad);
  const dfilter = makeOutput(backend, [...filter.shape]);
  const dz = attrs.withDz === true ? makeOutput(backend, info.outShape) : undefined;
  const sums = new Float32Array(info.outChannels);
  active().convReluPoolGrad!(
    info,
    heapFloats(backend, x, name),
    heapFloats(backend, filter, name),
    bias === undefined ? null : heapFloats(backend, bias, name),
    heapFloats(backend, dy, name),
    heapFloats(backend, dfilter, name),
    sums,
    dz === undefined ? null : heapFloats(backend, dz, name),
    mask ?? null,
  );
  if (mask !== undefined) {
    // Read once: a second backward through the same output (none in a training step) computes the rows again.
    poolMasks.delete(pooled!.dataId as object);
    giveBackMask(mask);
  }
  recordPoolBiasSums(dfilter.dataId as object, sums);
  return dz === undefined ? [dfilter] : [dfilter, dz];
}

/** The addon's blocked kernels (present: the provider lists the blocked kernels only then). */
function blockedKernels(): NonNullable<NativeKernels['blocked']> {
  const blocked = active().blocked;
  if (blocked === undefined) throw new Error('this build of @convkit/native has no blocked convolution kernels');
  return blocked;
}

/** The geometry of the convolution of `x` by `filter`, where the addon's blocked kernels take it (else undefined). */
function blockedGeometry(xShape: readonly number[], filterShape: readonly number[], pad: 'same' | 'valid'): Conv2DInfo | undefined {
  const blocked = kernels?.blocked;
  if (blocked === undefined || xShape.length !== 4 || filterShape.length !== 4 || isEmpty([...xShape])) return undefined;
  const info = convInfo([...xShape], [...filterShape], { strides: 1, pad, dilations: 1 } as unknown as ConvBackpropAttrs, false);
  return kernels!.geometryProblem(info) === undefined && blocked.fits(info) ? info : undefined;
}

/** {@link blockedGeometry} for a kernel: throws, naming the shapes, where the blocked kernels do not take it. */
function blockedInfo(name: string, xShape: number[], filterShape: number[], pad: 'same' | 'valid'): Conv2DInfo {
  const info = blockedGeometry(xShape, filterShape, pad);
  if (info === undefined) {
    throw new Error(`${name}: the blocked kernels do not take the convolution of x [${xShape}] by filter [${filterShape}] (pad '${pad}'; see blockedConvFits)`);
  }
  return info;
}

/** The shape test of the blocked path ({@link setBlockedConvFits}). */
const blockedFits = (xShape: readonly number[], filterShape: readonly number[], pad: 'same' | 'valid'): boolean => blockedGeometry(xShape, filterShape, pad) !== undefined;

/** The geometry the blocked pool kernels read (n, oh, ow, oc) from a blocked activation `[n, oc/16, oh, ow, 16]`. */
function blockedPoolInfo(name: string, y: TensorInfo): Conv2DInfo {
  const [n, blocks, oh, ow, lanes] = y.shape as number[];
  if (y.dtype !== 'float32' || y.shape.length !== 5 || lanes !== 16 || oh! < 2 || ow! < 2) {
    throw new Error(`${name}: y must be a float32 blocked activation [n, oc/16, oh, ow, 16] with oh, ow ≥ 2 (received ${y.dtype} [${y.shape}])`);
  }
  const oc = blocks! * 16;
  return convInfo([n!, oh!, ow!, oc], [1, 1, oc, oc], { strides: 1, pad: 'valid', dilations: 1 } as unknown as ConvBackpropAttrs, false);
}

/** {@link BLOCKED_CONV_KERNEL}: oneDNN's Winograd convolution, its output in nChw16c. */
function blockedConv(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const x = args.inputs['x'] as TensorInfo;
  const filter = args.inputs['filter'] as TensorInfo;
  const bias = args.inputs['bias'] as TensorInfo | undefined;
  const name = BLOCKED_CONV_KERNEL;
  if (!allFloat32(x, filter, bias)) throw new Error(`${name}: x, filter and bias must be float32 (received ${x.dtype}, ${filter.dtype}, ${bias?.dtype})`);
  const info = blockedInfo(name, [...x.shape], [...filter.shape], (args.attrs as { pad: 'same' | 'valid' }).pad);
  const y = makeOutput(backend, [info.batchSize, info.outChannels / 16, info.outHeight, info.outWidth, 16]);
  blockedKernels().conv(info, heapFloats(backend, x, name), heapFloats(backend, filter, name), bias === undefined ? null : heapFloats(backend, bias, name), heapFloats(backend, y, name));
  return y;
}

/** {@link BLOCKED_RELU_POOL_KERNEL}: relu and the 2×2 pool of a blocked activation, into NHWC. */
function blockedReluPool(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const y = args.inputs['y'] as TensorInfo;
  const name = BLOCKED_RELU_POOL_KERNEL;
  const info = blockedPoolInfo(name, y);
  const pooled = makeOutput(backend, [info.batchSize, Math.floor(info.outHeight / 2), Math.floor(info.outWidth / 2), info.outChannels]);
  blockedKernels().reluPool(info, heapFloats(backend, y, name), heapFloats(backend, pooled, name));
  return pooled;
}

/** {@link BLOCKED_RELU_POOL_GRAD_KERNEL}: y's gradient (blocked), the bias gradient recorded beside it. */
function blockedReluPoolGrad(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const y = args.inputs['y'] as TensorInfo;
  const dy = args.inputs['dy'] as TensorInfo;
  const name = BLOCKED_RELU_POOL_GRAD_KERNEL;
  const info = blockedPoolInfo(name, y);
  const expected = [info.batchSize, Math.floor(info.outHeight / 2), Math.floor(info.outWidth / 2), info.outChannels];
  if (dy.dtype !== 'float32' || dy.shape.join() !== expected.join()) {
    throw new Error(`${name}: dy must be float32 [${expected}] (received ${dy.dtype} [${dy.shape}])`);
  }
  const out = makeOutput(backend, [...y.shape]);
  const sums = new Float32Array(info.outChannels);
  blockedKernels().reluPoolGrad(info, heapFloats(backend, y, name), heapFloats(backend, dy, name), heapFloats(backend, out, name), sums);
  recordPoolBiasSums(out.dataId as object, sums);
  return out;
}

/** The blocked gradient `dy` of a convolution's output, checked against the geometry. */
function checkBlockedGradient(name: string, dy: TensorInfo, info: Conv2DInfo): void {
  const expected = [info.batchSize, info.outChannels / 16, info.outHeight, info.outWidth, 16];
  if (dy.dtype !== 'float32' || dy.shape.join() !== expected.join()) {
    throw new Error(`${name}: dy must be a float32 blocked gradient [${expected}] (received ${dy.dtype} [${dy.shape}])`);
  }
}

/** {@link BLOCKED_CONV_BACKPROP_INPUT_KERNEL}: x's gradient (NHWC) from a blocked `dy`. */
function blockedConvBackpropInput(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const dy = args.inputs['dy'] as TensorInfo;
  const filter = args.inputs['filter'] as TensorInfo;
  const { pad, inputShape } = args.attrs as unknown as { pad: 'same' | 'valid'; inputShape: number[] };
  const name = BLOCKED_CONV_BACKPROP_INPUT_KERNEL;
  const info = blockedInfo(name, [...inputShape], [...filter.shape], pad);
  checkBlockedGradient(name, dy, info);
  const dx = makeOutput(backend, [...inputShape]);
  blockedKernels().backwardData(info, heapFloats(backend, dy, name), heapFloats(backend, filter, name), heapFloats(backend, dx, name));
  return dx;
}

/** {@link BLOCKED_CONV_BACKPROP_FILTER_KERNEL}: the filter's gradient (HWIO) from x and a blocked `dy`. */
function blockedConvBackpropFilter(args: KernelArgs): TensorInfo {
  const { backend } = args;
  const x = args.inputs['x'] as TensorInfo;
  const dy = args.inputs['dy'] as TensorInfo;
  const { pad, filterShape } = args.attrs as unknown as { pad: 'same' | 'valid'; filterShape: number[] };
  const name = BLOCKED_CONV_BACKPROP_FILTER_KERNEL;
  const info = blockedInfo(name, [...x.shape], [...filterShape], pad);
  checkBlockedGradient(name, dy, info);
  const dfilter = makeOutput(backend, [...filterShape]);
  blockedKernels().backwardFilter(info, heapFloats(backend, x, name), heapFloats(backend, dy, name), heapFloats(backend, dfilter, name));
  return dfilter;
}

/** {@link RELU_GRAD_KERNEL} on OpenMP threads (float32; anything else goes below). */
function reluGrad(args: KernelArgs, next: NextKernel): TensorInfo {
  const { backend } = args;
  const dy = args.inputs['dy'] as TensorInfo;
  const x = args.inputs['x'] as TensorInfo;
  const run = active().reluGrad;
  if (run === undefined || !allFloat32(dy, x) || isEmpty(dy.shape)) return fallback(next, args);
  const out = makeOutput(backend, [...dy.shape]);
  run(heapFloats(backend, dy, RELU_GRAD_KERNEL), heapFloats(backend, x, RELU_GRAD_KERNEL), heapFloats(backend, out, RELU_GRAD_KERNEL));
  return out;
}

/**
 * {@link RELU_BIAS_GRAD_KERNEL} on OpenMP threads: `[dz, dbias]` from `dy` and relu's output `y` (float32, one shape,
 * channels innermost). It has no stock kernel below it: `fusedConv2d` calls it for float32 only.
 */
function reluBiasGrad(args: KernelArgs): TensorInfo[] {
  const { backend } = args;
  const dy = args.inputs['dy'] as TensorInfo;
  const y = args.inputs['y'] as TensorInfo;
  if (!allFloat32(dy, y) || !tf.util.arraysEqual(dy.shape, y.shape) || dy.shape.length === 0 || isEmpty(dy.shape)) {
    throw new Error(
      `${RELU_BIAS_GRAD_KERNEL}: dy and y must be non-empty float32 tensors of one shape (received ${dy.dtype} [${dy.shape}] and ${y.dtype} [${y.shape}])`,
    );
  }
  const channels = dy.shape[dy.shape.length - 1] as number;
  const dz = makeOutput(backend, [...dy.shape]);
  const dbias = makeOutput(backend, [channels]);
  const name = RELU_BIAS_GRAD_KERNEL;
  active().reluBiasGrad!(heapFloats(backend, dy, name), heapFloats(backend, y, name), channels, heapFloats(backend, dz, name), heapFloats(backend, dbias, name));
  return [dz, dbias];
}

/**
 * `Add` of two float32 tensors of one shape, or of a tensor and a bias over its innermost axis (`[…, C] + [C]`, in
 * either order: a conv or dense layer's bias in training, where tfjs does not fuse it), on OpenMP threads; every other
 * broadcast and dtype goes below. Each sum is one float32 rounding, as the stock kernel's.
 */
function add(args: KernelArgs, next: NextKernel): TensorInfo {
  const { backend } = args;
  const a = args.inputs['a'] as TensorInfo;
  const b = args.inputs['b'] as TensorInfo;
  const run = active().addRows;
  if (run === undefined || !allFloat32(a, b) || isEmpty(a.shape, b.shape) || a.shape.length === 0 || b.shape.length === 0) {
    return fallback(next, args);
  }
  const [big, small] = tf.util.sizeFromShape(a.shape) >= tf.util.sizeFromShape(b.shape) ? [a, b] : [b, a];
  const cols = big.shape[big.shape.length - 1] as number;
  const rows = tf.util.sizeFromShape(big.shape) / cols;
  const same = tf.util.arraysEqual(a.shape, b.shape);
  const bias = small.shape.length <= big.shape.length && small.shape[small.shape.length - 1] === cols && tf.util.sizeFromShape(small.shape) === cols;
  if (!same && !bias) return fallback(next, args);
  const out = makeOutput(backend, [...big.shape]);
  run(heapFloats(backend, big, 'Add'), rows, cols, heapFloats(backend, small, 'Add'), same ? rows : 1, heapFloats(backend, out, 'Add'));
  return out;
}

/** `Relu` of a float32 tensor on OpenMP threads (tfjs's rule: NaN kept, relu(−0) = +0); other dtypes go below. */
function relu(args: KernelArgs, next: NextKernel): TensorInfo {
  const { backend } = args;
  const x = args.inputs['x'] as TensorInfo;
  const run = active().relu;
  if (run === undefined || !allFloat32(x) || isEmpty(x.shape)) return fallback(next, args);
  const out = makeOutput(backend, [...x.shape]);
  run(heapFloats(backend, x, 'Relu'), heapFloats(backend, out, 'Relu'));
  return out;
}

/**
 * `MaxPool` on OpenMP threads with tfjs's cpu rule (NaN never wins; a window of NaN or −∞ gives −∞), the rule
 * `MaxPoolGrad` follows. The stock wasm kernel (XNNPACK) agrees on every window without NaN; with NaN it differs
 * (it gave −∞ for the window [NaN, 1, 2, 3]).
 */
function maxPool(args: KernelArgs, next: NextKernel): TensorInfo {
  const attrs = args.attrs as unknown as PoolGradAttrs;
  const x = args.inputs['x'] as TensorInfo;
  const run = active().maxPool;
  if (run === undefined) return fallback(next, args);
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  // A 1×1 window over every position is the identity (NaN kept), as tfjs's kernels take it.
  if (info.filterHeight === 1 && info.filterWidth === 1 && tf.util.arraysEqual(info.inShape, info.outShape)) return fallback(next, args);
  return nativePass(
    'MaxPool',
    next,
    args,
    [x],
    () => info,
    (geometry) => geometry.outShape,
    (info, [input], y) => run(info, input!, y),
  );
}

const conv2d: ProviderKernel = (args, next) => convForward('Conv2D', args, next);
const fusedConv2d: ProviderKernel = (args, next) => convForward('FusedConv2D', args, next);

const KERNELS: Record<string, ProviderKernel> = {
  Conv2D: conv2d,
  FusedConv2D: fusedConv2d,
  Conv2DBackpropInput: convBackpropInput,
  Conv2DBackpropFilter: convBackpropFilter,
  BatchMatMul: batchMatMul,
  Sum: sum,
  MaxPoolGrad: maxPoolGrad,
};

/** The provider's kernels for an addon: {@link KERNELS}, and the elementwise ones its build has. */
function kernelsFor(native: NativeKernels): Record<string, ProviderKernel> {
  return {
    ...KERNELS,
    ...(native.reluGrad === undefined ? {} : { [RELU_GRAD_KERNEL]: reluGrad }),
    ...(native.reluBiasGrad === undefined ? {} : { [RELU_BIAS_GRAD_KERNEL]: reluBiasGrad }),
    ...(native.maxPoolReluGrad === undefined || native.reluGrad === undefined ? {} : { [MAX_POOL_RELU_GRAD_KERNEL]: maxPoolReluGrad }),
    ...(native.addRows === undefined ? {} : { Add: add }),
    ...(native.relu === undefined ? {} : { Relu: relu }),
    ...(native.maxPool === undefined ? {} : { MaxPool: maxPool }),
    ...(native.convReluPool === undefined || native.convReluPoolGrad === undefined
      ? {}
      : { [CONV_RELU_POOL_KERNEL]: convReluPool, [CONV_RELU_POOL_GRAD_KERNEL]: convReluPoolGrad }),
    ...(native.blocked === undefined
      ? {}
      : {
          [BLOCKED_CONV_KERNEL]: blockedConv,
          [BLOCKED_RELU_POOL_KERNEL]: blockedReluPool,
          [BLOCKED_RELU_POOL_GRAD_KERNEL]: blockedReluPoolGrad,
          [BLOCKED_CONV_BACKPROP_INPUT_KERNEL]: blockedConvBackpropInput,
          [BLOCKED_CONV_BACKPROP_FILTER_KERNEL]: blockedConvBackpropFilter,
        }),
  };
}

/** The provider's name in the kernel registry (for `withKernelProviders({ disable: ['native'] }, …)`). */
export const NATIVE_PROVIDER_NAME = 'native';

/** Whether {@link registerNativeKernels} has put the oneDNN kernels on the wasm backend. */
export function nativeKernelsRegistered(): boolean {
  const provider = getKernelProvider(NATIVE_PROVIDER_NAME, 'wasm');
  return provider !== undefined && provider.declined === undefined;
}

/**
 * Runs the heavy kernels of a CNN training step on the wasm backend through oneDNN (@convkit/native):
 * `Conv2D`, `FusedConv2D` (bias and relu, relu6, leaky relu, elu or sigmoid fused), both convolution gradients,
 * `BatchMatMul` (transposes and single-matrix broadcasts), `Sum` over leading axes, `MaxPoolGrad`, relu's gradient
 * (`ConvkitReluGrad`), relu's and the bias's gradients of a fused conv layer in one pass (`ConvkitReluBiasGrad`), and `Add` (same shapes, or a bias), `Relu` and `MaxPool` as threaded loops; and, as the provider
 * `'native-fused-optimizer'`, the fused optimizer updates (see `registerWasmOptimizerKernels`) as C++ loops. Tensors stay on the wasm
 * heap: oneDNN reads and writes it in place, with no copy. What oneDNN does not take (NCHW, PReLU, other dtypes,
 * other broadcasts or reductions) goes to the kernel below it in the kernel registry (convkit's wasm kernels, then
 * tfjs's). Sets oneDNN's threads to `threads`.
 *
 * Why: XNNPACK's wasm SIMD peaks near a quarter of the CPU's native throughput; oneDNN's JIT kernels reach it, and
 * are the kernels PyTorch's CPU convolutions use.
 *
 * {@link initBackend} calls this when it picks wasm and the addon loads (`native: false` or `CONVKIT_NATIVE=0`
 * turn it off). It declares the registry provider `'native'` (label `oneDNN`, above convkit's wasm kernels); calling it
 * again only updates the threads.
 *
 * @example
 * ```ts
 * import { loadNative } from '@convkit/native';
 * registerWasmGradientKernels();
 * registerNativeKernels(loadNative(), 2);
 * ```
 */
export function registerNativeKernels(native: NativeKernels, threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer (received ${threads})`);
  for (const kernelName of NATIVE_KERNEL_NAMES) {
    if (tf.getKernel(kernelName, 'wasm') === undefined) {
      throw new Error(`the wasm backend has no '${kernelName}' kernel; is @tensorflow/tfjs-backend-wasm loaded?`);
    }
  }
  native.setThreads(threads);
  kernels = native;
  setKernelProvider({ name: NATIVE_PROVIDER_NAME, label: 'oneDNN', backend: 'wasm', priority: 200, kernels: kernelsFor(native) });
  setBlockedConvFits('wasm', blockedFits);
  registerNativeOptimizerKernels(native);
  registerNativeImageKernels(native);
  installKernelProviders('wasm');
}

/**
 * Declares the `'native'` provider declined, with `reason` (listed by `doctor` and `listKernelProviders`); its kernels
 * fall back to the ones below.
 */
export function declineNativeKernels(reason: string): void {
  kernels = undefined;
  setBlockedConvFits('wasm', undefined);
  setKernelProvider({ name: NATIVE_PROVIDER_NAME, label: 'oneDNN', backend: 'wasm', priority: 200, kernels: KERNELS, declined: reason });
  declineNativeOptimizerKernels(reason);
  declineNativeImageKernels(reason);
}

/** Takes the oneDNN kernels off; the kernels below them serve again. A no-op when none were registered. */
export function unregisterNativeKernels(): void {
  removeKernelProvider(NATIVE_PROVIDER_NAME, 'wasm');
  removeKernelProvider(NATIVE_OPTIMIZER_PROVIDER_NAME, 'wasm');
  removeKernelProvider(NATIVE_IMAGE_PROVIDER_NAME, 'wasm');
  setBlockedConvFits('wasm', undefined);
  kernels = undefined;
}

/**
 * @convkit/native's kernels (oneDNN's, and its JPEG decoder where it was built with libjpeg-turbo) with a one-line
 * description (`'oneDNN 2.6.3 (avx2)'`), or why @convkit/native cannot give them: the optional dependency, loaded on
 * first use. `initBackend` uses it, and so do the image pipelines of @convkit/augment and @convkit/data.
 *
 * @example
 * ```ts
 * const loaded = await loadNativeKernels();
 * console.log('reason' in loaded ? loaded.reason : loaded.detail); // 'oneDNN 2.6.3 (avx2)'
 * ```
 */
export async function loadNativeKernels(): Promise<{ kernels: NativeKernels; detail: string } | { reason: string }> {
  let module: typeof import('@convkit/native');
  try {
    module = await import('@convkit/native');
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const missing = code === 'ERR_MODULE_NOT_FOUND' && message?.includes("'@convkit/native'");
    return {
      reason: missing
        ? '@convkit/native is not installed (npm i @convkit/native, with libdnnl-dev)'
        : `@convkit/native failed to load: ${message}`,
    };
  }
  const status = module.nativeStatus();
  if (!status.available) return { reason: status.reason };
  return { kernels: module.loadNative(), detail: `oneDNN ${status.version} (${status.cpuIsa})` };
}

let jpegLoading: Promise<{ kernels: NativeKernels & Required<Pick<NativeKernels, 'decodeJpeg'>> } | { reason: string }> | undefined;

/**
 * {@link loadNativeKernels} for @convkit/native's JPEG decoder: the kernels when the addon loads and was built with
 * libjpeg-turbo's headers (so `decodeJpeg` is there), else why not. Loaded once for the process. The image pipelines of
 * @convkit/augment and @convkit/data use it.
 *
 * @example
 * ```ts
 * const loaded = await loadNativeJpegDecoder();
 * if ('kernels' in loaded) await loaded.kernels.decodeJpeg('photo.jpg', { scale: 2 });
 * ```
 */
export function loadNativeJpegDecoder(): Promise<{ kernels: NativeKernels & Required<Pick<NativeKernels, 'decodeJpeg'>> } | { reason: string }> {
  jpegLoading ??= loadNativeKernels().then((loaded) => {
    if ('reason' in loaded) return { reason: loaded.reason };
    if (loaded.kernels.decodeJpeg === undefined) {
      return { reason: '@convkit/native was built without libjpeg-turbo (Debian: apt-get install libjpeg62-turbo-dev, then npm rebuild @convkit/native)' };
    }
    return { kernels: loaded.kernels as NativeKernels & Required<Pick<NativeKernels, 'decodeJpeg'>> };
  });
  return jpegLoading;
}
