import * as tf from '@tensorflow/tfjs';
import type { OptimizerAlgorithm, SlotTensors } from './algorithm.js';

/** One variable of a step, as the optimizer hands it to {@link fusedStep}. */
export interface FusedItem {
  variable: tf.Variable;
  gradient: tf.Tensor;
  hypers: Readonly<Record<string, number>>;
  state: Readonly<SlotTensors>;
  /** This variable's step count, this update included. */
  step: number;
}

/**
 * Runs one step for every item through the algorithm's fused kernel, when the active backend has it, the algorithm's
 * `update` is the one the kernel reproduces, and every item can take it (float32, the slots the kernel needs present). Assigns the variables and returns each one's new slots
 * (the kernel's new tensors, and the unchanged ones as they were); the caller disposes the replaced slots. Returns
 * undefined, having changed nothing, when the step must run per variable.
 */
export function fusedStep(algorithm: OptimizerAlgorithm, items: readonly FusedItem[]): SlotTensors[] | undefined {
  const { fused } = algorithm;
  if (fused === undefined || fused.update !== algorithm.update || items.length === 0) return undefined;
  if (tf.getKernel(fused.kernel, tf.getBackend()) === undefined) return undefined;
  const slotLists: (readonly string[])[] = [];
  for (const item of items) {
    if (item.variable.dtype !== 'float32' || item.gradient.dtype !== 'float32') return undefined;
    const slots = fused.slots(item.hypers, item.state);
    if (slots === undefined || slots.some((name) => item.state[name]?.dtype !== 'float32')) return undefined;
    slotLists.push(slots);
  }
  return tf.tidy(() => {
    const inputs: tf.NamedTensorMap = {};
    items.forEach((item, index) => {
      inputs[`variable${index}`] = item.variable;
      inputs[`gradient${index}`] = item.gradient;
      for (const name of slotLists[index]!) inputs[`${name}${index}`] = item.state[name]!;
    });
    const attrs = fused.attrs(items.map(({ hypers, step }) => ({ hypers, step })));
    const result = tf.engine().runKernel(fused.kernel, inputs, attrs) as tf.Tensor | tf.Tensor[];
    const outputs = Array.isArray(result) ? result : [result];
    let at = 0;
    return items.map((item, index) => {
      item.variable.assign(outputs[at++]!);
      const next: SlotTensors = { ...item.state };
      for (const name of slotLists[index]!) next[name] = outputs[at++]!;
      return next;
    });
  });
}
