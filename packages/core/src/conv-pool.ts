// conv + bias + relu + 2×2 max pool: as one kernel (forward and backward) for a network's first layers, on oneDNN's
// blocked layout for 3×3 convolutions over many channels, else as the separate kernels; and a layer that uses it.
import * as tf from '@tensorflow/tfjs';
import {
  BLOCKED_CONV_BACKPROP_FILTER_KERNEL,
  BLOCKED_CONV_BACKPROP_INPUT_KERNEL,
  BLOCKED_CONV_KERNEL,
  BLOCKED_RELU_POOL_GRAD_KERNEL,
  BLOCKED_RELU_POOL_KERNEL,
  CONV_RELU_POOL_GRAD_KERNEL,
  CONV_RELU_POOL_KERNEL,
  blockedConvFits,
} from './conv-pool-names.js';
import { fusedConv2d, type Conv2DLayerArgs } from './fused-conv.js';
import { poolBiasSums } from './pool-relu-gradient.js';

/**
 * The most input channels for which {@link conv2dReluPool} takes its one-kernel path: its direct loop beats oneDNN's
 * convolution plus the separate pool only where the convolution is cheap and its output large (a first layer; W1's
 * 1 → 32 channels on 28×28). Above it the op takes the blocked path where it can (see {@link conv2dReluPool}), else
 * runs `fusedConv2d` then `tf.maxPool`.
 */
export const CONV_RELU_POOL_MAX_IN_CHANNELS = 4;

/** The arguments of {@link conv2dReluPool}. */
export interface Conv2dReluPoolArgs {
  /** NHWC input, `[batch, height, width, inChannels]`. */
  x: tf.Tensor4D;
  /** HWIO filter, `[kernelHeight, kernelWidth, inChannels, outChannels]`. */
  filter: tf.Tensor4D;
  /** `[outChannels]`, or none. */
  bias?: tf.Tensor1D | tf.Tensor | null;
  /** The convolution's padding (stride 1, no dilation); the pool is always 2×2 at stride 2, `'valid'`. */
  pad: 'same' | 'valid';
}

/** What both one-kernel paths take: float32 operands with a bias. */
function float32WithBias(x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | undefined): bias is tf.Tensor {
  return x.dtype === 'float32' && filter.dtype === 'float32' && bias !== undefined && bias.dtype === 'float32';
}

/** Whether the backend has the one kernel and the call fits it. */
function takesFusedPath(x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | undefined): boolean {
  return (
    tf.getKernel(CONV_RELU_POOL_KERNEL, tf.getBackend()) !== undefined &&
    tf.getKernel(CONV_RELU_POOL_GRAD_KERNEL, tf.getBackend()) !== undefined &&
    float32WithBias(x, filter, bias) &&
    (x.shape[3] as number) <= CONV_RELU_POOL_MAX_IN_CHANNELS &&
    (x.shape[0] as number) > 0
  );
}

interface ConvReluPoolAttrs {
  pad: 'same' | 'valid';
}

const convReluPoolGradConfig: tf.GradConfig = {
  kernelName: CONV_RELU_POOL_KERNEL,
  inputsToSave: ['x', 'filter', 'bias'],
  // The output: the kernel may have recorded the pool's winners beside it.
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, bias, pooled] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor4D];
    const { pad } = attrs as unknown as ConvReluPoolAttrs;
    const backward = (withDz: boolean): tf.Tensor[] =>
      tf.engine().runKernel(CONV_RELU_POOL_GRAD_KERNEL, { x, filter, bias, dy: dy as tf.Tensor, pooled }, { pad, withDz } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    // The kernel gives the filter gradient and records the bias gradient beside it: one run serves both (and the input's
    // gradient, with dz, runs it again: a first layer's input needs none).
    let sums: Float32Array | undefined;
    const filterGradient = (): tf.Tensor => {
      const [dfilter] = backward(false) as [tf.Tensor];
      sums = poolBiasSums(dfilter);
      return dfilter;
    };
    return {
      x: () => {
        const [dfilter, dz] = backward(true) as [tf.Tensor, tf.Tensor];
        dfilter.dispose();
        const attrsIn = { strides: 1, pad, dataFormat: 'NHWC', dilations: 1, inputShape: x.shape };
        return tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, attrsIn as unknown as tf.NamedAttrMap) as tf.Tensor;
      },
      filter: filterGradient,
      bias: () => {
        if (sums === undefined) filterGradient().dispose();
        return tf.tensor1d(sums!);
      },
    };
  },
};

/** Registers the gradient of {@link CONV_RELU_POOL_KERNEL}. Idempotent; {@link conv2dReluPool} calls it. */
export function installConvReluPoolGradient(): void {
  if (tf.getGradient(CONV_RELU_POOL_KERNEL)?.gradFunc === convReluPoolGradConfig.gradFunc) return;
  tf.registerGradient(convReluPoolGradConfig);
}

/** Whether the backend's blocked kernels take the call (3×3 over 16·k channels with a bias; see `blockedConvFits`). */
function takesBlockedPath(x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | undefined, pad: 'same' | 'valid'): boolean {
  const backend = tf.getBackend();
  return (
    float32WithBias(x, filter, bias) &&
    tf.getKernel(BLOCKED_CONV_KERNEL, backend) !== undefined &&
    tf.getKernel(BLOCKED_RELU_POOL_KERNEL, backend) !== undefined &&
    blockedConvFits(backend, x.shape, filter.shape, pad)
  );
}

// The blocked convolution's gradients: x's and the filter's from the blocked dy, the bias's from the sums the pool's
// gradient kernel recorded beside dy (or, for a dy from anywhere else, its sum per channel).
const blockedConvGradConfig: tf.GradConfig = {
  kernelName: BLOCKED_CONV_KERNEL,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { pad } = attrs as unknown as ConvReluPoolAttrs;
    const gradient = dy as tf.Tensor;
    return {
      x: () => tf.engine().runKernel(BLOCKED_CONV_BACKPROP_INPUT_KERNEL, { dy: gradient, filter }, { pad, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      filter: () => tf.engine().runKernel(BLOCKED_CONV_BACKPROP_FILTER_KERNEL, { x, dy: gradient }, { pad, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      bias: () => {
        const sums = poolBiasSums(gradient);
        return sums === undefined ? tf.reshape(tf.sum(gradient, [0, 2, 3]), [filter.shape[3]]) : tf.tensor1d(sums);
      },
    };
  },
};

const blockedReluPoolGradConfig: tf.GradConfig = {
  kernelName: BLOCKED_RELU_POOL_KERNEL,
  inputsToSave: ['y'],
  gradFunc: (dy, saved) => {
    const [y] = saved as [tf.Tensor];
    return { y: () => tf.engine().runKernel(BLOCKED_RELU_POOL_GRAD_KERNEL, { y, dy: dy as tf.Tensor }, {}) as tf.Tensor };
  },
};

/** Registers the gradients of the blocked kernels. Idempotent; {@link conv2dReluPool} calls it. */
function installBlockedGradients(): void {
  if (tf.getGradient(BLOCKED_CONV_KERNEL)?.gradFunc !== blockedConvGradConfig.gradFunc) tf.registerGradient(blockedConvGradConfig);
  if (tf.getGradient(BLOCKED_RELU_POOL_KERNEL)?.gradFunc !== blockedReluPoolGradConfig.gradFunc) tf.registerGradient(blockedReluPoolGradConfig);
}

/**
 * `maxPool(relu(conv2d(x, filter) + bias), 2, 2, 'valid')`, the block of most small CNNs, in one of three ways:
 * - as one kernel where the backend has it (wasm with @convkit/native) and the convolution reads at most
 *   {@link CONV_RELU_POOL_MAX_IN_CHANNELS} channels with a bias (a first layer): each pair of output rows is computed
 *   and pooled in a buffer, so the full-size activation (W1's 64×28×28×32, 6.4 MB, written once and read four times by
 *   the separate kernels) never goes to memory; the backward pass finds the pool's winners (from a byte per pooled
 *   value the forward recorded under a gradient tape, or by computing the rows again), and the filter and bias
 *   gradients from them. Values: those of the separate kernels to float32 rounding (the
 *   convolution sums in another order than oneDNN's: ≤ 1e-6 relative in the tests, the same pool winners, the same NaN
 *   rules: relu keeps NaN, the pool never picks it); gradients to 1e-5.
 * - on the blocked path where the backend's blocked kernels take it (wasm with @convkit/native on AVX-512: 3×3 filters
 *   over 32 or more input and output channels in multiples of 16 with a bias, convolution algorithm not `'direct'`):
 *   oneDNN's Winograd convolution writes its output in its own blocked layout, relu and the pool read it there, and
 *   the gradient comes back in it, so the activation is never converted to NHWC and back (W1's second block: +12–15%
 *   training samples/s at 1 thread). Values: Winograd's rounding (within 2e-5 of the separate kernels in the tests);
 *   a NaN input reaches every output of its 4×4 Winograd tiles.
 * - otherwise {@link fusedConv2d} then `tf.maxPool`.
 * Stride 1, no dilation, NHWC float32. No second derivatives through the first two paths.
 *
 * @example
 * ```ts
 * const pooled = conv2dReluPool({ x, filter, bias, pad: 'same' }); // [batch, h/2, w/2, outChannels]
 * ```
 */
export function conv2dReluPool(args: Conv2dReluPoolArgs): tf.Tensor4D {
  const { x, filter, pad } = args;
  const bias = args.bias ?? undefined;
  if (!(x instanceof tf.Tensor) || x.rank !== 4) throw new Error(`conv2dReluPool: x must be a 4-D tensor [batch, height, width, channels] (received ${x instanceof tf.Tensor ? `[${x.shape}]` : typeof x})`);
  if (!(filter instanceof tf.Tensor) || filter.rank !== 4) throw new Error(`conv2dReluPool: filter must be a 4-D tensor [kh, kw, in, out] (received ${filter instanceof tf.Tensor ? `[${filter.shape}]` : typeof filter})`);
  if (x.shape[3] !== filter.shape[2]) {
    throw new Error(`conv2dReluPool: x's channels (x.shape[3] = ${x.shape[3]}) must equal filter's input channels (filter.shape[2] = ${filter.shape[2]})`);
  }
  if (pad !== 'same' && pad !== 'valid') throw new Error(`conv2dReluPool: pad must be 'same' or 'valid' (received ${String(pad)})`);
  if (bias !== undefined && (bias.rank !== 1 || bias.shape[0] !== filter.shape[3])) {
    throw new Error(`conv2dReluPool: bias must be [${filter.shape[3]}] (filter's output channels; received [${bias.shape}])`);
  }
  const outHeight = pad === 'same' ? x.shape[1] : x.shape[1] - filter.shape[0] + 1;
  const outWidth = pad === 'same' ? x.shape[2] : x.shape[2] - filter.shape[1] + 1;
  if (outHeight < 2 || outWidth < 2) {
    throw new Error(`conv2dReluPool: the convolution's output (${outHeight}×${outWidth}) must be at least 2×2 for the 2×2 pool`);
  }
  if (takesBlockedPath(x, filter, bias, pad)) {
    installBlockedGradients();
    return tf.tidy(() => {
      const y = tf.engine().runKernel(BLOCKED_CONV_KERNEL, { x, filter, bias: bias! }, { pad } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return tf.engine().runKernel(BLOCKED_RELU_POOL_KERNEL, { y }, {}) as tf.Tensor4D;
    });
  }
  if (!takesFusedPath(x, filter, bias)) {
    return tf.tidy(() => tf.maxPool(fusedConv2d({ x, filter, bias, strides: 1, pad, activation: 'relu' }) as tf.Tensor4D, 2, 2, 'valid'));
  }
  installConvReluPoolGradient();
  return tf.engine().runKernel(CONV_RELU_POOL_KERNEL, { x, filter, bias: bias! }, { pad } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** tfjs's Conv2D layer class (not exported by name by tfjs). */
const StockConv2D = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).constructor as unknown as new (args: Conv2DLayerArgs) => tf.layers.Layer;

/** The arguments of {@link conv2dPoolLayer}: `tf.layers.conv2d`'s, with relu, stride 1 and no dilation. */
export type Conv2DPoolLayerArgs = Omit<Conv2DLayerArgs, 'strides' | 'dilationRate' | 'activation'> & { activation?: 'relu' };

function samePair(value: number | number[] | undefined, expected: number): boolean {
  if (value === undefined) return true;
  return typeof value === 'number' ? value === expected : value.every((v) => v === expected);
}

/**
 * A `Conv2D` (3×3 or any kernel, stride 1, relu, `'same'` or `'valid'`) followed by a 2×2 max pool at stride 2, as one
 * layer: `tf.layers.conv2d` then `tf.layers.maxPooling2d({ poolSize: 2 })` in values and weights (`kernel`, `bias`),
 * running {@link conv2dReluPool}. Serialises as `ConvkitConv2DReluPool` (registered with `tf.serialization` when
 * @convkit/core is imported: import it before loading a saved model).
 */
export class Conv2DReluPool extends (StockConv2D as unknown as new (args: Conv2DLayerArgs) => tf.layers.Layer & { padding: string }) {
  static className = 'ConvkitConv2DReluPool';

  constructor(args: Conv2DPoolLayerArgs) {
    const config = args as Conv2DLayerArgs;
    if (config.activation !== undefined && config.activation !== 'relu') {
      throw new Error(`conv2dPoolLayer: activation must be 'relu' (received '${String(config.activation)}')`);
    }
    if (!samePair(config.strides, 1)) throw new Error(`conv2dPoolLayer: strides must be 1 (received ${JSON.stringify(config.strides)})`);
    if (!samePair(config.dilationRate, 1)) throw new Error(`conv2dPoolLayer: dilationRate must be 1 (received ${JSON.stringify(config.dilationRate)})`);
    if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') {
      throw new Error(`conv2dPoolLayer: dataFormat must be 'channelsLast' (received '${config.dataFormat}')`);
    }
    if (config.padding !== undefined && config.padding !== 'same' && config.padding !== 'valid') {
      throw new Error(`conv2dPoolLayer: padding must be 'same' or 'valid' (received '${config.padding}')`);
    }
    super({ ...config, activation: 'relu' });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const conv = super.computeOutputShape(inputShape) as tf.Shape;
    const half = (size: number | null | undefined): number | null => (size === null || size === undefined ? null : Math.floor(size / 2));
    return [conv[0] ?? null, half(conv[1]), half(conv[2]), conv[3] ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Record<string, unknown>): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const [kernel, bias] = this.weights;
    return tf.tidy(() =>
      conv2dReluPool({ x, filter: kernel!.read() as tf.Tensor4D, bias: bias === undefined ? null : bias.read(), pad: this.padding as 'same' | 'valid' }),
    );
  }
}
tf.serialization.registerClass(Conv2DReluPool as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/**
 * `tf.layers.conv2d(args)` with relu, then a 2×2 max pool at stride 2, as one layer ({@link Conv2DReluPool}): on wasm
 * with @convkit/native, for up to {@link CONV_RELU_POOL_MAX_IN_CHANNELS} input channels, one kernel forward and one
 * backward (W1's first block: the 6.4 MB activation of a batch of 64 never goes to memory); for 3×3 filters over 32 or
 * more channels on AVX-512, oneDNN's Winograd convolution with the activation in its blocked layout (W1's second
 * block); elsewhere the fused convolution and the pool (see {@link conv2dReluPool}).
 *
 * @example
 * ```ts
 * import { conv2dLayer, conv2dPoolLayer, tf } from '@convkit/core';
 * const model = tf.sequential({ layers: [
 *   conv2dPoolLayer({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same' }), // → 14×14×32
 *   conv2dPoolLayer({ filters: 64, kernelSize: 3, padding: 'same' }),                         // → 7×7×64
 *   tf.layers.flatten(),
 *   tf.layers.dense({ units: 10, activation: 'softmax' }),
 * ] });
 * ```
 */
export function conv2dPoolLayer(args: Conv2DPoolLayerArgs): tf.layers.Layer {
  return new Conv2DReluPool(args);
}
