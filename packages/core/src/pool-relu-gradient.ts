// MaxPool's gradient fused with relu's, for the conv → relu → max-pool block of nearly every CNN.
import * as tf from '@tensorflow/tfjs';

/**
 * The fused backward kernel of `maxPool(y)` where `y` is relu's output: inputs `{ dy, input, output }` and attributes as
 * tfjs's `MaxPoolGrad`, output `reluGrad(maxPoolGrad(dy, input), input)`, bit for bit, in one pass instead of two
 * (relu's gradient from the output `y`, with `ConvkitReluGrad`'s rule: 1 where y > 0, NaN where y is NaN, else 0).
 * Served on wasm by the provider `'native'` (@convkit/native).
 */
export const MAX_POOL_RELU_GRAD_KERNEL = 'ConvkitMaxPoolReluGrad';

/**
 * What the pieces share, kept on tfjs's engine (a process-wide object) rather than in this module, so that two copies
 * of this package, or a module graph evaluated twice (as in a test runner), see the same state: the data of relu
 * outputs that `fusedConv2d` recorded, the pool gradients computed with relu's mask (→ the relu output's data), and
 * the data of the `xs` of each gradient computation running (innermost last).
 */
interface SharedState {
  reluOutputs: WeakSet<object>;
  maskedWith: WeakMap<object, object>;
  runningXs: Set<object>[];
  /** The column sums a pool gradient kernel took of its output in the same pass, by the output's data. */
  biasSums?: WeakMap<object, Float32Array>;
}

function shared(): SharedState {
  const engine = tf.engine() as unknown as { convkitPoolRelu?: SharedState };
  engine.convkitPoolRelu ??= { reluOutputs: new WeakSet(), maskedWith: new WeakMap(), runningXs: [] };
  engine.convkitPoolRelu.biasSums ??= new WeakMap();
  return engine.convkitPoolRelu;
}

/**
 * Notes a bias gradient a kernel took in the pass that wrote `dataId`'s tensor: a {@link MAX_POOL_RELU_GRAD_KERNEL}
 * kernel's sums of its output over every axis but the channels (the bias gradient of the convolution below, bit for bit
 * the backend's `Sum` over those axes), or the conv-relu-pool backward kernel's bias gradient beside its filter
 * gradient. Called by kernels (the wasm provider over @convkit/native); the sums live as long as that tensor's data.
 */
export function recordPoolBiasSums(dataId: object, sums: Float32Array): void {
  shared().biasSums!.set(dataId, sums);
}

/** The bias gradient a kernel recorded beside `tensor` (see {@link recordPoolBiasSums}), if any. */
export function poolBiasSums(tensor: tf.Tensor): Float32Array | undefined {
  return shared().biasSums!.get(dataOf(tensor));
}

function dataOf(tensor: tf.Tensor): object {
  return tensor.dataId as object;
}

/** Marks `y` as the relu output of a fused convolution recorded on the tape (called by `fusedConv2d`). */
export function markFusedReluOutput(y: tf.Tensor): void {
  shared().reluOutputs.add(dataOf(y));
}

/**
 * Whether `dy`, the gradient of relu's output `y`, came from {@link MAX_POOL_RELU_GRAD_KERNEL} with `y`'s mask already
 * applied: then relu's gradient is `dy` itself (the mask is idempotent) and only the bias sum is left to compute.
 * False when `dy` was summed with another consumer's gradient (a new tensor) or came from anywhere else.
 */
export function isReluMasked(dy: tf.Tensor, y: tf.Tensor): boolean {
  return shared().maskedWith.get(dataOf(dy)) === dataOf(y);
}

/**
 * The pool's input gradient may carry relu's mask only when nothing but the convolution's own gradient reads it:
 * when `x` is not one of the `xs` the gradient is asked for (the caller would get the masked gradient, which differs
 * where relu's output is 0), and not inside a higher-order gradient (whose tape would record the kernel).
 */
function canMask(x: tf.Tensor, dy: tf.Tensor): boolean {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || x.rank !== 4) return false;
  const { reluOutputs, runningXs } = shared();
  if (!reluOutputs.has(dataOf(x))) return false;
  if (tf.getKernel(MAX_POOL_RELU_GRAD_KERNEL, tf.getBackend()) === undefined) return false;
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  if (state.gradientDepth !== 0) return false;
  return runningXs.every((xs) => !xs.has(dataOf(x)));
}

interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
}

const maxPoolGradConfig: tf.GradConfig = {
  kernelName: 'MaxPool',
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { filterSize, strides, pad } = attrs as unknown as PoolAttrs;
    // tfjs's rule (its MaxPool gradient passes no rounding mode either), through the fused kernel where it may.
    const poolAttrs = { filterSize, strides, pad } as unknown as tf.NamedAttrMap;
    return {
      x: () => {
        const inputs = { dy: dy as tf.Tensor, input: x, output: y };
        if (!canMask(x, dy as tf.Tensor)) return tf.engine().runKernel('MaxPoolGrad', inputs, poolAttrs) as tf.Tensor;
        const dx = tf.engine().runKernel(MAX_POOL_RELU_GRAD_KERNEL, inputs, poolAttrs) as tf.Tensor;
        shared().maskedWith.set(dataOf(dx), dataOf(x));
        return dx;
      },
    };
  },
};

let installed = false;

/**
 * Makes `MaxPool`'s gradient apply relu's mask in the same pass when the pool reads the relu output of a fused
 * convolution (`fusedConv2d`, `conv2dLayer`) on a backend with {@link MAX_POOL_RELU_GRAD_KERNEL}, so that the
 * convolution's gradient only has the bias sum left: one pass over the activation instead of two (the pool's
 * gradient, then relu's and the bias's). Everywhere else it is tfjs's rule. The values are the same bit for bit; the
 * gradient returned for the pool's input itself is never masked: a computation that asks for it (it is one of the
 * `xs`), or a higher-order gradient, gets tfjs's. For that it notes the `xs` of each running gradient computation
 * (it wraps the engine's `gradients`). Idempotent; `fusedConv2d` calls it.
 */
export function installPoolReluGradient(): void {
  if (installed && tf.getGradient('MaxPool')?.gradFunc === maxPoolGradConfig.gradFunc) return;
  installed = true;
  tf.registerGradient(maxPoolGradConfig);
  const engine = tf.engine() as unknown as { gradients: (...args: unknown[]) => unknown; convkitTracksXs?: boolean };
  if (engine.convkitTracksXs === true) return;
  const gradients = engine.gradients.bind(engine);
  const { runningXs } = shared();
  engine.gradients = (f: unknown, xs: unknown, ...rest: unknown[]) => {
    runningXs.push(new Set((xs as tf.Tensor[]).map(dataOf)));
    try {
      return gradients(f, xs, ...rest);
    } finally {
      runningXs.pop();
    }
  };
  engine.convkitTracksXs = true;
}
