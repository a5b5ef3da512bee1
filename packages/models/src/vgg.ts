import * as tf from '@tensorflow/tfjs';
import { conv2dLayer } from '@convkit/core';
import type { Initializer } from '@convkit/core';
import { checkOutputActivation } from './activation.js';
import type { OutputActivation } from './activation.js';
import { imageShape, integerList, knownKeys, positiveInteger, show } from './validate.js';
import { kernelInitializers } from './weight-init.js';

/** Filters of VGG-16's five blocks of 3×3 convolutions (each block ends with a 2×2 max pool). */
export const VGG16_BLOCKS: readonly (readonly number[])[] = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];

/** Options shared by {@link vgg16} and {@link modifiedVgg}. */
export interface VggCommonOptions {
  /** Number of output units (classes). Required. */
  numClasses: number;
  /** Divides every block's filter count (rounded, at least 1): 1 is the real layout, 8 or 16 a fast toy. Defaults to 1. */
  widthDivisor?: number;
  /** Kernel initializer (a convkit Initializer). Defaults to `heNormal()`. */
  initializer?: Initializer;
  /** Seed of the initializer's Rng. Defaults to 0. */
  seed?: number;
  /** Activation of the output layer. Defaults to `'linear'` (logits). */
  outputActivation?: OutputActivation;
}

/** Options of {@link vgg16}. */
export interface Vgg16Options extends VggCommonOptions {
  /** Input image shape `[height, width, channels]`; height and width divisible by 32. Defaults to `[224, 224, 3]`. */
  inputShape?: readonly [number, number, number];
  /** Units of the fully connected layers: a number for two layers of that width, or a list. Defaults to 4096 (two FC 4096). */
  fc?: number | readonly number[];
}

/** Options of {@link modifiedVgg}. */
export interface ModifiedVggOptions extends VggCommonOptions {
  /** Input image shape. Defaults to `[28, 28, 1]` (MNIST). */
  inputShape?: readonly [number, number, number];
  /** Zero-pads height and width to this size (centred; the extra pixel, if odd, goes bottom/right). Defaults to 32. */
  padTo?: number;
  /** Leaves out VGG's fifth block (three 512 convolutions and the last pool). Defaults to true. */
  dropBlock5?: boolean;
  /** Units of the fully connected layers: a number for one layer, or a list. Defaults to 4096 (one FC 4096). */
  fc?: number | readonly number[];
}

const COMMON_KEYS: readonly string[] = ['numClasses', 'widthDivisor', 'initializer', 'seed', 'outputActivation', 'inputShape', 'fc'];

/**
 * VGG-16's layout (Simonyan & Zisserman, configuration D): 13 3×3 convolutions with ReLU in five
 * blocks, each followed by a 2×2 max pool, then FC 4096 → FC 4096 → `numClasses`.
 *
 * Why: the reference deep plain ConvNet of the write-ups. Layout only: no pretrained ImageNet
 * weights ship with convkit (they cannot be downloaded here); users who have a Keras/tfjs-layers
 * export load it with {@link loadLayersModelFromDisk}. Layers are named `block{b}_conv{i}`,
 * `block{b}_pool`, `flatten`, `head_fc{i}`, `head_logits` (the convolution names match Keras's).
 *
 * Returns a new, uncompiled `tf.LayersModel`; call `model.dispose()` when done. At 224×224 it has
 * 138,357,544 weights (~553 MB), and filling them takes seconds.
 *
 * @example
 * ```ts
 * const model = vgg16({ inputShape: [32, 32, 3], numClasses: 10, fc: 512, widthDivisor: 8 });
 * ```
 */
export function vgg16(options: Vgg16Options): tf.LayersModel {
  knownKeys('vgg16', options, COMMON_KEYS);
  const inputShape = imageShape('inputShape', options.inputShape ?? [224, 224, 3]);
  if (inputShape[0] % 32 !== 0 || inputShape[1] % 32 !== 0) {
    throw new Error(`inputShape height and width must be divisible by 32 for five 2×2 pools (received ${show(inputShape)})`);
  }
  const fc = fcList(options.fc ?? 4096, 2);
  return buildVgg('vgg16', inputShape, undefined, VGG16_BLOCKS, fc, options);
}

/**
 * The modified VGG of the write-ups (E4.5): pad 28×28 to 32×32, VGG-16's first four blocks
 * (64·2, 128·2, 256·3, 512·3 filters, each block then a 2×2 max pool → 2×2×512), one FC 4096,
 * then `numClasses`. Reported at ~97.9% on MNIST.
 *
 * Why: MNIST images are too small for five pools; padding to 32 makes every halving exact, and
 * dropping block 5 keeps a 2×2 map. `dropBlock5: false` keeps the fifth block (→ 1×1×512).
 * Layers: `pad`, `block{b}_conv{i}`, `block{b}_pool`, `flatten`, `head_fc{i}`, `head_logits`.
 *
 * Returns a new, uncompiled `tf.LayersModel`; call `model.dispose()` when done.
 *
 * @example
 * ```ts
 * const model = modifiedVgg({ inputShape: [28, 28, 1], padTo: 32, numClasses: 10 });
 * console.log(model.countParams()); // 16067786
 * ```
 */
export function modifiedVgg(options: ModifiedVggOptions): tf.LayersModel {
  knownKeys('modifiedVgg', options, [...COMMON_KEYS, 'padTo', 'dropBlock5']);
  const inputShape = imageShape('inputShape', options.inputShape ?? [28, 28, 1]);
  const padTo = positiveInteger('padTo', options.padTo ?? 32);
  if (padTo < inputShape[0] || padTo < inputShape[1]) {
    throw new Error(`padTo must be >= the input's height and width (received ${padTo} for inputShape ${show(inputShape)})`);
  }
  const dropBlock5 = options.dropBlock5 ?? true;
  if (typeof dropBlock5 !== 'boolean') throw new Error(`dropBlock5 must be a boolean (received ${show(dropBlock5)})`);
  const blocks = dropBlock5 ? VGG16_BLOCKS.slice(0, 4) : VGG16_BLOCKS;
  const divisor = 2 ** blocks.length;
  if (padTo % divisor !== 0) {
    throw new Error(`padTo must be divisible by ${divisor} for ${blocks.length} 2×2 pools (received ${padTo})`);
  }
  const fc = fcList(options.fc ?? 4096, 1);
  return buildVgg('modifiedVgg', inputShape, padTo, blocks, fc, options);
}

function fcList(value: unknown, repeat: number): number[] {
  if (typeof value === 'number') return new Array<number>(repeat).fill(positiveInteger('fc', value));
  return integerList('fc', value, true);
}

function buildVgg(
  what: string,
  inputShape: [number, number, number],
  padTo: number | undefined,
  blocks: readonly (readonly number[])[],
  fc: readonly number[],
  options: VggCommonOptions,
): tf.LayersModel {
  const numClasses = positiveInteger('numClasses', options.numClasses);
  const widthDivisor = options.widthDivisor ?? 1;
  if (typeof widthDivisor !== 'number' || !Number.isFinite(widthDivisor) || widthDivisor < 1) {
    throw new Error(`widthDivisor must be a number >= 1 (received ${show(widthDivisor)})`);
  }
  const outputActivation = checkOutputActivation('outputActivation', options.outputActivation ?? 'linear');
  const init = kernelInitializers(options.initializer, options.seed, 'relu');
  const model = tf.sequential({ name: what });
  if (padTo !== undefined) {
    const [height, width] = inputShape;
    const top = Math.floor((padTo - height) / 2);
    const left = Math.floor((padTo - width) / 2);
    model.add(tf.layers.zeroPadding2d({
      inputShape, name: 'pad', padding: [[top, padTo - height - top], [left, padTo - width - left]],
    }));
  }
  blocks.forEach((block, b) => {
    block.forEach((filters, i) => {
      model.add(conv2dLayer({
        ...(model.layers.length === 0 ? { inputShape } : {}),
        filters: Math.max(1, Math.round(filters / widthDivisor)), kernelSize: 3, padding: 'same', activation: 'relu',
        kernelInitializer: init(), name: `block${b + 1}_conv${i + 1}`,
      }));
    });
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }));
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  fc.forEach((units, index) => {
    model.add(tf.layers.dense({ units, activation: 'relu', kernelInitializer: init(), name: `head_fc${index + 1}` }));
  });
  model.add(tf.layers.dense({ units: numClasses, activation: outputActivation, kernelInitializer: init(), name: 'head_logits' }));
  return model;
}
