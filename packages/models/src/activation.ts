import * as tf from '@tensorflow/tfjs';
import { nonNegativeNumber, show } from './validate.js';

/**
 * A hidden-layer activation: a tfjs activation name, or `{ leakyRelu: alpha }` for LeakyReLU
 * with slope `alpha` (≥ 0) for negative inputs.
 */
export type Activation = 'relu' | 'elu' | 'selu' | 'tanh' | 'sigmoid' | 'linear' | { leakyRelu: number };

/** The activation of a model's last layer. `'linear'` gives logits. */
export type OutputActivation = 'linear' | 'softmax' | 'sigmoid' | 'tanh';

const NAMED: readonly string[] = ['relu', 'elu', 'selu', 'tanh', 'sigmoid', 'linear'];
const OUTPUT: readonly string[] = ['linear', 'softmax', 'sigmoid', 'tanh'];

/** Validates an {@link Activation}; `name` is the option's name in error messages. */
export function checkActivation(name: string, value: unknown): Activation {
  if (typeof value === 'string' && NAMED.includes(value)) return value as Activation;
  if (value !== null && typeof value === 'object' && Object.keys(value).length === 1 && 'leakyRelu' in value) {
    nonNegativeNumber(`${name}.leakyRelu`, (value as { leakyRelu: unknown }).leakyRelu);
    return value as Activation;
  }
  throw new Error(`${name} must be one of ${NAMED.map((a) => `'${a}'`).join(', ')} or { leakyRelu: alpha } (received ${show(value)})`);
}

export function checkOutputActivation(name: string, value: unknown): OutputActivation {
  if (typeof value === 'string' && OUTPUT.includes(value)) return value as OutputActivation;
  throw new Error(`${name} must be one of ${OUTPUT.map((a) => `'${a}'`).join(', ')} (received ${show(value)})`);
}

/** A separate activation layer, so diagnostics can hook it and its config shows the slope. */
export function activationLayer(activation: Activation, name: string): tf.layers.Layer {
  if (typeof activation === 'object') return tf.layers.leakyReLU({ alpha: activation.leakyRelu, name });
  return tf.layers.activation({ activation, name });
}

/** Whether the activation is ReLU-like (ReLU, LeakyReLU), for which He initialisation is the default. */
export function isReluLike(activation: Activation): boolean {
  return activation === 'relu' || typeof activation === 'object';
}
