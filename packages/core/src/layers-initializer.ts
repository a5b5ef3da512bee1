import * as tf from '@tensorflow/tfjs';
import type { Initializer } from './initializers.js';
import type { Rng } from './rng.js';

/** tfjs-layers' `Initializer` (the class is not exported by name; it is the base of every built-in one). */
type LayersInitializer = ReturnType<typeof tf.initializers.ones>;

const LayersInitializerBase = Object.getPrototypeOf(tf.initializers.zeros().constructor) as abstract new () => LayersInitializer;

/**
 * A tf.layers initializer that draws from a convkit initializer and rng. Serialises as
 * `ConvkitInitializer` with its convkit name; a saved model reloads with zero-filled placeholders
 * that the saved weights overwrite.
 */
class ConvkitInitializer extends LayersInitializerBase {
  static className = 'ConvkitInitializer';
  private readonly initializer: Initializer | undefined;
  private readonly rng: Rng | undefined;
  private readonly initializerName: string;

  constructor(initializer?: Initializer, rng?: Rng, initializerName?: string) {
    super();
    this.initializer = initializer;
    this.rng = rng;
    this.initializerName = initializer?.name ?? initializerName ?? 'unknown';
  }

  override apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
    if (dtype !== undefined && dtype !== 'float32') {
      throw new Error(`ConvkitInitializer supports dtype 'float32' only (received '${dtype}')`);
    }
    if (this.initializer === undefined || this.rng === undefined) return tf.zeros(shape);
    return this.initializer.create(shape, this.rng, 'float32');
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { name: this.initializerName };
  }

  static fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new ConvkitInitializer(undefined, undefined, String(config['name'] ?? 'unknown')) as unknown as T;
  }
}
tf.serialization.registerClass(ConvkitInitializer as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/**
 * Wraps a convkit {@link Initializer} and {@link Rng} as a tf.layers initializer, for
 * `kernelInitializer` / `biasInitializer` of `tf.layers.conv2d`, `dense`, ….
 *
 * Why: tf.layers' own initializers draw from tfjs's global random state, so two runs of the same
 * model differ; this one draws from `rng`, so a seed fixes every initial weight. Each layer built
 * advances `rng` (pass `rng.fork()` to keep other consumers' draws unchanged).
 *
 * The initializer serialises as `ConvkitInitializer` (registered with `tf.serialization`), so
 * models still save and load; loaded weights come from the saved file.
 *
 * @example
 * ```ts
 * const rng = createRng(0);
 * const layer = tf.layers.dense({ units: 10, kernelInitializer: toLayersInitializer(heNormal(), rng) });
 * ```
 */
export function toLayersInitializer(init: Initializer, rng: Rng): LayersInitializer {
  if (init === null || typeof init !== 'object' || typeof init.create !== 'function') {
    throw new Error(`init must be a convkit Initializer with a create() method (received ${String(init)})`);
  }
  if (rng === null || typeof rng !== 'object' || typeof rng.normal !== 'function') {
    throw new Error(`rng must be a convkit Rng (received ${String(rng)})`);
  }
  return new ConvkitInitializer(init, rng);
}
