// Direct access to the wasm backend's heap, for kernels written as plain loops over its memory.
import type * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-backend-wasm's `BackendWasm` that convkit's heap kernels use. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Allocates an output tensor on the wasm heap; the kernel's caller owns it. */
export function makeOutput(backend: tf.KernelBackend, shape: number[]): tf.TensorInfo {
  return (backend as unknown as WasmHeapBackend).makeOutput(shape, 'float32');
}

/**
 * A Float32Array view of a float32 tensor's memory. Views go stale when the heap grows, so take them after every
 * allocation the kernel makes and use them before it calls another kernel.
 */
export function heapFloats(backend: tf.KernelBackend, info: tf.TensorInfo, kernelName: string): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`${kernelName} on wasm supports float32 tensors only (received ${info.dtype})`);
  return (backend as unknown as WasmHeapBackend).typedArrayFromHeap(info) as Float32Array;
}
