// Calling the wasm backend's own kernels from inside a kernel, as tfjs-backend-wasm's kernels call each other.
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;

/**
 * Runs the registered `kernelName` of `backendName` (wasm unless named) on tensor infos; the caller frees the result
 * with {@link free}.
 */
export function callWasmKernel(kernelName: string, inputs: Record<string, TensorInfo>, backend: Backend, attrs: object, backendName = 'wasm'): TensorInfo {
  const kernel = tf.getKernel(kernelName, backendName);
  if (kernel === undefined) throw new Error(`the ${backendName} backend has no '${kernelName}' kernel; is its tfjs backend package loaded?`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

/** Frees intermediate results (reshapes share data and only drop a reference). */
export function free(backend: Backend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}


/** The arguments tfjs passes to a kernel function. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: Backend;
  attrs?: tf.NamedAttrMap;
}

/** Explicit NHWC padding: none on batch and channels, [top, bottom] and [left, right] on the spatial axes. */
export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/** The attributes tfjs passes to the convolution and depthwise backprop kernels, `dilations` included. */
export interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | ExplicitPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

/** Throws unless `dataFormat` is NHWC (or unset): convkit's wasm gradient kernels are written for channels-last. */
export function checkFormat(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} on wasm supports dataFormat 'NHWC' only (received '${dataFormat}')`);
  }
}

/** tfjs's shape arithmetic for a (depthwise when `depthwise`) NHWC convolution with the given backprop attributes. */
export function convInfo(xShape: number[], filterShape: number[], attrs: ConvBackpropAttrs, depthwise: boolean): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

/** {@link ExplicitPad} from the four spatial pads. */
export function explicitPad(top: number, bottom: number, left: number, right: number): ExplicitPad {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}
