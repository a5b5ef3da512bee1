// conv2d + bias + relu as one kernel in training too, and a tf.layers.conv2d that uses it.
import * as tf from '@tensorflow/tfjs';
import { kernelServedBy } from './kernel-registry.js';
import { installPoolReluGradient, isReluMasked, markFusedReluOutput, poolBiasSums } from './pool-relu-gradient.js';
import { RELU_BIAS_GRAD_KERNEL, reluGrad } from './relu-gradient.js';
import { NATIVE_PROVIDER_NAME } from './wasm-native.js';

/** The arguments of {@link fusedConv2d}: tfjs's `tf.fused.conv2d` arguments. */
export type FusedConv2dArgs = Parameters<typeof tf.fused.conv2d>[0];

type Strides = [number, number] | number;

interface FusedConvAttrs {
  strides: Strides;
  pad: FusedConv2dArgs['pad'];
  dataFormat: 'NHWC';
  dilations: [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation: 'relu';
  leakyreluAlpha?: number;
}

/** Whether a tensor is a per-channel bias for `channels` output channels (`[C]`). */
function isChannelBias(bias: tf.Tensor | undefined | null, channels: number): boolean {
  return bias === undefined || bias === null || (bias.rank === 1 && bias.shape[0] === channels);
}

function isUnitDilation(dilations: FusedConv2dArgs['dilations']): boolean {
  if (dilations === undefined) return true;
  return typeof dilations === 'number' ? dilations === 1 : dilations.every((d) => d === 1);
}

/**
 * Whether the active backend's `FusedConv2D` with relu keeps NaN, as tfjs's `Relu` does: cpu (a separate relu), and
 * wasm when @convkit/native serves it (it takes the activation apart when the sums could hold a NaN). tfjs's wasm
 * (XNNPACK) and webgpu kernels clamp with max(x, 0), which turns NaN into 0: a diverged layer would train on as if
 * healthy, so there the op keeps tfjs's unfused path.
 */
function fusedReluKeepsNaN(): boolean {
  const backend = tf.getBackend();
  if (backend === 'cpu') return true;
  return backend === 'wasm' && kernelServedBy('wasm', 'FusedConv2D') === NATIVE_PROVIDER_NAME && tf.getKernel(RELU_BIAS_GRAD_KERNEL, 'wasm') !== undefined;
}

/**
 * The calls {@link fusedConv2d} runs as one kernel in training: relu, NHWC, 4-D float32, unit dilation, `[C]` bias,
 * on a backend whose fused relu keeps NaN.
 */
function takesFusedPath(args: FusedConv2dArgs): boolean {
  const { x, filter, bias } = args;
  return (
    args.activation === 'relu' &&
    (args.dataFormat ?? 'NHWC') === 'NHWC' &&
    isUnitDilation(args.dilations) &&
    x instanceof tf.Tensor &&
    filter instanceof tf.Tensor &&
    x.rank === 4 &&
    filter.rank === 4 &&
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    (bias === undefined || bias === null || (bias instanceof tf.Tensor && bias.dtype === 'float32')) &&
    isChannelBias(bias as tf.Tensor | undefined, filter.shape[3] as number) &&
    args.preluActivationWeights === undefined &&
    fusedReluKeepsNaN()
  );
}

/**
 * `relu(conv2d(x, filter) + bias)` as one `FusedConv2D` kernel, also while gradients are recorded. tfjs's
 * `tf.fused.conv2d` splits into three kernels (`Conv2D`, `Add`, `Relu`) whenever a gradient is being recorded (its
 * `shouldFuse` refuses every activation but linear there), so a training step writes and rereads two extra full-size
 * activations per layer, and its backward pass runs relu's gradient and the bias sum as two more passes. This op keeps
 * the forward kernel fused (on wasm with @convkit/native: one oneDNN convolution with bias and relu post-ops) and
 * records a gradient that runs {@link RELU_BIAS_GRAD_KERNEL} (one pass giving relu's gradient and the bias gradient) where
 * the backend has it, then the two convolution gradients; it saves the output only, not the pre-activation. Values:
 * those of `tf.fused.conv2d` in training (the same convolution; the bias is added inside it, one rounding as with the
 * separate `Add`; the gradients are the same kernels in the same order, the bias sum in float64 as the native `Sum`).
 *
 * Takes `tf.fused.conv2d`'s arguments; calls it does not fuse (an activation other than relu, NCHW, dilation, a
 * PReLU, a bias other than `[outChannels]`, non-float32 tensors, a 3-D `x`) go to `tf.fused.conv2d` unchanged, and so
 * does every call on a backend whose fused relu would turn NaN into 0 (tfjs's wasm kernels without @convkit/native,
 * webgpu): the op runs fused on wasm with @convkit/native and on cpu.
 *
 * @example
 * ```ts
 * const y = fusedConv2d({ x, filter, bias, strides: 1, pad: 'same', activation: 'relu' });
 * ```
 */
export function fusedConv2d(args: FusedConv2dArgs): tf.Tensor {
  if (!takesFusedPath(args)) return tf.fused.conv2d(args);
  const x = args.x as tf.Tensor4D;
  const filter = args.filter as tf.Tensor4D;
  if (x.shape[3] !== filter.shape[2]) {
    throw new Error(
      `fusedConv2d: x's channels (x.shape[3] = ${x.shape[3]}) must equal filter's input channels (filter.shape[2] = ${filter.shape[2]})`,
    );
  }
  installFusedConvGradient();
  const attrs: FusedConvAttrs = {
    strides: args.strides,
    pad: args.pad,
    dataFormat: 'NHWC',
    dilations: [1, 1],
    activation: 'relu',
    ...(args.dimRoundingMode === undefined ? {} : { dimRoundingMode: args.dimRoundingMode }),
  };
  const inputs: tf.NamedTensorMap = { x, filter };
  if (args.bias !== undefined && args.bias !== null) inputs['bias'] = args.bias as tf.Tensor;
  const y = tf.engine().runKernel('FusedConv2D', inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  markFusedReluOutput(y);
  return y;
}

/** `[dz, dbias]` for relu's output `y` and its gradient `dy`: the fused kernel where the backend has it. */
function reluBiasGrad(dy: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (tf.getKernel(RELU_BIAS_GRAD_KERNEL, tf.getBackend()) !== undefined) {
    return tf.engine().runKernel(RELU_BIAS_GRAD_KERNEL, { dy, y }, {}) as unknown as [tf.Tensor, tf.Tensor];
  }
  const dz = reluGrad(dy, y);
  return [dz, tf.sum(dz, [0, 1, 2])];
}

const fusedConvGradConfig: tf.GradConfig = {
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { activation, strides, pad, dimRoundingMode, dataFormat } = attrs as unknown as FusedConvAttrs;
    if (activation !== 'relu' || dataFormat !== 'NHWC') {
      // Only fusedConv2d records FusedConv2D on the tape (tfjs's own fused op records its customGrad instead).
      throw new Error(`fusedConv2d's gradient takes activation 'relu' in NHWC (received activation '${activation}', dataFormat '${dataFormat}')`);
    }
    // Computed once for the three gradients; the tape disposes it when the backward pass ends. When a max pool's
    // gradient already applied relu's mask (the pool reads y and nothing else reads y's gradient), dy is relu's gradient,
    // and the pool's kernel may have summed it per channel in the same pass (the bias gradient, as `Sum` gives it).
    const masked = isReluMasked(dy as tf.Tensor, y);
    const [dz, dbias] = masked ? [dy as tf.Tensor, undefined] : reluBiasGrad(dy as tf.Tensor, y);
    const sums = masked ? poolBiasSums(dz) : undefined;
    const common = { strides, pad, dataFormat, dimRoundingMode };
    return {
      x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, { ...common, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz }, { ...common, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      bias: () => (dbias !== undefined ? dbias.clone() : sums !== undefined ? tf.tensor1d(sums) : tf.sum(dz, [0, 1, 2])),
    };
  },
};

const reluBiasGradGradConfig: tf.GradConfig = {
  kernelName: RELU_BIAS_GRAD_KERNEL,
  inputsToSave: ['y'],
  gradFunc: (dys, saved) => {
    // dz = dy · step(y), dbias = Σ dz: the gradient of dy is (ddz + ddbias broadcast) · step(y); y's is zero.
    const [y] = saved as [tf.Tensor];
    const [ddz, ddbias] = dys as (tf.Tensor | null)[];
    return {
      dy: () => {
        const total = ddz === null || ddz === undefined ? tf.zerosLike(y) : ddz;
        return reluGrad(ddbias === null || ddbias === undefined ? total : tf.add(total, ddbias), y);
      },
      y: () => tf.zerosLike(y),
    };
  },
};

/**
 * Registers the gradient of `FusedConv2D` that {@link fusedConv2d} records (tfjs registers none: its own fused op
 * records a custom gradient) and that of {@link RELU_BIAS_GRAD_KERNEL} (second derivatives), and `MaxPool`'s that
 * applies relu's mask when it reads the op's output (`installPoolReluGradient`). Idempotent; the op calls it.
 */
export function installFusedConvGradient(): void {
  // fusedConv2d calls this on every call: one lookup when everything is in place.
  if (tf.getGradient('FusedConv2D')?.gradFunc === fusedConvGradConfig.gradFunc) return;
  tf.registerGradient(fusedConvGradConfig);
  tf.registerGradient(reluBiasGradGradConfig);
  installPoolReluGradient();
}

/** The arguments of `tf.layers.conv2d`. */
export type Conv2DLayerArgs = Parameters<typeof tf.layers.conv2d>[0];

interface FusedPlan {
  strides: [number, number];
  padding: 'same' | 'valid';
}

/** What a built Conv2D layer needs to run through {@link fusedConv2d}, or null when it takes tfjs's own path. */
function planFor(layer: tf.layers.Layer): FusedPlan | null {
  const config = layer.getConfig() as {
    activation?: unknown;
    dataFormat?: string;
    dilationRate?: number | number[];
    strides?: number | number[];
    padding?: string;
    useBias?: boolean;
  };
  const dilation = config.dilationRate ?? 1;
  const unit = typeof dilation === 'number' ? dilation === 1 : dilation.every((d) => d === 1);
  if (config.activation !== 'relu' || (config.dataFormat ?? 'channelsLast') !== 'channelsLast' || !unit) return null;
  if (config.padding !== 'same' && config.padding !== 'valid') return null;
  const strides = config.strides ?? 1;
  return {
    strides: typeof strides === 'number' ? [strides, strides] : [strides[0] as number, (strides[1] ?? strides[0]) as number],
    padding: config.padding,
  };
}

/**
 * `tf.layers.conv2d(args)` whose forward pass runs through {@link fusedConv2d} when its activation is relu (NHWC, no
 * dilation): in training one fused kernel forward and one fused relu/bias gradient backward, where tfjs's layer runs
 * five kernels. The layer is tfjs's own `Conv2D` (same weights, config, `getClassName()`, serialisation: a saved model
 * loads as a plain `Conv2D` anywhere); other activations and layouts run tfjs's code unchanged. In a W1 training step
 * on wasm with @convkit/native this takes 4 of the step's ~20 kernels over full-size activations away.
 *
 * @example
 * ```ts
 * import { conv2dLayer, tf } from '@convkit/core';
 * const model = tf.sequential({ layers: [
 *   conv2dLayer({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
 *   tf.layers.maxPooling2d({ poolSize: 2 }),
 *   tf.layers.flatten(),
 *   tf.layers.dense({ units: 10, activation: 'softmax' }),
 * ] });
 * ```
 */
export function conv2dLayer(args: Conv2DLayerArgs): tf.layers.Layer {
  const layer = tf.layers.conv2d(args);
  const stockCall = layer.call.bind(layer);
  let plan: FusedPlan | null | undefined;
  layer.call = (inputs, kwargs) => {
    plan ??= planFor(layer);
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const [kernel, bias] = layer.weights;
    if (plan === null || x === undefined || (Array.isArray(inputs) && inputs.length !== 1) || kernel === undefined) {
      return stockCall(inputs, kwargs);
    }
    const fused = plan;
    return tf.tidy(() =>
      fusedConv2d({
        x: x as tf.Tensor4D,
        filter: kernel.read() as tf.Tensor4D,
        bias: bias === undefined ? undefined : bias.read(),
        strides: fused.strides,
        pad: fused.padding,
        activation: 'relu',
      }),
    );
  };
  return layer;
}
