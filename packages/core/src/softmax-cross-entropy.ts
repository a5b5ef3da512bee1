// Softmax cross-entropy from logits as one kernel forward and one backward, where tfjs's composition runs ~35 small
// kernels per training step (max, sub, exp, sum, log, … and their gradients), each with the engine's bookkeeping.
import * as tf from '@tensorflow/tfjs';
import { heapValues, makeOutput } from './wasm-heap.js';
import type { KernelArgs } from './wasm-kernel-call.js';
import type { CpuBackend } from './cpu-kernels.js';

/** The forward kernel: inputs `{ labels, logits }`, output the batch's mean loss (a float32 scalar). */
export const SOFTMAX_CROSS_ENTROPY_KERNEL = 'ConvkitSoftmaxCrossEntropy';
/** The backward kernel: inputs `{ dy, labels, logits }`, output the logits' gradient. */
export const SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL = 'ConvkitSoftmaxCrossEntropyGrad';

/** Reads a tensor's values inside a kernel, on the backends the kernels are registered for. */
type Reader = (backend: tf.KernelBackend, info: tf.TensorInfo) => ArrayLike<number>;
/** Makes a float32 output from values. */
type Writer = (backend: tf.KernelBackend, shape: number[], values: Float32Array) => tf.TensorInfo;

/** The rows (every axis but the last) and the classes (the last axis) of logits. */
function rowsOf(logits: tf.TensorInfo): { rows: number; classes: number } {
  const classes = logits.shape[logits.shape.length - 1] ?? 1;
  return { rows: classes === 0 ? 0 : tf.util.sizeFromShape(logits.shape) / classes, classes };
}

/**
 * A row's log-sum-exp in float64: max + log Σ exp(x − max). NaN when the row holds NaN or +∞, or is all −∞ (as
 * tfjs's logSoftmax gives NaN there).
 */
function logSumExp(x: ArrayLike<number>, at: number, classes: number): number {
  let max = -Infinity;
  for (let j = 0; j < classes; j++) max = Math.max(max, x[at + j] as number);
  if (!Number.isFinite(max)) return Number.NaN;
  let sum = 0;
  for (let j = 0; j < classes; j++) sum += Math.exp((x[at + j] as number) - max);
  return max + Math.log(sum);
}

/** Row i's class index for integer labels, checked: an index outside [0, classes) would otherwise train as no label. */
function classIndex(labels: ArrayLike<number>, i: number, classes: number): number {
  const k = labels[i] as number;
  if (!Number.isInteger(k) || k < 0 || k >= classes) {
    throw new Error(`softmaxCrossEntropyFromLogits: labels[${i}] = ${k} is not a class index in [0, ${classes})`);
  }
  return k;
}

/** The forward pass on values: mean over rows of Σ_j y_ij (lse_i − x_ij), in float64. */
function forwardValues(labels: ArrayLike<number>, sparse: boolean, x: ArrayLike<number>, rows: number, classes: number): number {
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const at = i * classes;
    const lse = logSumExp(x, at, classes);
    if (sparse) {
      total += lse - (x[at + classIndex(labels, i, classes)] as number);
      continue;
    }
    for (let j = 0; j < classes; j++) {
      const y = labels[at + j] as number;
      if (y !== 0) total += y * (lse - (x[at + j] as number));
    }
  }
  return rows === 0 ? Number.NaN : total / rows;
}

/** The backward pass on values: d_ij = dy · (softmax_ij · Σ_k y_ik − y_ij) / rows, in float64 per element. */
function backwardValues(dy: number, labels: ArrayLike<number>, sparse: boolean, x: ArrayLike<number>, rows: number, classes: number, out: Float32Array): void {
  const scale = dy / rows;
  for (let i = 0; i < rows; i++) {
    const at = i * classes;
    const lse = logSumExp(x, at, classes);
    let mass = 1;
    let hot = -1;
    if (sparse) hot = classIndex(labels, i, classes);
    else {
      mass = 0;
      for (let j = 0; j < classes; j++) mass += labels[at + j] as number;
    }
    for (let j = 0; j < classes; j++) {
      const y = sparse ? (j === hot ? 1 : 0) : (labels[at + j] as number);
      out[at + j] = scale * (Math.exp((x[at + j] as number) - lse) * mass - y);
    }
  }
}

/** A backend's pair of kernel functions. */
export interface SoftmaxCrossEntropyKernels {
  forward: tf.KernelFunc;
  backward: tf.KernelFunc;
}

function kernels(read: Reader, write: Writer): SoftmaxCrossEntropyKernels {
  const forward = (args: KernelArgs): tf.TensorInfo => {
    const labels = args.inputs['labels'] as tf.TensorInfo;
    const logits = args.inputs['logits'] as tf.TensorInfo;
    const { rows, classes } = rowsOf(logits);
    const value = forwardValues(read(args.backend, labels), labels.dtype === 'int32', read(args.backend, logits), rows, classes);
    return write(args.backend, [], Float32Array.of(value));
  };
  const backward = (args: KernelArgs): tf.TensorInfo => {
    const dy = args.inputs['dy'] as tf.TensorInfo;
    const labels = args.inputs['labels'] as tf.TensorInfo;
    const logits = args.inputs['logits'] as tf.TensorInfo;
    const { rows, classes } = rowsOf(logits);
    const out = new Float32Array(rows * classes);
    backwardValues(read(args.backend, dy)[0] as number, read(args.backend, labels), labels.dtype === 'int32', read(args.backend, logits), rows, classes, out);
    return write(args.backend, [...logits.shape], out);
  };
  return { forward: forward as unknown as tf.KernelFunc, backward: backward as unknown as tf.KernelFunc };
}

/** The kernels on wasm: plain loops over the heap (a few microseconds for a batch of 64 × 10 classes). */
export const WASM_SOFTMAX_CROSS_ENTROPY_KERNELS: SoftmaxCrossEntropyKernels = kernels(
  (backend, info) => heapValues(backend, info),
  (backend, shape, values) => {
    const out = makeOutput(backend, shape);
    (heapValues(backend, out) as Float32Array).set(values);
    return out;
  },
);

/** The kernels on cpu. */
export const CPU_SOFTMAX_CROSS_ENTROPY_KERNELS: SoftmaxCrossEntropyKernels = kernels(
  (backend, info) => (backend as unknown as CpuBackend).data.get(info.dataId).values,
  (backend, shape, values) => (backend as unknown as CpuBackend).makeTensorInfo(shape, 'float32', values),
);

const gradConfig: tf.GradConfig = {
  kernelName: SOFTMAX_CROSS_ENTROPY_KERNEL,
  inputsToSave: ['labels', 'logits'],
  gradFunc: (dy, saved) => {
    const [labels, logits] = saved as [tf.Tensor, tf.Tensor];
    return {
      logits: () => tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, { dy: dy as tf.Tensor, labels, logits }) as tf.Tensor,
      // Soft labels' gradient (rarely asked for): −logSoftmax(logits) · dy / rows; none for class indices.
      labels: () =>
        labels.dtype === 'int32'
          ? tf.zerosLike(labels)
          : tf.tidy(() => tf.mul(tf.neg(tf.logSoftmax(logits)), tf.div(dy as tf.Tensor, rowsOf(logits).rows))),
    };
  },
};

/** Registers the gradient of {@link SOFTMAX_CROSS_ENTROPY_KERNEL}. Idempotent. */
export function installSoftmaxCrossEntropyGradient(): void {
  if (tf.getGradient(SOFTMAX_CROSS_ENTROPY_KERNEL)?.gradFunc === gradConfig.gradFunc) return;
  tf.registerGradient(gradConfig);
}

/**
 * The mean over the batch of −Σ_j labels_j · logSoftmax(logits)_j: `tf.losses.softmaxCrossEntropy(labels, logits)`
 * with its defaults (PyTorch's `F.cross_entropy` with probabilities or class indices). `logits` `[..., classes]`;
 * `labels` one-hot or soft labels of the same shape, or int32 class indices of shape `logits.shape.slice(0, -1)`
 * (an index outside `[0, classes)` throws, naming it). On wasm and cpu one kernel forward and one backward, in float64
 * per row (log-sum-exp with the row's max taken out): within float32 rounding of tfjs's composition, which runs ~35
 * kernels per training step; other backends run the composition. NaN in a row's logits gives NaN.
 *
 * @example
 * ```ts
 * const loss = softmaxCrossEntropyFromLogits(tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3), logits);
 * ```
 */
export function softmaxCrossEntropyFromLogits(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  const name = 'softmaxCrossEntropyFromLogits';
  if (!(logits instanceof tf.Tensor) || logits.rank < 1) {
    throw new Error(`${name}: logits must be a tensor of rank ≥ 1, classes last (received ${logits instanceof tf.Tensor ? `a scalar` : typeof logits})`);
  }
  if (!(labels instanceof tf.Tensor)) throw new Error(`${name}: labels must be a tensor (received ${typeof labels})`);
  if (logits.dtype !== 'float32') throw new Error(`${name}: logits must be float32 (received ${logits.dtype})`);
  const sparse = labels.dtype === 'int32';
  const expected = sparse ? logits.shape.slice(0, -1) : logits.shape;
  if (!tf.util.arraysEqual(labels.shape, expected) || (!sparse && labels.dtype !== 'float32')) {
    throw new Error(
      `${name}: labels must be float32 of the logits' shape [${logits.shape.join(', ')}] or int32 class indices of shape ` +
        `[${logits.shape.slice(0, -1).join(', ')}] (received ${labels.dtype} [${labels.shape.join(', ')}])`,
    );
  }
  if (logits.size === 0) throw new Error(`${name}: logits are empty (shape [${logits.shape.join(', ')}])`);
  const backend = tf.getBackend();
  if (tf.getKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, backend) !== undefined && tf.getKernel(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, backend) !== undefined) {
    installSoftmaxCrossEntropyGradient();
    return tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, { labels, logits }) as tf.Scalar;
  }
  return tf.tidy(() => {
    const classes = logits.shape[logits.rank - 1]!;
    const dense = sparse ? tf.oneHot(labels.flatten(), classes).reshape(logits.shape).toFloat() : labels;
    return tf.neg(tf.mean(tf.sum(tf.mul(dense, tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}
