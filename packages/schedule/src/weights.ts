import * as tf from '@tensorflow/tfjs';
import type { LearnerModel } from '@convkit/learner';

/** All variables of a model (trainable or not: batch-norm statistics are part of a snapshot). */
export function modelVariables(model: LearnerModel): tf.Variable[] {
  if (model instanceof tf.LayersModel) return model.weights.map((weight) => weight.read() as tf.Variable);
  return [...model.variables];
}

/** Copies the model's variables. Returns new tensors that the caller disposes (or passes to {@link restoreWeights}). */
export function copyWeights(model: LearnerModel): tf.Tensor[] {
  const variables = modelVariables(model);
  return tf.tidy(() => variables.map((variable) => variable.clone()));
}

/** Assigns `saved` (from {@link copyWeights}) back into the model's variables. Does not dispose `saved`. */
export function restoreWeights(model: LearnerModel, saved: readonly tf.Tensor[]): void {
  const variables = modelVariables(model);
  if (variables.length !== saved.length) {
    throw new Error(`saved weights must match the model's ${variables.length} variables (received ${saved.length})`);
  }
  variables.forEach((variable, i) => variable.assign(saved[i]!));
}

/** Disposes a list of saved weights. */
export function disposeWeights(saved: readonly tf.Tensor[] | undefined): void {
  for (const tensor of saved ?? []) tensor.dispose();
}
