// A fast path for transposed matrix products on the wasm backend.
import * as tf from '@tensorflow/tfjs';
import { free } from './wasm-kernel-call.js';

type TensorInfo = tf.TensorInfo;

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** The stock wasm `BatchMatMul`, kept when convkit's replaces it. */
let stockBatchMatMul: tf.KernelFunc | undefined;

/** Swaps the last two axes. */
function transposeInner(x: TensorInfo, backend: tf.KernelBackend): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
  const kernel = tf.getKernel('Transpose', 'wasm');
  if (kernel === undefined) throw new Error("the wasm backend has no 'Transpose' kernel");
  return kernel.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
}

/**
 * `BatchMatMul` with `transposeA` or `transposeB` runs 8–15× slower than without on the stock wasm backend
 * (measured: a 1568×64 by 64×64 product with transposeA took 16.5 ms, against 2.1 ms for an explicit transpose
 * followed by a plain product). Every dense layer's backward pass uses both. This kernel transposes the operand
 * explicitly (a memory copy) and runs the stock plain product.
 */
function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): TensorInfo {
  const stock = stockBatchMatMul;
  if (stock === undefined) throw new Error('the stock wasm BatchMatMul kernel was not captured');
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as BatchMatMulAttrs;
  if (!attrs.transposeA && !attrs.transposeB) return stock(args) as TensorInfo;
  const a = inputs['a'] as TensorInfo;
  const b = inputs['b'] as TensorInfo;
  const aPlain = attrs.transposeA ? transposeInner(a, backend) : a;
  const bPlain = attrs.transposeB ? transposeInner(b, backend) : b;
  const out = stock({
    inputs: { a: aPlain, b: bPlain },
    backend,
    attrs: { ...(args.attrs as tf.NamedAttrMap), transposeA: false, transposeB: false },
  }) as TensorInfo;
  if (aPlain !== a) free(backend, aPlain);
  if (bPlain !== b) free(backend, bPlain);
  return out;
}

/**
 * Replaces the wasm backend's `BatchMatMul` with one that runs transposed products as an explicit transpose
 * followed by the stock plain product (see the measurement above). Idempotent. Makes no tensors.
 */
export function registerWasmMatMulKernel(): void {
  const existing = tf.getKernel('BatchMatMul', 'wasm');
  if (existing === undefined || existing.kernelFunc === (batchMatMul as tf.KernelFunc)) return;
  stockBatchMatMul = existing.kernelFunc;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: batchMatMul as tf.KernelFunc });
}
