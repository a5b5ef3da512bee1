import type * as tf from '@tensorflow/tfjs';
import { layerGroups } from './layer-groups.js';
import type { LayerGroup } from './layer-groups.js';
import { knownKeys, positiveNumber, show } from './validate.js';

/** A parameter group in the shape `@convkit/optim`'s optimizers take (`paramGroups`). */
export interface ParamGroup {
  /** The group's trainable variables (never empty). */
  variables: tf.Variable[];
  /** The group's hyperparameters. */
  hypers: { learningRate: number };
}

/** Options of {@link discriminativeParamGroups}. */
export interface DiscriminativeParamGroupsOptions {
  /** Layer groups, earliest first. Defaults to `layerGroups(model)` (backbone, head). */
  groups?: readonly LayerGroup[];
  /**
   * One rate per group, or `{ base, factor }`: the last group gets `base`, each earlier one
   * `factor` times the next (group i of n: base · factor^(n−1−i)). Required.
   */
  learningRates: readonly number[] | { base: number; factor: number };
}

/**
 * Parameter groups with a learning rate per layer group ("discriminative learning rates"), for
 * `sgd({ learningRate, paramGroups })` and the other `@convkit/optim` optimizers.
 *
 * Why: when fine-tuning, early layers hold general features that should move little, the new head
 * a lot (fastai's `slice(lr/100, lr)`, ULMFiT). Only trainable variables are included: frozen
 * layers are left out, and a group with no trainable variable is dropped (optim refuses empty
 * groups). Returns the models' own variables; nothing to dispose.
 *
 * @example
 * ```ts
 * const paramGroups = discriminativeParamGroups(model, { learningRates: { base: 1e-2, factor: 0.1 } });
 * const optimizer = sgd({ learningRate: 1e-2, momentum: 0.9, paramGroups });
 * ```
 */
export function discriminativeParamGroups(model: tf.LayersModel, options: DiscriminativeParamGroupsOptions): ParamGroup[] {
  knownKeys('discriminativeParamGroups', options, ['groups', 'learningRates']);
  const groups = options.groups ?? layerGroups(model);
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new Error(`groups must be a non-empty array of layer groups (received ${show(groups)})`);
  }
  const rates = ratesFor(options.learningRates, groups.length);
  const seen = new Set<number>();
  const result: ParamGroup[] = [];
  groups.forEach((group: LayerGroup, index) => {
    const variables: tf.Variable[] = [];
    for (const layer of group.layers) {
      if (!model.layers.includes(layer)) {
        throw new Error(`groups[${index}] ('${group.name}') holds layer '${layer.name}', which is not in model '${model.name}'`);
      }
      if (!model.trainable) continue;
      for (const weight of layer.trainableWeights) {
        const variable = weight.read() as tf.Variable;
        if (seen.has(variable.id)) continue;
        seen.add(variable.id);
        variables.push(variable);
      }
    }
    if (variables.length > 0) result.push({ variables, hypers: { learningRate: rates[index] as number } });
  });
  return result;
}

function ratesFor(value: unknown, count: number): number[] {
  if (Array.isArray(value)) {
    if (value.length !== count) {
      throw new Error(`learningRates must have one rate per group (${count}) (received ${show(value)})`);
    }
    return value.map((rate, i) => positiveNumber(`learningRates[${i}]`, rate));
  }
  if (value !== null && typeof value === 'object' && 'base' in value && 'factor' in value) {
    const base = positiveNumber('learningRates.base', value.base);
    const factor = positiveNumber('learningRates.factor', value.factor);
    return Array.from({ length: count }, (_, i) => base * factor ** (count - 1 - i));
  }
  throw new Error(`learningRates must be an array of rates or { base, factor } (received ${show(value)})`);
}
