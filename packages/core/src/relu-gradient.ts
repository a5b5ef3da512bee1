// Relu's gradient through one fused kernel where a backend has it.
import * as tf from '@tensorflow/tfjs';

/**
 * The fused relu gradient kernel: inputs `{ dy, x }` (float32, one shape), output `dx = dy · step(x)` with
 * `step(x)` 1 where x > 0, 0 where x ≤ 0 and NaN where x is NaN: bit for bit tfjs's
 * `mul(dy, cast(step(x), 'float32'))`, in one pass instead of three kernels and two intermediate tensors.
 * Served on wasm by the providers `'native'` (oneDNN's threads) and `'wasm-gradients'`.
 */
export const RELU_GRAD_KERNEL = 'ConvkitReluGrad';

/**
 * The fused backward kernel of `relu(conv(x, filter) + bias)`: inputs `{ dy, y }` (float32, one shape, channels
 * innermost; `y` the layer's output), outputs `[dz, dbias]`: `dz = dy · step(y)` (bit for bit {@link RELU_GRAD_KERNEL}
 * of `y`, which equals that of the pre-activation: y > 0 exactly where it is > 0, NaN where it is NaN) and `dbias` its
 * sum over every axis but the channels: one pass instead of two. Served on wasm by the provider `'native'` (oneDNN's
 * threads); `fusedConv2d`'s gradient runs the two steps apart elsewhere.
 */
export const RELU_BIAS_GRAD_KERNEL = 'ConvkitReluBiasGrad';

/** The gradient config tfjs registered for `Relu`, kept as the fallback. */
let stock: tf.GradConfig | undefined;

function fusedAvailable(dy: tf.Tensor, x: tf.Tensor): boolean {
  return dy.dtype === 'float32' && x.dtype === 'float32' && tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend()) !== undefined;
}

/** dx = dy · step(x), through the fused kernel when the backend has one, else tfjs's three ops. */
export function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (fusedAvailable(dy, x)) return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x }, {}) as tf.Tensor;
  return tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}

/**
 * Makes `Relu`'s gradient run {@link RELU_GRAD_KERNEL} on backends that register it (the wasm backend once
 * `registerWasmGradientKernels` ran), and tfjs's own rule everywhere else; the values are the same bit for bit.
 * In a W1 training step on wasm this replaces 9 full-size kernels (Step, Cast, Multiply per conv layer) by 3.
 * The fused kernel's own gradient (second derivatives) is `{ dy: reluGrad(ddx, x), x: 0 }`, as tfjs's rule gives.
 * Idempotent.
 */
export function installReluGradient(): void {
  const current = tf.getGradient('Relu');
  if (current?.gradFunc === reluGradConfig.gradFunc) return;
  stock = current;
  tf.registerGradient(reluGradConfig);
  tf.registerGradient({
    kernelName: RELU_GRAD_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (ddx, saved) => {
      const [x] = saved as [tf.Tensor];
      return { dy: () => reluGrad(ddx as tf.Tensor, x), x: () => tf.zerosLike(x) };
    },
  });
}

const reluGradConfig: tf.GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    const gradient = dy as tf.Tensor;
    if (!fusedAvailable(gradient, x) && stock !== undefined) return stock.gradFunc(dy, saved, attrs);
    return { x: () => reluGrad(gradient, x) };
  },
};
