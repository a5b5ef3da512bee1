// Image kernels of @convkit/native on the wasm backend: plain C++ loops with no state, so a DataLoader's worker thread
// can use them where oneDNN's kernels stay off.
import type * as tf from '@tensorflow/tfjs';
import type { NativeKernels } from '@convkit/native';
import { installKernelProviders, removeKernelProvider, setKernelProvider, type NextKernel, type ProviderKernel } from './kernel-registry.js';
import { heapFloats, makeOutput } from './wasm-heap.js';
import type { KernelArgs } from './wasm-kernel-call.js';

/** The provider's name in the kernel registry (for `withKernelProviders({ disable: ['native-image'] }, …)`). */
export const NATIVE_IMAGE_PROVIDER_NAME = 'native-image';

interface TransformAttrs {
  interpolation: 'nearest' | 'bilinear';
  fillMode: 'constant' | 'reflect' | 'wrap' | 'nearest';
  fillValue: number;
  outputShape?: [number, number] | null;
}

/**
 * `Transform` (`tf.image.transform`) through the addon's `transformImages`: float32 images, `'constant'` or
 * `'nearest'` fill; the rest (`'reflect'`, `'wrap'`, other dtypes, empty tensors) goes to the kernel below.
 */
function transformKernel(native: Required<Pick<NativeKernels, 'transformImages'>>): ProviderKernel {
  return (args: KernelArgs, next: NextKernel) => {
    const { backend } = args;
    const image = args.inputs['image'] as tf.TensorInfo;
    const transforms = args.inputs['transforms'] as tf.TensorInfo;
    const { interpolation, fillMode, fillValue, outputShape } = args.attrs as unknown as TransformAttrs;
    const [batch, height, width, channels] = image.shape as [number, number, number, number];
    const [outHeight, outWidth] = outputShape ?? [height, width];
    if (
      image.dtype !== 'float32' ||
      transforms.dtype !== 'float32' ||
      (fillMode !== 'constant' && fillMode !== 'nearest') ||
      [batch, height, width, channels, outHeight, outWidth].some((size) => size === 0)
    ) {
      return next(args);
    }
    const out = makeOutput(backend, [batch, outHeight, outWidth, channels]);
    native.transformImages(
      heapFloats(backend, image, 'Transform'),
      [batch, height, width, channels],
      heapFloats(backend, transforms, 'Transform'),
      // tfjs-backend-wasm's rule: anything but 'nearest' interpolates bilinearly; one row of maps serves every image.
      { outHeight, outWidth, interpolation: interpolation === 'nearest' ? 'nearest' : 'bilinear', fillMode, fillValue, perImage: transforms.shape[0]! > 1 },
      heapFloats(backend, out, 'Transform'),
    );
    return out;
  };
}

/**
 * Declares @convkit/native's image kernels on the wasm backend (provider `'native-image'`, label `convkit-native`):
 * `Transform` (`tf.image.transform`, which `@convkit/augment`'s `batchAffine` uses) as one C++ loop, bit for bit
 * tfjs-backend-wasm's values, several times faster. The loop keeps no state, so unlike oneDNN's kernels it may run in
 * a worker thread: a `DataLoader`'s workers call this on their own wasm backend. {@link initBackend} calls it with the
 * oneDNN kernels. Returns false (and declares nothing) when the addon predates these kernels.
 *
 * @example
 * ```ts
 * const loaded = await loadNativeKernels();
 * if ('kernels' in loaded) registerNativeImageKernels(loaded.kernels);
 * ```
 */
export function registerNativeImageKernels(native: Pick<NativeKernels, 'transformImages'>): boolean {
  const { transformImages } = native;
  if (transformImages === undefined) {
    declineNativeImageKernels('the @convkit/native addon predates transformImages; rebuild it (npm rebuild @convkit/native)');
    return false;
  }
  setKernelProvider({
    name: NATIVE_IMAGE_PROVIDER_NAME,
    label: 'convkit-native',
    backend: 'wasm',
    priority: 200,
    kernels: { Transform: transformKernel({ transformImages }) },
  });
  installKernelProviders('wasm');
  return true;
}

const unavailable: ProviderKernel = (args, next) => next(args);

/** Declares the image kernels declined, with `reason` (listed by `doctor`); tfjs's own serve. */
export function declineNativeImageKernels(reason: string): void {
  setKernelProvider({ name: NATIVE_IMAGE_PROVIDER_NAME, label: 'convkit-native', backend: 'wasm', priority: 200, kernels: { Transform: unavailable }, declined: reason });
}

/** Takes the image kernels off; tfjs's serve again. */
export function unregisterNativeImageKernels(): void {
  removeKernelProvider(NATIVE_IMAGE_PROVIDER_NAME, 'wasm');
}
