// A fast path for transposed matrix products on the wasm backend.
import * as tf from '@tensorflow/tfjs';
import type { KernelProvider, NextKernel } from './kernel-registry.js';
import { free, type KernelArgs } from './wasm-kernel-call.js';

type TensorInfo = tf.TensorInfo;

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

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
 * explicitly (a memory copy) and runs the plain product of the kernel below (the stock one).
 */
function batchMatMul(args: KernelArgs, stock: NextKernel): TensorInfo {
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
 * The fast path for transposed `BatchMatMul` on wasm, as a kernel provider (above convkit's gradient kernels, which do
 * not serve `BatchMatMul`, and below oneDNN's). Declared by `registerWasmGradientKernels`.
 */
export const WASM_MATMUL_PROVIDER: KernelProvider = {
  name: 'wasm-matmul',
  label: 'convkit-wasm',
  backend: 'wasm',
  priority: 110,
  kernels: { BatchMatMul: batchMatMul },
};
