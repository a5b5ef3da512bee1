import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '@convkit/core';
import { activationLayer, checkActivation } from './activation.js';
import type { Activation } from './activation.js';
import { imageShape, integerList, knownKeys, positiveInteger, show } from './validate.js';
import { kernelInitializers } from './weight-init.js';

/** Options of {@link convAutoencoder}. */
export interface ConvAutoencoderOptions {
  /** Input image shape `[height, width, channels]`; height and width divisible by 2^filters.length. Required. */
  inputShape: readonly [number, number, number];
  /** Filters of the encoder's convolutions (each followed by a 2×2 max pool); the decoder mirrors them. Defaults to `[16, 32]`. */
  filters?: readonly number[];
  /** Channels of the bottleneck (latent) convolution. Defaults to the last entry of `filters`. */
  latentFilters?: number;
  /** Activation of the hidden layers. Defaults to `'relu'`. */
  activation?: Activation;
  /** Kernel initializer (a convkit Initializer). Defaults to `heNormal()` for ReLU-like activations, else `glorotUniform()`. */
  initializer?: Initializer;
  /** Seed of the initializer's Rng. Defaults to 0. */
  seed?: number;
}

const KEYS: readonly string[] = ['inputShape', 'filters', 'latentFilters', 'activation', 'initializer', 'seed'];

/**
 * A convolutional autoencoder (E1.2): encoder `[3×3 conv → act → 2×2 max pool] × n`, a 3×3 latent
 * convolution of `latentFilters` channels, decoder `[2× upsample → 3×3 conv → act] × n` with the
 * filters reversed, and a 3×3 convolution back to the input's channels with a sigmoid.
 *
 * Why: the write-up's autoencoder reconstructs frames in [0, 1] with an (optionally mask-weighted)
 * MSE; the output has exactly the input's shape. Layers: `encoder_conv{i}`, `encoder_pool{i}`,
 * `latent`, `decoder_up{i}`, `decoder_conv{i}`, `reconstruction`.
 *
 * Returns a new, uncompiled `tf.LayersModel`; call `model.dispose()` when done.
 *
 * @example
 * ```ts
 * const model = convAutoencoder({ inputShape: [64, 144, 4], filters: [16, 32], latentFilters: 8 });
 * ```
 */
export function convAutoencoder(options: ConvAutoencoderOptions): tf.LayersModel {
  knownKeys('convAutoencoder', options, KEYS);
  const inputShape = imageShape('inputShape', options.inputShape);
  const filters = integerList('filters', options.filters ?? [16, 32], false);
  const latentFilters = positiveInteger('latentFilters', options.latentFilters ?? filters[filters.length - 1]);
  const activation = checkActivation('activation', options.activation ?? 'relu');
  const scale = 2 ** filters.length;
  if (inputShape[0] % scale !== 0 || inputShape[1] % scale !== 0) {
    throw new Error(`inputShape height and width must be divisible by ${scale} for ${filters.length} pools (received ${show(inputShape)})`);
  }
  const init = kernelInitializers(options.initializer, options.seed, activation);
  const model = tf.sequential({ name: 'convAutoencoder' });
  filters.forEach((count, index) => {
    const n = index + 1;
    model.add(tf.layers.conv2d({
      ...(index === 0 ? { inputShape } : {}),
      filters: count, kernelSize: 3, padding: 'same', kernelInitializer: init(), name: `encoder_conv${n}`,
    }));
    model.add(activationLayer(activation, `encoder_act${n}`));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `encoder_pool${n}` }));
  });
  model.add(tf.layers.conv2d({ filters: latentFilters, kernelSize: 3, padding: 'same', kernelInitializer: init(), name: 'latent' }));
  model.add(activationLayer(activation, 'latent_act'));
  [...filters].reverse().forEach((count, index) => {
    const n = index + 1;
    model.add(tf.layers.upSampling2d({ size: [2, 2], name: `decoder_up${n}` }));
    model.add(tf.layers.conv2d({ filters: count, kernelSize: 3, padding: 'same', kernelInitializer: init(), name: `decoder_conv${n}` }));
    model.add(activationLayer(activation, `decoder_act${n}`));
  });
  model.add(tf.layers.conv2d({
    filters: inputShape[2], kernelSize: 3, padding: 'same', activation: 'sigmoid', kernelInitializer: init(), name: 'reconstruction',
  }));
  return model;
}
