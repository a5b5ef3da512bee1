import * as tf from '@tensorflow/tfjs';
import { DataLoader, type BatchEncodingOptions, type Dataset } from '@convkit/data';
import { checkDataset, checkPositiveInteger, describeValue } from './check.js';

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
  /** How the bytes of a dataset become floats, as the `DataLoader` that trained the model: `scale`, `mean`, `std`. Defaults to `scale: 1/255`, no centring. */
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

function isTensor4D(images: unknown): images is tf.Tensor4D {
  return images instanceof tf.Tensor && images.rank === 4;
}

/**
 * The float batches of `images` in order, `batchSize` images each; the consumer owns (and disposes) each one. A dataset
 * is read through a `DataLoader` (no shuffle, one batch prefetched): one `readRows` call of at most `batchSize` rows per
 * batch, so a file-backed dataset holds two batches in memory at most, never the whole set.
 */
async function* imageBatches(
  images: Dataset | tf.Tensor4D,
  batchSize: number,
  encoding: NonNullable<PredictOptions['encoding']>
): AsyncGenerator<tf.Tensor4D> {
  if (isTensor4D(images)) {
    const length = images.shape[0];
    for (let start = 0; start < length; start += batchSize) {
      yield images.slice([start, 0, 0, 0], [Math.min(batchSize, length - start), -1, -1, -1]);
    }
    return;
  }
  const loader = new DataLoader(images, { ...encoding, batchSize, shuffle: false, labels: 'index', prefetch: 1 });
  for await (const batch of loader) {
    batch.y.dispose();
    yield batch.x;
  }
}

/**
 * Predicts class probabilities for every image with one model or the mean over an ensemble.
 *
 * Why: pseudolabeling needs one probability row per unlabeled image; an ensemble's labels are better than any of
 * its members', and averaging probabilities (not logits) keeps each member's confidence on one scale.
 * With M models and outputs pₘ (after softmax when `output: 'logits'`): p = Σₘ pₘ / M.
 *
 * `images` is a `Dataset` from `@convkit/data`, in memory (`ImageDataset`) or file-backed (`streamImageFolder`), whose
 * bytes are encoded per batch with `encoding` exactly as a `DataLoader` does; or a float tensor `[N, H, W, C]` fed as
 * is. Runs in batches of `batchSize`: a dataset is read with one `readRows` call per batch (the next batch is read
 * while the models run), so memory holds about two batches of images, however large the dataset. Every intermediate
 * tensor is disposed. Returns plain numbers. Does not dispose `images` or the models; does not close a streaming
 * dataset.
 *
 * @example
 * ```ts
 * const { values, numClasses } = await predictProbabilities([modelA, modelB], unlabeled, { batchSize: 128 });
 * ```
 */
export async function predictProbabilities(
  models: PseudoLabelModel | readonly PseudoLabelModel[],
  images: Dataset | tf.Tensor4D,
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
  if (!isTensor4D(images)) {
    if (typeof images !== 'object' || images === null || images instanceof tf.Tensor || Array.isArray(images)) {
      throw new Error(
        `images must be a Dataset from @convkit/data, in memory or streaming, or a rank-4 tensor [N, H, W, C] ` +
          `(received ${describeValue(images)})`
      );
    }
    checkDataset(images, 'images');
  }
  const length = isTensor4D(images) ? images.shape[0] : images.length;
  if (length === 0) throw new Error('images must hold at least one image (received 0)');

  let values: Float32Array | undefined;
  let numClasses = 0;
  let start = 0;
  for await (const x of imageBatches(images, batchSize, encoding)) {
    const size = x.shape[0];
    let mean: tf.Tensor;
    try {
      mean = tf.tidy(() => {
        let sum: tf.Tensor | undefined;
        for (const model of list) {
          const out = forward(model, x, predict);
          if (out.rank !== 2 || out.shape[0] !== size) {
            throw new Error(`each model's output must be [batch, numClasses] = [${size}, K] (received [${out.shape.join(', ')}])`);
          }
          const probabilities = output === 'logits' ? tf.softmax(out) : out;
          sum = sum === undefined ? probabilities : tf.add(sum, probabilities);
        }
        return tf.div(sum!, list.length);
      });
    } finally {
      x.dispose();
    }
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
    start += size;
  }
  return { values: values!, length, numClasses };
}
