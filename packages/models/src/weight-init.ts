import { createRng, glorotUniform, heNormal, toLayersInitializer } from '@convkit/core';
import type { Initializer } from '@convkit/core';
import { isReluLike } from './activation.js';
import type { Activation } from './activation.js';
import { show } from './validate.js';

/** tfjs-layers' initializer type, as `toLayersInitializer` returns it. */
export type LayersInitializer = ReturnType<typeof toLayersInitializer>;

/**
 * Returns a function that makes one seeded kernel initializer per layer. All layers of a model
 * draw from one `Rng(seed)` in build order, so a seed fixes every initial weight.
 * Default initializer: He normal for ReLU-like activations, Glorot uniform otherwise.
 */
export function kernelInitializers(
  initializer: Initializer | undefined,
  seed: number | undefined,
  activation: Activation,
): () => LayersInitializer {
  if (initializer !== undefined && (initializer === null || typeof initializer !== 'object' || typeof initializer.create !== 'function')) {
    throw new Error(`initializer must be a convkit Initializer such as heNormal() (received ${show(initializer)})`);
  }
  const actualSeed = seed ?? 0;
  if (typeof actualSeed !== 'number' || !Number.isInteger(actualSeed)) {
    throw new Error(`seed must be an integer (received ${show(seed)})`);
  }
  const chosen = initializer ?? (isReluLike(activation) ? heNormal() : glorotUniform());
  const rng = createRng(actualSeed);
  return () => toLayersInitializer(chosen, rng);
}
