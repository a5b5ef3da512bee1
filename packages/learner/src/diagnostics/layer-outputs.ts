import * as tf from '@tensorflow/tfjs';
import type { LearnerModel } from '../model.js';

/** One layer's output from {@link layerOutputs}. */
export interface LayerOutput {
  /** The layer's name, e.g. `conv2d_Conv2D1`. */
  layer: string;
  /** The layer's class, e.g. `Conv2D`. */
  className: string;
  /** The layer's output for the batch: a new tensor the caller disposes. */
  output: tf.Tensor;
}

const probes = new WeakMap<tf.LayersModel, { model: tf.LayersModel; layers: tf.layers.Layer[] }>();

function probeFor(model: tf.LayersModel): { model: tf.LayersModel; layers: tf.layers.Layer[] } {
  const cached = probes.get(model);
  if (cached !== undefined) return cached;
  const layers = model.layers.filter((layer) => {
    if (layer.getClassName() === 'InputLayer') return false;
    try {
      return !Array.isArray(layer.output);
    } catch {
      return false; // a layer used at several nodes has no single output
    }
  });
  const probe = tf.model({ inputs: model.inputs, outputs: layers.map((layer) => layer.output as tf.SymbolicTensor) });
  const built = { model: probe, layers };
  probes.set(model, built);
  return built;
}

/**
 * Runs a diagnostic forward pass that returns the output of every layer of a `tf.LayersModel` (in the model's
 * layer order, input layers and layers shared across several nodes left out), for activation statistics and for
 * finding the first layer whose output goes non-finite.
 *
 * Why: the loop only sees the model's final output; the layer where NaN first appears, or where activations
 * collapse to zero, needs the intermediate values. The probe model shares the layers (and so the weights) of
 * `model`; it is built once per model and cached.
 *
 * Returns new tensors that the caller disposes (one per layer); does not dispose `x`. A {@link FunctionModel} has
 * no layers: for one, this returns an empty list.
 *
 * @param training - Run layers in training mode (dropout on, batch norm on batch statistics). Defaults to false.
 * @example
 * ```ts
 * const outputs = layerOutputs(model, x);
 * for (const { layer, output } of outputs) console.log(layer, output.shape);
 * tf.dispose(outputs.map((o) => o.output));
 * ```
 */
export function layerOutputs(model: LearnerModel, x: tf.Tensor, training: boolean = false): LayerOutput[] {
  if (!(model instanceof tf.LayersModel)) return [];
  const probe = probeFor(model);
  const outputs = tf.tidy(() => {
    const result = probe.model.apply(x, { training });
    return Array.isArray(result) ? (result as tf.Tensor[]) : [result as tf.Tensor];
  });
  return probe.layers.map((layer, index) => ({
    layer: layer.name,
    className: layer.getClassName(),
    output: outputs[index]!,
  }));
}

/**
 * Maps each trainable variable name of a `tf.LayersModel` to the name of the layer that owns it (variables of a
 * {@link FunctionModel} map to themselves).
 */
export function variableLayers(model: LearnerModel): Map<string, string> {
  const result = new Map<string, string>();
  if (model instanceof tf.LayersModel) {
    for (const layer of model.layers) {
      for (const weight of layer.trainableWeights) result.set((weight.read() as tf.Variable).name, layer.name);
    }
  } else {
    for (const variable of model.variables) result.set(variable.name, variable.name);
  }
  return result;
}
