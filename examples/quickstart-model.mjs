// The quick start's network, in one place: examples/quickstart.mjs trains it, and the benchmarks that compare with
// the quick start (packages/data/bench/run.mjs, packages/core/bench/time-to-accuracy.mjs) build the very same one.
import { heNormal, tf, toLayersInitializer } from '@convkit/core';

/** The quick start's batch size and peak learning rate (Adam, annealed to 0 along a half cosine). */
export const QUICKSTART = Object.freeze({ batchSize: 64, peakLearningRate: 2e-3 });

/**
 * Two 3×3 convolutions (16 and 32 filters, same padding, ReLU) each followed by 2×2 max pooling, a dense layer of 64
 * and 10 logits (no activation on the output); He (variance-scaling) weights drawn from `rng`, a convkit `Rng`.
 */
export function quickstartModel(rng) {
  const init = () => toLayersInitializer(heNormal(), rng);
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init() }),
      tf.layers.dense({ units: 10, kernelInitializer: init() }),
    ],
  });
}
