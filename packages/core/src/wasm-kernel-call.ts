// Calling the wasm backend's own kernels from inside a kernel, as tfjs-backend-wasm's kernels call each other.
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;

/** Runs the wasm backend's registered `kernelName` on tensor infos; the caller frees the result with {@link free}. */
export function callWasmKernel(kernelName: string, inputs: Record<string, TensorInfo>, backend: Backend, attrs: object): TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined) throw new Error(`the wasm backend has no '${kernelName}' kernel; is @tensorflow/tfjs-backend-wasm loaded?`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

/** Frees intermediate results (reshapes share data and only drop a reference). */
export function free(backend: Backend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

