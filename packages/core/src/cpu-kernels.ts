// Fixes to tfjs's cpu backend, the reference every other backend is tested against, as a kernel-registry provider.
import * as tf from '@tensorflow/tfjs';
import { installKernelProviders, setKernelProvider, type KernelProvider, type NextKernel } from './kernel-registry.js';
import type { KernelArgs } from './wasm-kernel-call.js';
import { CPU_SOFTMAX_CROSS_ENTROPY_KERNELS, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from './softmax-cross-entropy.js';

/** The parts of tfjs-backend-cpu that convkit's cpu kernels use. */
export interface CpuBackend {
  data: { get(dataId: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  disposeIntermediateTensorInfo(info: tf.TensorInfo): void;
}

/**
 * `Transform` (`tf.image.transform`) over a batch. tfjs-backend-cpu 4.22 returns from inside its batch loop, so only
 * the first image is transformed (the rest of the output keeps the fill value).
 * This runs the stock kernel (`next`) on each image with its own row of `transforms` (or the shared one) and stacks
 * the results, so every value is the stock kernel's.
 */
function transformBatch(args: KernelArgs, next: NextKernel): tf.TensorInfo {
  const backend = args.backend as unknown as CpuBackend;
  const image = args.inputs['image'] as tf.TensorInfo;
  const transforms = args.inputs['transforms'] as tf.TensorInfo;
  const batch = image.shape[0]!;
  if (batch <= 1) return next(args) as tf.TensorInfo;
  const imageValues = backend.data.get(image.dataId).values as Float32Array;
  const transformValues = backend.data.get(transforms.dataId).values as Float32Array;
  const perImage = imageValues.length / batch;
  const shared = transforms.shape[0] === 1;
  let output: Float32Array | undefined;
  let outputShape: number[] = [];
  for (let b = 0; b < batch; b++) {
    const one = backend.makeTensorInfo([1, ...image.shape.slice(1)], image.dtype, imageValues.slice(b * perImage, (b + 1) * perImage));
    const row = backend.makeTensorInfo([1, 8], transforms.dtype, shared ? transformValues.slice(0, 8) : transformValues.slice(b * 8, b * 8 + 8));
    const out = next({ ...args, inputs: { image: one, transforms: row } }) as tf.TensorInfo;
    const values = backend.data.get(out.dataId).values as Float32Array;
    if (output === undefined) {
      outputShape = [batch, ...out.shape.slice(1)];
      output = new (values.constructor as Float32ArrayConstructor)(batch * values.length);
    }
    output.set(values, b * values.length);
    for (const info of [one, row, out]) backend.disposeIntermediateTensorInfo(info);
  }
  return backend.makeTensorInfo(outputShape, image.dtype, output!);
}

/**
 * The gradient of `ResizeNearestNeighbor` (what `upSampling2d` and `tf.image.resizeNearestNeighbor` train through):
 * each input pixel sums the `dy` pixels whose nearest source it was. tfjs-backend-cpu 4.22 reads `dy` at the image
 * tensor's batch offset instead of `dy`'s own, so every batch element after the first gets another element's
 * gradient (wasm and webgpu are right); and all three ignore `halfPixelCenters`. This one is the exact adjoint of
 * tfjs's cpu forward kernel, for every `alignCorners` and `halfPixelCenters`.
 */
function resizeNearestNeighborGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as unknown as CpuBackend;
  const images = args.inputs['images'] as tf.TensorInfo;
  const dy = args.inputs['dy'] as tf.TensorInfo;
  const attrs = (args.attrs ?? {}) as { alignCorners?: boolean; halfPixelCenters?: boolean };
  const alignCorners = attrs.alignCorners === true;
  const halfPixel = attrs.halfPixelCenters === true;
  const [batch, xHeight, xWidth, depth] = images.shape as [number, number, number, number];
  const [, yHeight, yWidth] = dy.shape as [number, number, number, number];
  const dyValues = backend.data.get(dy.dataId).values;
  const output = new Float32Array(batch * xHeight * xWidth * depth);
  const effective = (x: number, y: number): [number, number] => (alignCorners && y > 1 ? [x - 1, y - 1] : [x, y]);
  const [effectiveXHeight, effectiveYHeight] = effective(xHeight, yHeight);
  const [effectiveXWidth, effectiveYWidth] = effective(xWidth, yWidth);
  const heightScale = effectiveXHeight / effectiveYHeight;
  const widthScale = effectiveXWidth / effectiveYWidth;
  // The forward kernel's rounding (tfjs-backend-cpu's resizeNearestNeighbor), half-pixel centres included.
  const nearest = (index: number, scale: number, size: number): number => {
    const fraction = halfPixel ? scale * (index + 0.5) : scale * index;
    const source = Math.min(size - 1, alignCorners ? Math.round(fraction) : Math.floor(fraction));
    return halfPixel ? Math.max(0, source) : source;
  };
  // Each dy pixel has exactly one nearest source pixel: scatter-add instead of tfjs's window search (same result).
  for (let b = 0; b < batch; b++) {
    for (let dyRow = 0; dyRow < yHeight; dyRow++) {
      const row = nearest(dyRow, heightScale, xHeight);
      for (let dyCol = 0; dyCol < yWidth; dyCol++) {
        const col = nearest(dyCol, widthScale, xWidth);
        const from = ((b * yHeight + dyRow) * yWidth + dyCol) * depth;
        const to = ((b * xHeight + row) * xWidth + col) * depth;
        for (let d = 0; d < depth; d++) output[to + d] = (output[to + d] as number) + (dyValues[from + d] as number);
      }
    }
  }
  return backend.makeTensorInfo(images.shape, 'float32', output);
}

/** convkit's fixes on the cpu backend (above tfjs's stock kernels), and its softmax cross-entropy kernels. */
export const CPU_FIXES_PROVIDER: KernelProvider = {
  name: 'cpu-fixes',
  label: 'convkit-cpu',
  backend: 'cpu',
  priority: 100,
  kernels: {
    ResizeNearestNeighborGrad: resizeNearestNeighborGrad,
    Transform: transformBatch,
    [SOFTMAX_CROSS_ENTROPY_KERNEL]: CPU_SOFTMAX_CROSS_ENTROPY_KERNELS.forward as unknown as (args: KernelArgs) => tf.TensorInfo,
    [SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL]: CPU_SOFTMAX_CROSS_ENTROPY_KERNELS.backward as unknown as (args: KernelArgs) => tf.TensorInfo,
  },
};

/**
 * Puts convkit's fixes on tfjs's cpu backend (the `ResizeNearestNeighborGrad` and `Transform` batch bugs, see the kernels' docs) through
 * the kernel registry. {@link initBackend} calls it on every rung, since tests and tools compare against cpu.
 * Idempotent. Makes no tensors.
 */
export function installCpuKernels(): void {
  setKernelProvider(CPU_FIXES_PROVIDER);
  installKernelProviders('cpu');
}
