// Test fixtures (not exported by the package): a two-class image problem that a linear model solves, and a tiny
// trainer on top of the Learner.
import * as tf from '@tensorflow/tfjs';
import { createRng } from '@convkit/core';
import { createImageDataset, DataLoader, type Dataset, type ImageDataset } from '@convkit/data';
import { Learner } from '@convkit/learner';

/**
 * `n` 4×4×1 images: class 0 has a bright left half and a dim right half, class 1 the reverse, each pixel with
 * uniform noise of ±`noise` around 170 / 85.
 */
export function halvesDataset(n: number, seed: number, noise = 70): ImageDataset {
  const rng = createRng(seed);
  const images = new Uint8Array(n * 16);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    labels[i] = label;
    for (let p = 0; p < 16; p++) {
      const left = p % 4 < 2;
      const base = left === (label === 0) ? 170 : 85;
      images[i * 16 + p] = Math.max(0, Math.min(255, Math.round(base + rng.uniform(-noise, noise))));
    }
  }
  return createImageDataset({ images, labels, shape: [4, 4, 1], classNames: ['left', 'right'] });
}

/** A linear classifier (logits) on the flattened image, with seeded weights. */
export function linearModel(seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 1] }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
    ],
  });
}

/** Trains `model` on `dataset` with the Learner for `epochs` epochs (Adam, index labels). */
export async function trainOn(model: tf.LayersModel, dataset: Dataset, epochs: number, seed: number): Promise<void> {
  const optimizer = tf.train.adam(0.05);
  const learner = new Learner({
    model,
    loss: 'softmaxCrossEntropy',
    optimizer,
    train: new DataLoader(dataset, { batchSize: 16, labels: 'index', seed }),
    seed,
  });
  await learner.fit(epochs);
  optimizer.dispose();
}
