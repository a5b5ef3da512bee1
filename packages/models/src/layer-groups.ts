import type * as tf from '@tensorflow/tfjs';
import { show } from './validate.js';

/** A named, consecutive run of a model's layers (in `model.layers` order). */
export interface LayerGroup {
  /** `'backbone'` / `'head'` for the default split, `'group1'`, `'group2'`, … for explicit splits. */
  name: string;
  /** The layers, in model order. */
  layers: tf.layers.Layer[];
}

/** Options of {@link layerGroups}. */
export interface LayerGroupsOptions {
  /**
   * Where each group after the first starts: indices into `model.layers` or layer names, in
   * increasing order. `n` splits give `n + 1` groups named `group1` … Defaults to the
   * backbone/head split.
   */
  splits?: readonly (number | string)[];
}

const POOLING_CLASSES: readonly string[] = ['Flatten', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'GlobalAveragePooling1D', 'GlobalMaxPooling1D'];

/**
 * Splits a model's layers into consecutive groups, for freezing and discriminative learning rates.
 *
 * Why: transfer learning trains the new head first with the backbone frozen, then everything
 * with lower rates for earlier layers; both act on groups of layers.
 *
 * Without `splits` there are two groups, `'backbone'` and `'head'`. The head starts at the first
 * layer whose name starts with `head` (every convkit builder names its classifier so); failing
 * that, right after the last flatten / global pooling layer (Keras applications' `fc1`, `fc2`,
 * `predictions`); failing that, at the last layer with weights. Returns plain arrays of the
 * model's own layers; nothing to dispose.
 *
 * @example
 * ```ts
 * const [backbone, head] = layerGroups(model);
 * const thirds = layerGroups(model, { splits: ['conv_2', 'flatten'] });
 * ```
 */
export function layerGroups(model: tf.LayersModel, options: LayerGroupsOptions = {}): LayerGroup[] {
  const layers = model.layers;
  if (options.splits === undefined) {
    const start = headStart(model);
    return [{ name: 'backbone', layers: layers.slice(0, start) }, { name: 'head', layers: layers.slice(start) }];
  }
  if (!Array.isArray(options.splits)) throw new Error(`splits must be an array of layer indices or names (received ${show(options.splits)})`);
  const indices = options.splits.map((split, i) => splitIndex(model, split, `splits[${i}]`));
  indices.forEach((index, i) => {
    if (i > 0 && index <= (indices[i - 1] as number)) {
      throw new Error(`splits must be in increasing model order (received ${show(options.splits)}, layer indices ${show(indices)})`);
    }
  });
  const bounds = [0, ...indices, layers.length];
  return bounds.slice(1).map((end, i) => ({ name: `group${i + 1}`, layers: layers.slice(bounds[i], end) }));
}

/** Index in `model.layers` where the default `'head'` group starts. */
export function headStart(model: tf.LayersModel): number {
  const layers = model.layers;
  let start = layers.findIndex((layer) => layer.name.startsWith('head'));
  if (start < 0) {
    for (let i = layers.length - 1; i >= 0; i--) {
      if (POOLING_CLASSES.includes((layers[i] as tf.layers.Layer).getClassName())) {
        start = i + 1;
        break;
      }
    }
  }
  if (start < 0 || start >= layers.length) {
    for (let i = layers.length - 1; i >= 0; i--) {
      if ((layers[i] as tf.layers.Layer).weights.length > 0) {
        start = i;
        break;
      }
    }
  }
  if (start <= 0 || start >= layers.length) {
    throw new Error(`model '${model.name}' has no backbone/head split: name the head layers 'head…' or pass splits (layers: ${layers.map((l) => l.name).join(', ')})`);
  }
  return start;
}

function splitIndex(model: tf.LayersModel, split: unknown, name: string): number {
  const count = model.layers.length;
  if (typeof split === 'string') {
    const index = model.layers.findIndex((layer) => layer.name === split);
    if (index < 0) throw new Error(`${name} must name a layer of the model (received '${split}')`);
    if (index === 0) throw new Error(`${name} must not be the first layer (received '${split}'), or its group would be empty`);
    return index;
  }
  if (typeof split !== 'number' || !Number.isInteger(split) || split <= 0 || split >= count) {
    throw new Error(`${name} must be a layer index in [1, ${count - 1}] or a layer name (received ${show(split)})`);
  }
  return split;
}

/** What {@link freeze} and {@link unfreeze} act on: a group name, a layer name, a group, a layer, or a list of them. */
export type FreezeTarget = string | LayerGroup | tf.layers.Layer | readonly (string | LayerGroup | tf.layers.Layer)[];

/**
 * Freezes layers: sets `trainable = false`, so their weights leave `model.trainableWeights` and
 * hence the Learner's variable list and the optimizer's updates.
 *
 * Why: train a new head on a pretrained backbone without destroying the backbone's features.
 * A string is a default group name (`'backbone'`, `'head'`, see {@link layerGroups}) or else a
 * layer name. Freeze before `learner.fit` (the Learner reads the trainable variables when a fit
 * starts; a compiled tfjs model must be recompiled). Returns the layers changed; nothing to dispose.
 *
 * @example
 * ```ts
 * freeze(model, 'backbone');
 * console.log(model.trainableWeights.length); // only the head's
 * ```
 */
export function freeze(model: tf.LayersModel, target: FreezeTarget): tf.layers.Layer[] {
  return setTrainable(model, target, false);
}

/**
 * Unfreezes layers (`trainable = true`), undoing {@link freeze}; `target` as there. Also sets the
 * model itself trainable. Returns the layers changed; nothing to dispose.
 *
 * @example
 * ```ts
 * unfreeze(model, 'backbone'); // fine-tune everything, e.g. with discriminativeParamGroups
 * ```
 */
export function unfreeze(model: tf.LayersModel, target: FreezeTarget): tf.layers.Layer[] {
  const layers = setTrainable(model, target, true);
  model.trainable = true;
  return layers;
}

function setTrainable(model: tf.LayersModel, target: FreezeTarget, trainable: boolean): tf.layers.Layer[] {
  const items = Array.isArray(target) ? target : [target];
  if (items.length === 0) throw new Error(`target must name at least one layer or group (received [])`);
  const layers: tf.layers.Layer[] = [];
  for (const item of items as (string | LayerGroup | tf.layers.Layer)[]) layers.push(...resolve(model, item));
  for (const layer of layers) layer.trainable = trainable;
  return layers;
}

function resolve(model: tf.LayersModel, item: string | LayerGroup | tf.layers.Layer): tf.layers.Layer[] {
  if (typeof item === 'string') {
    if (item === 'backbone' || item === 'head') {
      return (layerGroups(model).find((group) => group.name === item) as LayerGroup).layers;
    }
    const layer = model.layers.find((l) => l.name === item);
    if (layer === undefined) {
      throw new Error(`target must be 'backbone', 'head' or a layer name of the model (received '${item}')`);
    }
    return [layer];
  }
  if (item !== null && typeof item === 'object' && 'layers' in item && Array.isArray(item.layers)) {
    item.layers.forEach((layer) => checkMember(model, layer));
    return item.layers;
  }
  checkMember(model, item as tf.layers.Layer);
  return [item as tf.layers.Layer];
}

function checkMember(model: tf.LayersModel, layer: tf.layers.Layer): void {
  if (!model.layers.includes(layer)) {
    const name = layer !== null && typeof layer === 'object' && 'name' in layer ? `'${String(layer.name)}'` : show(layer);
    throw new Error(`target must be a layer of model '${model.name}' (received ${name})`);
  }
}
