// `Identity` on the wasm backend without a copy.
import type * as tf from '@tensorflow/tfjs';
import type { KernelProvider, NextKernel } from './kernel-registry.js';
import type { KernelArgs } from './wasm-kernel-call.js';

/** The part of tfjs-backend-wasm's `BackendWasm` that shares a buffer between tensors (as its `Reshape` does). */
interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/**
 * `Identity` (`tf.clone`, and the engine's copy of every tensor the gradient tape saves for the backward pass) as a
 * second reference to the same buffer, as the cpu and webgpu backends do it. tfjs-backend-wasm 4.22 copies the whole
 * buffer instead: in a W1 training step that was 31 copies of every layer's inputs and outputs, ~12% of the step.
 * Tensors are immutable (every kernel writes only the outputs it allocates), so the shared buffer is never changed
 * under either tensor; it is freed when the last one is disposed. Strings go to the stock kernel.
 */
function sharedIdentity(args: KernelArgs, next: NextKernel): tf.TensorInfo {
  const x = args.inputs['x'] as tf.TensorInfo;
  if (x.dtype === 'string') return next(args) as tf.TensorInfo;
  (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** `Identity` without a copy on wasm, as a kernel provider. Declared by `registerWasmGradientKernels`. */
export const WASM_IDENTITY_PROVIDER: KernelProvider = {
  name: 'wasm-identity',
  label: 'convkit-wasm',
  backend: 'wasm',
  priority: 100,
  kernels: { Identity: sharedIdentity },
};
