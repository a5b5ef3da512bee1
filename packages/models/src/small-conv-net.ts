import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '@convkit/core';
import { activationLayer, checkActivation, checkOutputActivation } from './activation.js';
import type { Activation, OutputActivation } from './activation.js';
import { imageShape, integerList, knownKeys, oneOf, positiveInteger, show } from './validate.js';
import { kernelInitializers } from './weight-init.js';

/** Pooling after each convolution of {@link smallConvNet}. */
export type Pooling = 'max' | 'average' | 'none';

/** Options of {@link smallConvNet}. */
export interface SmallConvNetOptions {
  /** Input image shape `[height, width, channels]`. Required. */
  inputShape: readonly [number, number, number];
  /** Number of output units (classes). Required. */
  numClasses: number;
  /** Filters of each convolution; its length is the depth. Defaults to `[32, 64]`. */
  filters?: readonly number[];
  /** Square kernel size of every convolution. Defaults to 3. */
  kernelSize?: number;
  /** Stride of every convolution (a number) or of each one (an array as long as `filters`). Defaults to 1. */
  strides?: number | readonly number[];
  /** Convolution padding. Defaults to `'same'`. */
  padding?: 'same' | 'valid';
  /** 2×2 pooling (stride 2) after each convolution block, or none. Defaults to `'max'`. */
  pooling?: Pooling;
  /** Activation after every hidden layer. Defaults to `'relu'`. */
  activation?: Activation;
  /** Units of the hidden dense layers between the flatten and the output. Defaults to `[128]`. */
  dense?: readonly number[];
  /** Kernel initializer (a convkit Initializer). Defaults to `heNormal()` for ReLU-like activations, else `glorotUniform()`. */
  initializer?: Initializer;
  /** Seed of the initializer's Rng. Defaults to 0. */
  seed?: number;
  /** Activation of the output layer. Defaults to `'linear'` (logits). */
  outputActivation?: OutputActivation;
}

const KEYS: readonly string[] = [
  'inputShape', 'numClasses', 'filters', 'kernelSize', 'strides', 'padding', 'pooling',
  'activation', 'dense', 'initializer', 'seed', 'outputActivation',
];

/**
 * A small ConvNet: `[conv → activation → pool] × depth → flatten → [dense → activation]* → dense(numClasses)`.
 *
 * Why: the write-ups compare stride, depth, activation (ReLU vs LeakyReLU α), pooling and
 * initialisation on small nets; every one of those is an option here, and the seed fixes the
 * initial weights. Layers are named `conv_1`, `act_1`, `pool_1`, …, `flatten`, `head_dense_1`,
 * `head_act_1`, …, `head_logits`, so {@link layerGroups} finds the `'head'` group by name.
 * Each convolution's output is `ceil(in / stride)` with `'same'` padding, then halved by pooling.
 *
 * Returns a new, uncompiled `tf.LayersModel` that owns its weights; call `model.dispose()` when done.
 *
 * @example
 * ```ts
 * const model = smallConvNet({ inputShape: [28, 28, 1], numClasses: 10, activation: { leakyRelu: 0.1 }, seed: 1 });
 * model.summary();
 * ```
 */
export function smallConvNet(options: SmallConvNetOptions): tf.LayersModel {
  knownKeys('smallConvNet', options, KEYS);
  const inputShape = imageShape('inputShape', options.inputShape);
  const numClasses = positiveInteger('numClasses', options.numClasses);
  const filters = integerList('filters', options.filters ?? [32, 64], false);
  const kernelSize = positiveInteger('kernelSize', options.kernelSize ?? 3);
  const strides = checkStrides(options.strides ?? 1, filters.length);
  const padding = oneOf('padding', options.padding ?? 'same', ['same', 'valid'] as const);
  const pooling = oneOf('pooling', options.pooling ?? 'max', ['max', 'average', 'none'] as const);
  const activation = checkActivation('activation', options.activation ?? 'relu');
  const dense = integerList('dense', options.dense ?? [128], true);
  const outputActivation = checkOutputActivation('outputActivation', options.outputActivation ?? 'linear');
  const init = kernelInitializers(options.initializer, options.seed, activation);

  const model = tf.sequential();
  filters.forEach((count, index) => {
    const n = index + 1;
    model.add(tf.layers.conv2d({
      ...(index === 0 ? { inputShape } : {}),
      filters: count, kernelSize, strides: strides[index] as number, padding,
      kernelInitializer: init(), name: `conv_${n}`,
    }));
    model.add(activationLayer(activation, `act_${n}`));
    if (pooling === 'max') model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool_${n}` }));
    if (pooling === 'average') model.add(tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `pool_${n}` }));
  });
  const last = model.outputs[0]?.shape ?? [];
  if (last.slice(1).some((size) => size === 0)) {
    throw new Error(`inputShape ${show(inputShape)} is too small for ${filters.length} blocks (feature map ${show(last.slice(1))})`);
  }
  model.add(tf.layers.flatten({ name: 'flatten' }));
  dense.forEach((units, index) => {
    model.add(tf.layers.dense({ units, kernelInitializer: init(), name: `head_dense_${index + 1}` }));
    model.add(activationLayer(activation, `head_act_${index + 1}`));
  });
  model.add(tf.layers.dense({ units: numClasses, activation: outputActivation, kernelInitializer: init(), name: 'head_logits' }));
  return model;
}

function checkStrides(value: unknown, depth: number): number[] {
  if (typeof value === 'number') return new Array<number>(depth).fill(positiveInteger('strides', value));
  const list = integerList('strides', value, false);
  if (list.length !== depth) {
    throw new Error(`strides must be a number or an array of ${depth} integers, one per filter (received ${show(value)})`);
  }
  return list;
}
