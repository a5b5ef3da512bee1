import type * as tf from '@tensorflow/tfjs';
import { DataLoader, type DataLoaderOptions, type Dataset, type ImageBatch, type IndexSampler } from '@convkit/data';
import type { BatchSource, LearnerModel, LoopContext, Plugin } from '@convkit/learner';
import { checkDataset, checkPositiveInteger, checkSeed, describeValue } from './check.js';
import { drawRows, mixLabeled, pseudoDataset, ratioValue, type MixOptions } from './mix-labeled.js';
import { predictProbabilities, type PredictOptions, type PseudoLabelModel } from './predict-probabilities.js';
import { poolSelectOptions, selectConfident, type PseudoLabelSummary, type SelectOptions } from './pseudo-label.js';

/** Options of {@link pseudoLabelPlugin}. */
export interface PseudoLabelPluginOptions
  extends PredictOptions,
    Pick<SelectOptions, 'threshold' | 'maxPerClass' | 'balance'>,
    Pick<MixOptions, 'ratio' | 'whenShort'> {
  /** The labeled training set: any `Dataset` of `@convkit/data`, in memory or streamed from files. */
  labeled: Dataset;
  /** The unlabeled pool (its `labels` are ignored unless passed as `unlabeledLabels`), read one batch at a time. */
  unlabeled: Dataset;
  /** Training batch size of the source. */
  trainBatchSize: number;
  /** After which epochs (0-based, within the fit) to relabel: a list or a predicate. Defaults to every epoch. */
  relabelAfter?: readonly number[] | ((epoch: number) => boolean);
  /** Batches per epoch, the same before and after mixing (so schedules and progress bars stay right). Defaults to ceil(labeled.length × (1 + ratio) / trainBatchSize): one pass over a full mix. */
  batchesPerEpoch?: number;
  /** The training loader's other options (`labels`, `scale`, `mean`, `std`, `transform`, `prefetch`). Defaults to the `DataLoader` defaults. */
  loader?: Omit<DataLoaderOptions, 'batchSize' | 'sampler' | 'shuffle' | 'seed' | 'dropLast'>;
  /** Seed of the epochs' orders and of the mixes. Defaults to 0. */
  seed?: number;
  /** True labels of `unlabeled`, for evaluation only (`summary.accuracy` in `relabels`). Defaults to none. */
  unlabeledLabels?: ArrayLike<number>;
}

/** One relabeling done by the plugin. */
export interface RelabelRecord {
  /** The epoch after which it ran. */
  epoch: number;
  /** Counts (and accuracy with `unlabeledLabels`) of the kept pseudo-labels. */
  summary: PseudoLabelSummary;
  /** Pseudolabeled rows in the new training mix. */
  pseudoCount: number;
}

/** What {@link pseudoLabelPlugin} returns: pass `source` as the learner's `train` and `plugin` among its plugins. */
export interface PseudoLabelTraining {
  /** The relabeling plugin (order −15, the data band). */
  plugin: Plugin;
  /** The training source: the labeled set until the first relabeling, then the current mix. */
  source: BatchSource & AsyncIterable<ImageBatch> & { readonly length: number };
  /** Relabelings of the current fit, in order. */
  readonly relabels: readonly RelabelRecord[];
}

/** An epoch of `rows` rows of the dataset: whole seeded permutations of the dataset, cut at `rows`. */
function cyclingSampler(size: number, batches: number, batchSize: number): IndexSampler {
  return {
    epochIndices: (_epoch, rng) => drawRows(size, batches * batchSize, rng),
    length: () => batches,
  };
}

function asPredictModel(model: LearnerModel): PseudoLabelModel {
  if (typeof (model as tf.LayersModel).predict === 'function') return model as tf.LayersModel;
  const functionModel = model as { forward(x: tf.Tensor, options: { training: boolean }): tf.Tensor };
  return (x) => functionModel.forward(x, { training: false });
}

/**
 * Pseudolabeling inside one `Learner.fit`: after chosen epochs, the plugin labels the unlabeled pool with the
 * model being trained, keeps the confident labels and swaps the training data for a labeled + pseudolabeled mix
 * (the "refine" form: the same model goes on training). The next epoch reads the new mix.
 *
 * Why a source and a plugin: the learner's hooks cannot replace its training source, but a source is re-iterated
 * every epoch, so the returned `source` (a `DataLoader` that the plugin re-points in `afterEpoch`) serves the
 * new mix from the next epoch on. Every epoch has the same `batchesPerEpoch` batches (rows drawn in whole seeded
 * permutations of the current set), so `ctx.batchesPerEpoch`, schedules and progress bars stay right. For
 * retraining from scratch between rounds, use {@link pseudoLabelRounds}.
 *
 * Options: `labeled`, `unlabeled`, `trainBatchSize` (required); `relabelAfter` (defaults to every epoch);
 * `threshold` (defaults to 0.9), `maxPerClass`, `balance`; `ratio` (defaults to `[1, 2]`), `whenShort` (defaults to
 * `'all'`); `batchesPerEpoch` (defaults to one pass over a full mix); `loader` (DataLoader options such as
 * `labels: 'index'`); `seed` (defaults to 0); `unlabeledLabels`; `output` (defaults to `'logits'`), `predict`,
 * `batchSize` (prediction, defaults to 256), `encoding` (defaults to the loader's `scale`/`mean`/`std`).
 *
 * `labeled` and `unlabeled` may be in memory or streamed from files (`streamImageFolder` of `@convkit/data`): the
 * pool is labeled one batch at a time, and the mix of file-backed sets is a view that reads each batch's rows.
 *
 * Ownership: the source yields fresh batches that the learner disposes; labeling disposes its tensors. The plugin
 * resets to the labeled set in `beforeFit`.
 *
 * @example
 * ```ts
 * import { pseudoLabelPlugin } from '@convkit/pseudolabel';
 * const pseudo = pseudoLabelPlugin({ labeled, unlabeled, trainBatchSize: 64, relabelAfter: [4, 7],
 *   threshold: 0.9, ratio: [1, 3], loader: { labels: 'index' } });
 * const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer: tf.train.adam(1e-3),
 *   train: pseudo.source, plugins: [pseudo.plugin] });
 * await learner.fit(10);
 * console.log(pseudo.relabels.map((r) => r.summary.kept));
 * ```
 */
export function pseudoLabelPlugin(options: PseudoLabelPluginOptions): PseudoLabelTraining {
  const { labeled, unlabeled, trainBatchSize, relabelAfter, seed = 0, loader = {}, unlabeledLabels } = options;
  checkDataset(labeled, 'labeled');
  checkDataset(unlabeled, 'unlabeled');
  checkPositiveInteger(trainBatchSize, 'trainBatchSize');
  checkSeed(seed);
  const ratio = options.ratio ?? [1, 2];
  const perLabeled = ratioValue(ratio);
  const batches = options.batchesPerEpoch ?? Math.ceil((labeled.length * (1 + perLabeled)) / trainBatchSize);
  checkPositiveInteger(batches, 'batchesPerEpoch');
  const shouldRelabel: (epoch: number) => boolean =
    relabelAfter === undefined
      ? () => true
      : typeof relabelAfter === 'function'
        ? relabelAfter
        : Array.isArray(relabelAfter) && relabelAfter.every((e) => Number.isInteger(e) && e >= 0)
          ? (epoch) => relabelAfter.includes(epoch)
          : (() => {
              throw new Error(`relabelAfter must be a list of epoch indices ≥ 0 or a function (received ${describeValue(relabelAfter)})`);
            })();
  const select = poolSelectOptions(options, unlabeledLabels, unlabeled.length);
  const encoding = options.encoding ?? {
    ...(loader.scale !== undefined ? { scale: loader.scale } : {}),
    ...(loader.mean !== undefined ? { mean: loader.mean } : {}),
    ...(loader.std !== undefined ? { std: loader.std } : {}),
  };
  const makeLoader = (dataset: Dataset, loaderSeed: number): DataLoader =>
    new DataLoader(dataset, {
      ...loader,
      batchSize: trainBatchSize,
      seed: loaderSeed,
      sampler: cyclingSampler(dataset.length, batches, trainBatchSize),
    });

  let current = makeLoader(labeled, seed);
  const relabels: RelabelRecord[] = [];
  const source: PseudoLabelTraining['source'] = {
    get length(): number {
      return batches;
    },
    [Symbol.asyncIterator]: (): AsyncIterator<ImageBatch> => current[Symbol.asyncIterator](),
  };

  const relabel = async (ctx: LoopContext): Promise<void> => {
    const probabilities = await predictProbabilities(asPredictModel(ctx.model), unlabeled, { ...options, encoding });
    const pseudo = selectConfident(probabilities, select);
    const mixed = mixLabeled(labeled, pseudoDataset(unlabeled, pseudo), {
      ratio,
      seed: seed + relabels.length + 1,
      whenShort: options.whenShort ?? 'all',
    });
    current = makeLoader(mixed.dataset, seed + relabels.length + 1);
    relabels.push({ epoch: ctx.epoch, summary: pseudo.summary, pseudoCount: mixed.pseudoCount });
  };

  const plugin: Plugin = {
    name: 'pseudoLabel',
    order: -15,
    beforeFit(): void {
      relabels.length = 0;
      current = makeLoader(labeled, seed);
    },
    async afterEpoch(ctx: LoopContext): Promise<void> {
      if (ctx.epoch < ctx.epochs - 1 && shouldRelabel(ctx.epoch)) await relabel(ctx);
    },
  };
  return { plugin, source, relabels };
}
