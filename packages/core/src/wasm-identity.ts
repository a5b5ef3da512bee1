// `Identity` and `Cast` on the wasm backend: no copy for the same dtype, the cpu rule for bool.
import type * as tf from '@tensorflow/tfjs';
import type { KernelProvider, NextKernel } from './kernel-registry.js';
import type { KernelArgs } from './wasm-kernel-call.js';
import { heapValues, makeOutput } from './wasm-heap.js';

/** The part of tfjs-backend-wasm's `BackendWasm` that shares a buffer between tensors (as its `Reshape` does). */
interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/**
 * `Cast` of int32 or float32 to bool as `x ≠ 0` (NaN is true), the cpu backend's rule. tfjs-backend-wasm 4.22 keeps
 * the low byte instead: int32 −2 became 254, 256 became 0 (false), 0.5 became 0.
 */
function castToBool(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo {
  const out = makeOutput(backend, [...x.shape], 'bool');
  const values = heapValues(backend, x);
  const flags = heapValues(backend, out);
  for (let i = 0; i < values.length; i++) flags[i] = values[i] !== 0 ? 1 : 0;
  return out;
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

/**
 * `Cast` to the dtype a tensor already has (tfjs's relu gradient casts its float32 mask to float32) as a shared
 * buffer, as the cpu backend does it; the stock wasm kernel copies. A cast to bool follows the cpu rule
 * ({@link castToBool}). Every other cast goes to the stock kernel.
 */
function sharedCast(args: KernelArgs, next: NextKernel): tf.TensorInfo {
  const x = args.inputs['x'] as tf.TensorInfo;
  const dtype = (args.attrs as { dtype?: tf.DataType } | undefined)?.dtype;
  if (dtype === 'bool' && (x.dtype === 'int32' || x.dtype === 'float32')) {
    return castToBool(x, args.backend);
  }
  if (dtype !== x.dtype || (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool')) return next(args) as tf.TensorInfo;
  return sharedIdentity(args, next);
}

/**
 * `Identity` and same-dtype `Cast` without a copy on wasm (and a cast to bool by the cpu rule), as a kernel provider.
 * Declared by `registerWasmGradientKernels`.
 */
export const WASM_IDENTITY_PROVIDER: KernelProvider = {
  name: 'wasm-identity',
  label: 'convkit-wasm',
  backend: 'wasm',
  priority: 100,
  kernels: { Identity: sharedIdentity, Cast: sharedCast },
};
