// Fixes to tfjs's cpu backend, the reference every other backend is tested against, as a kernel-registry provider.
import * as tf from '@tensorflow/tfjs';
import { installKernelProviders, setKernelProvider, type KernelProvider } from './kernel-registry.js';
import type { KernelArgs } from './wasm-kernel-call.js';

interface CpuBackend {
  data: { get(dataId: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
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

/** convkit's fixes on the cpu backend (above tfjs's stock kernels). */
export const CPU_FIXES_PROVIDER: KernelProvider = {
  name: 'cpu-fixes',
  label: 'convkit-cpu',
  backend: 'cpu',
  priority: 100,
  kernels: { ResizeNearestNeighborGrad: resizeNearestNeighborGrad },
};

/**
 * Puts convkit's fixes on tfjs's cpu backend (the `ResizeNearestNeighborGrad` batch bug, see the kernel's doc) through
 * the kernel registry. {@link initBackend} calls it on every rung, since tests and tools compare against cpu.
 * Idempotent. Makes no tensors.
 */
export function installCpuKernels(): void {
  setKernelProvider(CPU_FIXES_PROVIDER);
  installKernelProviders('cpu');
}
