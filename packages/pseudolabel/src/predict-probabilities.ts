import * as tf from '@tensorflow/tfjs';
import { createBatchEncoder, type BatchEncodingOptions, type ImageDataset } from '@convkit/data';
import { checkPositiveInteger, describeValue } from './check.js';

/**
 * A model to label with: a `tf.LayersModel` (its `predict` is called) or a function from a float image batch
 * `[B, H, W, C]` to an output `[B, numClasses]` (e.g. `(x) => learnerModel.forward(x, { training: false })`).
 */
export type PseudoLabelModel = tf.LayersModel | ((x: tf.Tensor4D) => tf.Tensor);

/**
 * A custom prediction for one model and one image batch, e.g. test-time augmentation with `@convkit/tta`:
 * `(model, x) => withTTA(model, flips(), { output: 'probabilities' }).predict(x)`. Returns a new tensor
 * `[B, numClasses]` in the unit the `output` option names; the caller (this package) disposes it. Must not dispose
 * `x`.
 */
export type PredictFunction = (model: PseudoLabelModel, x: tf.Tensor4D) => tf.Tensor;

/** What a model's (or a {@link PredictFunction}'s) output holds: raw scores, or probabilities that sum to 1. */
export type ModelOutput = 'logits' | 'probabilities';

/** Options of {@link predictProbabilities}; also part of `pseudoLabel`'s options. */
export interface PredictOptions {
  /** What the model outputs: `'logits'` (softmax is applied) or `'probabilities'`. Defaults to `'logits'`, as convkit's models and the Learner's `softmaxCrossEntropy` loss. */
  output?: ModelOutput;
  /** Images per forward pass. Defaults to 256. */
  batchSize?: number;
  /** Replaces `model.predict(x)`, e.g. for test-time augmentation. Defaults to the plain forward pass. */
  predict?: PredictFunction;
  /** How bytes of an `ImageDataset` become floats, as the `DataLoader` that trained the model: `scale`, `mean`, `std`. Defaults to `scale: 1/255`, no centring. */
  encoding?: Pick<BatchEncodingOptions, 'scale' | 'mean' | 'std'>;
}

/** Class probabilities for every image, row-major `[length, numClasses]`. Plain numbers: nothing to dispose. */
export interface Probabilities {
  /** `length × numClasses` values, row i is image i. */
  readonly values: Float32Array;
  /** Number of images. */
  readonly length: number;
  /** Number of classes (the width of the model's output). */
  readonly numClasses: number;
}

function checkModel(model: unknown, name: string): asserts model is PseudoLabelModel {
  const ok =
    typeof model === 'function' ||
    (typeof model === 'object' && model !== null && typeof (model as tf.LayersModel).predict === 'function');
  if (!ok) {
    throw new Error(`${name} must be a tf.LayersModel or a function (x) => tf.Tensor (received ${describeValue(model)})`);
  }
}

/** Checks a model or a non-empty list of models and returns the list. */
export function checkModels(models: PseudoLabelModel | readonly PseudoLabelModel[]): readonly PseudoLabelModel[] {
  if (Array.isArray(models)) {
    if (models.length === 0) throw new Error('models must hold at least one model (received an empty array)');
    models.forEach((model, i) => checkModel(model, `models[${i}]`));
    return models as readonly PseudoLabelModel[];
  }
  checkModel(models, 'model');
  return [models as PseudoLabelModel];
}

function forward(model: PseudoLabelModel, x: tf.Tensor4D, predict: PredictFunction | undefined): tf.Tensor {
  if (predict !== undefined) return predict(model, x);
  if (typeof model === 'function') return model(x);
  const out = model.predict(x);
  if (Array.isArray(out)) throw new Error('model must have a single output (received a model with several outputs)');
  return out as tf.Tensor;
}

function isDataset(images: unknown): images is ImageDataset {
  return (
    typeof images === 'object' &&
    images !== null &&
    (images as ImageDataset).images instanceof Uint8Array &&
    Array.isArray((images as ImageDataset).shape)
  );
}

/**
 * Predicts class probabilities for every image with one model or the mean over an ensemble.
 *
 * Why: pseudolabeling needs one probability row per unlabeled image; an ensemble's labels are better than any of
 * its members', and averaging probabilities (not logits) keeps each member's confidence on one scale.
 * With M models and outputs pₘ (after softmax when `output: 'logits'`): p = Σₘ pₘ / M.
 *
 * `images` is an `ImageDataset` from `@convkit/data` (bytes, encoded per batch with `encoding`) or a float tensor
 * `[N, H, W, C]` fed as is. Runs in batches of `batchSize`; every intermediate tensor is disposed. Returns plain
 * numbers. Does not dispose `images` or the models.
 *
 * @example
 * ```ts
 * const { values, numClasses } = await predictProbabilities([modelA, modelB], unlabeled, { batchSize: 128 });
 * ```
 */
export async function predictProbabilities(
  models: PseudoLabelModel | readonly PseudoLabelModel[],
  images: ImageDataset | tf.Tensor4D,
  options: PredictOptions = {}
): Promise<Probabilities> {
  const list = checkModels(models);
  const { output = 'logits', batchSize = 256, predict, encoding = {} } = options;
  if (output !== 'logits' && output !== 'probabilities') {
    throw new Error(`output must be 'logits' or 'probabilities' (received ${describeValue(output)})`);
  }
  checkPositiveInteger(batchSize, 'batchSize');
  if (predict !== undefined && typeof predict !== 'function') {
    throw new Error(`predict must be a function (model, x) => tf.Tensor (received ${describeValue(predict)})`);
  }
  let length: number;
  let batchAt: (start: number, end: number) => tf.Tensor4D;
  if (isDataset(images)) {
    length = images.length;
    const encode = createBatchEncoder(images, { ...encoding, labels: 'index' });
    batchAt = (start, end) => {
      const batch = encode(Int32Array.from({ length: end - start }, (_, i) => start + i));
      batch.y.dispose();
      return batch.x;
    };
  } else if (images instanceof tf.Tensor && images.rank === 4) {
    length = images.shape[0];
    batchAt = (start, end) => images.slice([start, 0, 0, 0], [end - start, -1, -1, -1]);
  } else {
    throw new Error(`images must be an ImageDataset or a rank-4 tensor [N, H, W, C] (received ${describeValue(images)})`);
  }
  if (length === 0) throw new Error('images must hold at least one image (received 0)');

  let values: Float32Array | undefined;
  let numClasses = 0;
  for (let start = 0; start < length; start += batchSize) {
    const end = Math.min(start + batchSize, length);
    const mean = tf.tidy(() => {
      const x = batchAt(start, end);
      let sum: tf.Tensor | undefined;
      for (const model of list) {
        const out = forward(model, x, predict);
        if (out.rank !== 2 || out.shape[0] !== end - start) {
          throw new Error(`each model's output must be [batch, numClasses] = [${end - start}, K] (received [${out.shape.join(', ')}])`);
        }
        const probabilities = output === 'logits' ? tf.softmax(out) : out;
        sum = sum === undefined ? probabilities : tf.add(sum, probabilities);
      }
      return tf.div(sum!, list.length);
    });
    const data = (await mean.data()) as Float32Array;
    const width = mean.shape[1]!;
    mean.dispose();
    if (values === undefined) {
      numClasses = width;
      values = new Float32Array(length * numClasses);
    } else if (width !== numClasses) {
      throw new Error(`the models' output width changed between batches (received ${width}, expected ${numClasses})`);
    }
    values.set(data, start * numClasses);
  }
  return { values: values!, length, numClasses };
}
