import * as tf from '@tensorflow/tfjs';

/**
 * A model written as a function over variables, for when a `tf.LayersModel` is in the way (custom layers,
 * research code, tests). The learner differentiates the loss with respect to the `trainable` ones of `variables`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import type { FunctionModel } from '@convkit/learner';
 * const w = tf.variable(tf.zeros([1, 1]));
 * const b = tf.variable(tf.zeros([1]));
 * const linear: FunctionModel = { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) };
 * ```
 */
export interface FunctionModel {
  /** The model's variables; those with `trainable: true` are optimised. */
  variables: tf.Variable[];
  /**
   * Computes the model output for a batch. Returns a new tensor that the caller owns; must not dispose `x`.
   * `training` is true in the training phase (dropout on), false in validation and prediction.
   */
  forward(x: tf.Tensor, options: { training: boolean }): tf.Tensor;
}

/** What the learner trains: a tfjs layers model or a {@link FunctionModel}. */
export type LearnerModel = tf.LayersModel | FunctionModel;

/** What the loop needs from a model. */
export interface ModelAdapter {
  forward(x: tf.Tensor, training: boolean): tf.Tensor;
  trainableVariables(): tf.Variable[];
  /**
   * Before a training forward pass: gives every dropout layer a fresh seed drawn by `draw`, so that dropout masks
   * come from the learner's seeded `Rng` (and a resumed run draws the same masks as an uninterrupted one). Draws
   * nothing for a model without dropout layers.
   */
  seedDropout(draw: () => number): void;
}

/** Layers whose random draw takes a `seed` field read at call time (tfjs-layers 4.22). */
const SEEDED_LAYERS = new Set(['Dropout', 'SpatialDropout1D']);

/** The dropout layers of a model, nested models included. */
function dropoutLayers(model: tf.LayersModel): { seed?: number }[] {
  const found: { seed?: number }[] = [];
  const visit = (layers: readonly tf.layers.Layer[]): void => {
    for (const layer of layers) {
      if (layer instanceof tf.LayersModel) visit(layer.layers);
      else if (SEEDED_LAYERS.has(layer.getClassName())) found.push(layer as unknown as { seed?: number });
    }
  };
  visit(model.layers);
  return found;
}

/** Wraps a model for the loop; throws an error naming `model` when it is neither kind. */
export function adaptModel(model: unknown): ModelAdapter {
  if (model instanceof tf.LayersModel) {
    let dropouts: { seed?: number }[] | undefined;
    return {
      forward: (x, training) => {
        const out = model.apply(x, { training });
        if (!(out instanceof tf.Tensor)) {
          throw new Error('model must have exactly one output tensor (received a model with several outputs)');
        }
        return out;
      },
      trainableVariables: () => model.trainableWeights.map((weight) => weight.read() as tf.Variable),
      seedDropout: (draw) => {
        dropouts ??= dropoutLayers(model);
        for (const layer of dropouts) layer.seed = draw();
      },
    };
  }
  const candidate = model as Partial<FunctionModel> | null | undefined;
  if (candidate && typeof candidate.forward === 'function' && Array.isArray(candidate.variables)) {
    const functionModel = candidate as FunctionModel;
    for (const [index, variable] of functionModel.variables.entries()) {
      if (!(variable instanceof tf.Variable)) {
        throw new Error(`model.variables[${index}] must be a tf.Variable (received ${typeof variable})`);
      }
    }
    return {
      forward: (x, training) => {
        const out = functionModel.forward(x, { training });
        if (!(out instanceof tf.Tensor)) {
          throw new Error(`model.forward must return a tf.Tensor (received ${typeof out})`);
        }
        return out;
      },
      trainableVariables: () => functionModel.variables.filter((variable) => variable.trainable),
      seedDropout: () => undefined,
    };
  }
  throw new Error(
    'model must be a tf.LayersModel or a FunctionModel { variables: tf.Variable[]; forward(x, { training }) } ' +
      `(received ${model === null ? 'null' : typeof model})`
  );
}
