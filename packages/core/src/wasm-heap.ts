// Direct access to the wasm backend's heap, for kernels written as plain loops over its memory.
import type * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-backend-wasm's `BackendWasm` that convkit's heap kernels use. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Allocates an output tensor (float32 unless `dtype` says otherwise) on the wasm heap; the kernel's caller owns it. */
export function makeOutput(backend: tf.KernelBackend, shape: number[], dtype: tf.DataType = 'float32'): tf.TensorInfo {
  return (backend as unknown as WasmHeapBackend).makeOutput(shape, dtype);
}

/** A view of any numeric tensor's memory on the wasm heap, typed by its dtype (bool: Uint8Array). Same staleness rule as {@link heapFloats}. */
export function heapValues(backend: tf.KernelBackend, info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array {
  return (backend as unknown as WasmHeapBackend).typedArrayFromHeap(info);
}

/**
 * A Float32Array view of a float32 tensor's memory. Views go stale when the heap grows, so take them after every
 * allocation the kernel makes and use them before it calls another kernel.
 */
export function heapFloats(backend: tf.KernelBackend, info: tf.TensorInfo, kernelName: string): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`${kernelName} on wasm supports float32 tensors only (received ${info.dtype})`);
  return (backend as unknown as WasmHeapBackend).typedArrayFromHeap(info) as Float32Array;
}

/** A WebAssembly.Memory (typed here: the package compiles without the DOM library, which declares it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

/** The parts of the backend that give the heap's WebAssembly.Memory and a tensor's byte offset in it. */
interface WasmMemoryBackend {
  wasm: { wasmMemory?: WasmMemory; asm?: { memory?: WasmMemory }; HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/**
 * The wasm backend's heap as a WebAssembly.Memory (the threaded build's shared one, or the exported one), so that
 * another module can work on it in place; undefined when this tfjs-backend-wasm build exposes neither.
 */
export function heapMemory(backend: tf.KernelBackend): WasmMemory | undefined {
  const { wasm } = backend as unknown as WasmMemoryBackend;
  const memory = wasm?.wasmMemory ?? wasm?.asm?.memory;
  return memory !== undefined && memory.buffer === wasm.HEAPU8.buffer ? memory : undefined;
}

/** A float32 tensor's byte offset in the wasm heap. */
export function heapOffset(backend: tf.KernelBackend, info: tf.TensorInfo, kernelName: string): number {
  if (info.dtype !== 'float32') throw new Error(`${kernelName} on wasm supports float32 tensors only (received ${info.dtype})`);
  const entry = (backend as unknown as WasmMemoryBackend).dataIdMap.get(info.dataId);
  if (entry === undefined) throw new Error(`${kernelName}: a tensor's data is not on the wasm heap`);
  return entry.memoryOffset;
}
