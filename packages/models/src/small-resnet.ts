import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '@convkit/core';
import { checkOutputActivation } from './activation.js';
import type { OutputActivation } from './activation.js';
import { imageShape, integerList, knownKeys, positiveInteger, show } from './validate.js';
import { kernelInitializers } from './weight-init.js';
import type { LayersInitializer } from './weight-init.js';

/** Options of {@link smallResNet}. */
export interface SmallResNetOptions {
  /** Input image shape `[height, width, channels]`. Required. */
  inputShape: readonly [number, number, number];
  /** Number of output units (classes). Required. */
  numClasses: number;
  /** Basic residual blocks per stage. Defaults to `[1, 1, 1]`. */
  blocks?: readonly number[];
  /** Filters per stage, as long as `blocks`. Defaults to `[16, 32, 64]`. */
  filters?: readonly number[];
  /** Kernel initializer (a convkit Initializer). Defaults to `heNormal()`. */
  initializer?: Initializer;
  /** Seed of the initializer's Rng. Defaults to 0. */
  seed?: number;
  /** Activation of the output layer. Defaults to `'linear'` (logits). */
  outputActivation?: OutputActivation;
}

const KEYS: readonly string[] = ['inputShape', 'numClasses', 'blocks', 'filters', 'initializer', 'seed', 'outputActivation'];

/**
 * A small ResNet (He et al. 2016, the CIFAR variant): a 3×3 stem convolution, then stages of basic
 * residual blocks (3×3 conv → BN → ReLU → 3×3 conv → BN, plus the shortcut, → ReLU), then global
 * average pooling and a dense layer of `numClasses`.
 *
 * Why: residual connections let deeper nets train where plain stacks stall. Every stage after
 * the first halves height and width with a stride-2 first convolution, and its shortcut is a
 * projection (1×1 conv, stride 2, + BN); identity shortcuts elsewhere. Layers are named
 * `stem_*`, `stage{s}_block{b}_*`, `pool`, `head_logits`.
 *
 * Returns a new, uncompiled functional `tf.LayersModel`; call `model.dispose()` when done.
 *
 * @example
 * ```ts
 * const model = smallResNet({ inputShape: [32, 32, 3], numClasses: 10, blocks: [2, 2, 2] });
 * ```
 */
export function smallResNet(options: SmallResNetOptions): tf.LayersModel {
  knownKeys('smallResNet', options, KEYS);
  const inputShape = imageShape('inputShape', options.inputShape);
  const numClasses = positiveInteger('numClasses', options.numClasses);
  const blocks = integerList('blocks', options.blocks ?? [1, 1, 1], false);
  const filters = integerList('filters', options.filters ?? [16, 32, 64], false);
  if (filters.length !== blocks.length) {
    throw new Error(`filters must have one entry per stage of blocks (${blocks.length}) (received ${show(filters)})`);
  }
  const outputActivation = checkOutputActivation('outputActivation', options.outputActivation ?? 'linear');
  const init = kernelInitializers(options.initializer, options.seed, 'relu');

  const input = tf.input({ shape: [...inputShape], name: 'input' });
  let x = convBn(input, filters[0] as number, 3, 1, 'stem', init);
  x = tf.layers.reLU({ name: 'stem_relu' }).apply(x) as tf.SymbolicTensor;
  blocks.forEach((count, stage) => {
    for (let block = 0; block < count; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      x = basicBlock(x, filters[stage] as number, stride, `stage${stage + 1}_block${block + 1}`, init);
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers.dense({
    units: numClasses, activation: outputActivation, kernelInitializer: init(), name: 'head_logits',
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'smallResNet' });
}

function convBn(
  x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number, name: string, init: () => LayersInitializer,
): tf.SymbolicTensor {
  const conv = tf.layers.conv2d({
    filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init(), name: `${name}_conv`,
  }).apply(x) as tf.SymbolicTensor;
  return tf.layers.batchNormalization({ name: `${name}_bn` }).apply(conv) as tf.SymbolicTensor;
}

function basicBlock(
  x: tf.SymbolicTensor, filters: number, stride: number, name: string, init: () => LayersInitializer,
): tf.SymbolicTensor {
  let y = convBn(x, filters, 3, stride, `${name}_1`, init);
  y = tf.layers.reLU({ name: `${name}_relu1` }).apply(y) as tf.SymbolicTensor;
  y = convBn(y, filters, 3, 1, `${name}_2`, init);
  const inChannels = x.shape[x.shape.length - 1];
  const shortcut = stride !== 1 || inChannels !== filters ? convBn(x, filters, 1, stride, `${name}_shortcut`, init) : x;
  const sum = tf.layers.add({ name: `${name}_add` }).apply([y, shortcut]) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu2` }).apply(sum) as tf.SymbolicTensor;
}
