import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '@convkit/core';
import { activationLayer, checkActivation, checkOutputActivation } from './activation.js';
import type { Activation, OutputActivation } from './activation.js';
import { headStart } from './layer-groups.js';
import { integerList, knownKeys, positiveInteger, show } from './validate.js';
import { kernelInitializers } from './weight-init.js';

/** Options of {@link replaceHead}. */
export interface ReplaceHeadOptions {
  /** Units of the new output layer. Required. */
  numClasses: number;
  /** Hidden dense layers of the new head. Defaults to `[]` (one dense layer). */
  hidden?: readonly number[];
  /** Activation of the hidden layers. Defaults to `'relu'`. */
  activation?: Activation;
  /** Activation of the output layer. Defaults to `'linear'` (logits). */
  outputActivation?: OutputActivation;
  /** The last backbone layer (name or index in `model.layers`). Defaults to the layer before the default `'head'` group (see `layerGroups`). */
  backboneEnd?: string | number;
  /** Kernel initializer of the new layers. Defaults to `heNormal()` for ReLU-like activations, else `glorotUniform()`. */
  initializer?: Initializer;
  /** Seed of the initializer's Rng. Defaults to 0. */
  seed?: number;
}

const KEYS: readonly string[] = ['numClasses', 'hidden', 'activation', 'outputActivation', 'backboneEnd', 'initializer', 'seed'];

/**
 * A new model made of `model`'s backbone layers (the very same layer objects, so the weights are
 * shared, frozen state included) and a new, freshly initialised head:
 * `[flatten if the backbone output is not flat] → [dense → activation]* → dense(numClasses)`.
 *
 * Why: transfer learning to a new label set (Keras's "replace the top", fastai's `create_head`).
 * The backbone graph is replayed on a new input, so the original model keeps working and each
 * model holds its own reference to the shared layers: disposing one leaves the other usable.
 * The new layers are named `head_flatten`, `head_dense_{i}`, `head_act_{i}`, `head_logits`.
 *
 * Returns a new, uncompiled `tf.LayersModel`; call `dispose()` on it (and on `model`) when done.
 *
 * @example
 * ```ts
 * const backbone = await loadLayersModelFromDisk('./pretrained');
 * const model = replaceHead(backbone, { numClasses: 5, hidden: [64] });
 * freeze(model, 'backbone');
 * ```
 */
export function replaceHead(model: tf.LayersModel, options: ReplaceHeadOptions): tf.LayersModel {
  knownKeys('replaceHead', options, KEYS);
  const numClasses = positiveInteger('numClasses', options.numClasses);
  const hidden = integerList('hidden', options.hidden ?? [], true);
  const activation = checkActivation('activation', options.activation ?? 'relu');
  const outputActivation = checkOutputActivation('outputActivation', options.outputActivation ?? 'linear');
  const end = backboneEndIndex(model, options.backboneEnd);
  const init = kernelInitializers(options.initializer, options.seed, activation);

  const { inputs, output } = replay(model, end);
  let x = output;
  if (x.shape.length > 2) x = tf.layers.flatten({ name: 'head_flatten' }).apply(x) as tf.SymbolicTensor;
  hidden.forEach((units, index) => {
    x = tf.layers.dense({ units, kernelInitializer: init(), name: `head_dense_${index + 1}` }).apply(x) as tf.SymbolicTensor;
    x = activationLayer(activation, `head_act_${index + 1}`).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.dense({ units: numClasses, activation: outputActivation, kernelInitializer: init(), name: 'head_logits' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs, outputs: x });
}

function backboneEndIndex(model: tf.LayersModel, value: unknown): number {
  if (value === undefined) return headStart(model) - 1;
  const index = typeof value === 'string' ? model.layers.findIndex((layer) => layer.name === value) : value;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= model.layers.length - 1) {
    throw new Error(`backboneEnd must be a layer name or an index in [0, ${model.layers.length - 2}] of model '${model.name}' (received ${show(value)})`);
  }
  return index;
}

/** Applies `model.layers[0..end]` again to fresh inputs, following the model's own graph. */
function replay(model: tf.LayersModel, end: number): { inputs: tf.SymbolicTensor[]; output: tf.SymbolicTensor } {
  const mapped = new Map<number, tf.SymbolicTensor>();
  const inputs = model.inputs.map((input) => {
    const fresh = tf.input({ shape: input.shape.slice(1), dtype: input.dtype, name: `${input.name.split('/')[0] ?? 'input'}_replaced` });
    mapped.set(input.id, fresh);
    return fresh;
  });
  let output: tf.SymbolicTensor | undefined;
  for (const layer of model.layers.slice(0, end + 1)) {
    if (layer.getClassName() === 'InputLayer') {
      output = mapped.get((layer.inboundNodes[0]?.outputTensors[0] as tf.SymbolicTensor).id);
      continue;
    }
    const node = layer.inboundNodes.find((candidate) => candidate.inputTensors.every((t) => mapped.has(t.id)));
    if (node === undefined) throw new Error(`replaceHead could not follow the graph of model '${model.name}' at layer '${layer.name}'`);
    const args = node.inputTensors.map((t) => mapped.get(t.id) as tf.SymbolicTensor);
    const result = layer.apply(args.length === 1 ? (args[0] as tf.SymbolicTensor) : args, node.callArgs);
    const results = (Array.isArray(result) ? result : [result]) as tf.SymbolicTensor[];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, results[i] as tf.SymbolicTensor));
    output = results[0];
  }
  if (output === undefined) throw new Error(`backboneEnd selects no layer of model '${model.name}'`);
  return { inputs, output };
}
