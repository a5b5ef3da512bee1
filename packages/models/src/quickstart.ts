import * as tf from '@tensorflow/tfjs';
import { conv2dLayer, createRng, heNormal, Rng, toLayersInitializer } from '@convkit/core';
import { show } from './validate.js';

/** The quick start's training recipe (see {@link QUICKSTART_RECIPE}). */
export interface QuickstartRecipe {
  /** Images per batch. */
  readonly batchSize: number;
  /** Adam's peak learning rate, annealed to 0 along a half cosine over the fit. */
  readonly peakLearningRate: number;
}

/**
 * The quick start's batch size (64) and peak learning rate (Adam at 2e-3, annealed to 0 along a half cosine): the
 * recipe `examples/quickstart.mjs` trains {@link quickstartModel} with, and the benchmarks that compare with the
 * quick start use.
 *
 * @example
 * ```ts
 * import { QUICKSTART_RECIPE } from '@convkit/models';
 * console.log(QUICKSTART_RECIPE.batchSize); // 64
 * ```
 */
export const QUICKSTART_RECIPE: QuickstartRecipe = Object.freeze({ batchSize: 64, peakLearningRate: 2e-3 });

/**
 * The quick start's network for 28×28×1 images (Fashion-MNIST, MNIST): two 3×3 convolutions (16 and 32 filters, same
 * padding, ReLU), each followed by 2×2 max pooling, a dense layer of 64 (ReLU) and 10 logits (no activation), with He
 * normal (variance-scaling) kernels drawn from `rng`. 105,866 parameters.
 *
 * Why here: the quick start, `@convkit/core`'s time-to-accuracy bench and `@convkit/data`'s pipeline bench build the
 * very same network, so one definition keeps their figures comparable.
 *
 * Each call draws its kernels from `rng` (advancing it); the same seed gives the same weights. Returns a new
 * `tf.Sequential`; the caller disposes it.
 *
 * @param rng - A convkit `Rng`, or a seed. Defaults to seed 0.
 *
 * @example
 * ```ts
 * import { createRng } from '@convkit/core';
 * import { quickstartModel } from '@convkit/models';
 * const model = quickstartModel(createRng(42));
 * model.summary();
 * ```
 */
export function quickstartModel(rng: Rng | number = 0): tf.Sequential {
  if (!(rng instanceof Rng) && !(typeof rng === 'number' && Number.isInteger(rng))) {
    throw new Error(`rng must be a convkit Rng (createRng(seed)) or an integer seed (received ${show(rng)})`);
  }
  const stream = typeof rng === 'number' ? createRng(rng) : rng;
  const init = (): ReturnType<typeof toLayersInitializer> => toLayersInitializer(heNormal(), stream);
  return tf.sequential({
    layers: [
      conv2dLayer({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv2dLayer({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init() }),
      tf.layers.dense({ units: 10, kernelInitializer: init() }),
    ],
  });
}
