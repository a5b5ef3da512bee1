import type * as tf from '@tensorflow/tfjs';
import type { FunctionModel, LearnerModel } from '@convkit/learner';

/** One weight of a model, read and written the same way for both kinds of `LearnerModel`. */
export interface WeightHandle {
  readonly name: string;
  readonly shape: readonly number[];
  /** The weight's current value (the variable itself; do not dispose it). */
  read(): tf.Tensor;
  /** Assigns a value of the same shape; the caller keeps ownership of `value`. */
  write(value: tf.Tensor): void;
}

function isFunctionModel(model: LearnerModel): model is FunctionModel {
  const candidate = model as Partial<FunctionModel>;
  return typeof candidate.forward === 'function' && Array.isArray(candidate.variables);
}

/**
 * The weights of a model, in a fixed order: `trainableWeights` (or `weights`) of a `tf.LayersModel`, the trainable
 * (or all) `variables` of a `FunctionModel`. Uses only the public tfjs and `@convkit/learner` types.
 */
export function modelWeights(model: LearnerModel, which: 'trainable' | 'all'): WeightHandle[] {
  if (isFunctionModel(model)) {
    const variables = which === 'all' ? model.variables : model.variables.filter((variable) => variable.trainable);
    return variables.map((variable) => ({
      name: variable.name,
      shape: variable.shape,
      read: () => variable,
      write: (value) => variable.assign(value),
    }));
  }
  const layerWeights = which === 'all' ? model.weights : model.trainableWeights;
  return layerWeights.map((weight) => ({
    name: weight.name,
    // a weight's shape is always concrete (null sizes occur only in symbolic input shapes)
    shape: weight.shape.map((size) => size ?? 0),
    read: () => weight.read(),
    write: (value) => {
      weight.write(value);
    },
  }));
}

/** Throws unless `handles` match the given shapes one to one (the model the average was taken from). */
export function checkShapes(handles: readonly WeightHandle[], shapes: readonly (readonly number[])[], what: string): void {
  if (handles.length !== shapes.length) {
    throw new Error(
      `${what} has ${handles.length} weights, but the average holds ${shapes.length} ` +
        '(expected the model the average was taken from)'
    );
  }
  handles.forEach((handle, index) => {
    const expected = shapes[index]!;
    if (handle.shape.length !== expected.length || handle.shape.some((size, axis) => size !== expected[axis])) {
      throw new Error(
        `${what} weight ${index} ("${handle.name}") has shape [${handle.shape.join(', ')}] ` +
          `(expected [${expected.join(', ')}], the shape in the average)`
      );
    }
  });
}
