import type { Dataset, ImageDataset } from '@convkit/data';
import { checkDataset, checkNonNegativeInteger, checkSeed, describeValue } from './check.js';
import { mixLabeled, pseudoDataset, ratioValue, type MixedDataset, type MixOptions } from './mix-labeled.js';
import { predictProbabilities, type PredictOptions, type PseudoLabelModel } from './predict-probabilities.js';
import { poolSelectOptions, selectConfident, type SelectOptions } from './pseudo-label.js';

/** `'scratch'`: each round trains a new model on the mix; `'refine'`: each round goes on training the previous one. */
export type RoundsMode = 'scratch' | 'refine';

/**
 * What {@link PseudoLabelRoundsOptions.train} is asked to do in one round. `D` is the type of the training sets:
 * `ImageDataset` when `labeled` and `unlabeled` are both in memory (every mix is then an in-memory copy too), else
 * `Dataset` (a mix with a file-backed input is a view).
 */
export interface TrainRequest<M, D extends Dataset = ImageDataset> {
  /** 0 for the labeled-only model, then 1 … rounds. */
  round: number;
  /**
   * The training set of this round: the labeled set (round 0), else the labeled + pseudolabeled mix (a view reading
   * its rows from `labeled` and `unlabeled` when either is file-backed). Serve it with a `DataLoader`.
   */
  dataset: D;
  /** The model to go on training (`mode: 'refine'`, rounds ≥ 1); `undefined` means "build a new model". */
  previous: M | undefined;
  /** The mix of this round (rounds ≥ 1). */
  mixed: MixedDataset<D> | undefined;
}

/** One round of {@link pseudoLabelRounds}. */
export interface RoundRecord {
  /** 0 = trained on the labeled set only. */
  round: number;
  mode: RoundsMode;
  /** Rows the model of this round was trained on. */
  trainSize: number;
  /** Pseudolabeled rows in that training set (0 in round 0). */
  pseudoCount: number;
  /** Pseudo-labels that passed the filter in this round (0 in round 0). */
  kept: number;
  /** Kept pseudo-labels per class. */
  keptPerClass: number[];
  /** Share of kept pseudo-labels that are right; only when `unlabeledLabels` is given (NaN if none kept). */
  pseudoAccuracy?: number;
  /** Validation metrics of this round's model: `accuracy` when `valid` is given, plus what `evaluate` returns. */
  valid: Record<string, number>;
  /** Wall time of the round (label, mix, train, evaluate), in seconds. */
  seconds: number;
}

/**
 * Options of {@link pseudoLabelRounds}. `D` is the type of `labeled` and `unlabeled`: any `Dataset` of `@convkit/data`,
 * in memory or streamed from files. It is inferred when no type argument is given; with an explicit model type, name
 * it too for file-backed datasets (`pseudoLabelRounds<tf.LayersModel, Dataset>`), as it defaults to `ImageDataset`.
 */
export interface PseudoLabelRoundsOptions<M extends PseudoLabelModel, D extends Dataset = ImageDataset>
  extends PredictOptions,
    Pick<SelectOptions, 'threshold' | 'maxPerClass' | 'balance'>,
    Pick<MixOptions, 'ratio' | 'whenShort'> {
  /** The labeled training set. */
  labeled: D;
  /**
   * The unlabeled pool (its `labels` are ignored; pass them as `unlabeledLabels` to measure pseudo-label accuracy),
   * read one prediction batch at a time.
   */
  unlabeled: D;
  /** Trains a model for one round and returns it (a new one, or `previous` trained further). */
  train: (request: TrainRequest<M, D extends ImageDataset ? ImageDataset : Dataset>) => M | Promise<M>;
  /** Rounds of label → mix → retrain after the labeled-only round 0. Defaults to 3. */
  rounds?: number;
  /** `'scratch'` or `'refine'`. Defaults to `'scratch'`. */
  mode?: RoundsMode;
  /** Seed of the mixes (round r uses `seed + r`). Defaults to 0. */
  seed?: number;
  /** True labels of `unlabeled`, for evaluation only. Defaults to none. */
  unlabeledLabels?: ArrayLike<number>;
  /** A validation set: each round's model gets `valid.accuracy` (plain forward pass). Defaults to none. */
  valid?: Dataset;
  /** Extra validation metrics of a round's model, merged into `valid`. Defaults to none. */
  evaluate?: (model: M, round: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Frees a model that a later round replaced. Defaults to calling its `dispose()` if it has one. */
  disposeModel?: (model: M) => void;
  /** Called after each round with its record (e.g. to print progress). Defaults to none. */
  onRound?: (record: RoundRecord) => void;
  /** The clock in milliseconds. Defaults to `performance.now`. */
  now?: () => number;
}

/** What {@link pseudoLabelRounds} returns: the last round's model (the caller disposes it) and one record per round. */
export interface PseudoLabelRoundsResult<M> {
  model: M;
  rounds: RoundRecord[];
}

function defaultDispose(model: unknown): void {
  const disposable = model as { dispose?: () => unknown };
  if (typeof disposable.dispose === 'function') disposable.dispose();
}

async function validAccuracy(model: PseudoLabelModel, valid: Dataset, options: PredictOptions): Promise<number> {
  const { output, batchSize, encoding } = options;
  const { values, numClasses } = await predictProbabilities(model, valid, { output, batchSize, encoding });
  let right = 0;
  for (let i = 0; i < valid.length; i++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (values[i * numClasses + k]! > values[i * numClasses + best]!) best = k;
    if (best === valid.labels[i]) right++;
  }
  return right / valid.length;
}

/**
 * Runs rounds of pseudolabeling: train on the labeled set, then `rounds` times label the unlabeled pool with the
 * latest model → keep confident labels → mix with the labeled set → retrain (from scratch or refine).
 *
 * Why: the write-up's recipe (train; predict the unlabeled/test set; drop low-confidence labels; add them to the
 * training set at 1:2 – 1:4; train from scratch "as a warmup" or refine) as one call whose records show, per round,
 * how many labels were kept, how right they were and what validation accuracy the retrained model reaches.
 *
 * Options (besides `labeled`, `unlabeled`, `train`): `rounds` (defaults to 3), `mode` (defaults to `'scratch'`),
 * `threshold` (defaults to 0.9), `maxPerClass`, `balance` (as `pseudoLabel`), `ratio` (defaults to `[1, 2]`),
 * `whenShort` (defaults to `'all'`), `seed` (defaults to 0), `unlabeledLabels`, `valid`, `evaluate`, `output`
 * (defaults to `'logits'`), `predict` (e.g. TTA), `batchSize` (prediction, defaults to 256), `encoding`,
 * `disposeModel`, `onRound`, `now`.
 *
 * `labeled`, `unlabeled` and `valid` may be in memory or streamed from files (`streamImageFolder` of `@convkit/data`):
 * labeling reads the pool one batch at a time, and a mix of file-backed sets is a view that reads its rows per batch.
 * With an explicit model type, give the dataset type as well for file-backed sets: `pseudoLabelRounds<M, Dataset>`.
 *
 * Ownership: models replaced by a later round are disposed with `disposeModel`; the returned `model` belongs to the
 * caller. Labeling disposes all its tensors.
 *
 * @example
 * ```ts
 * import { pseudoLabelRounds } from '@convkit/pseudolabel';
 * const { model, rounds } = await pseudoLabelRounds({
 *   labeled, unlabeled, valid, rounds: 2, mode: 'refine', threshold: 0.9, ratio: [1, 3],
 *   unlabeledLabels: unlabeled.labels,
 *   train: async ({ dataset, previous }) => {
 *     const net = previous ?? smallConvNet({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
 *     await new Learner({ model: net, loss: 'softmaxCrossEntropy', optimizer: tf.train.adam(1e-3),
 *       train: new DataLoader(dataset, { batchSize: 64, labels: 'index', seed: 1 }) }).fit(3);
 *     return net;
 *   },
 * });
 * console.table(rounds.map((r) => ({ round: r.round, kept: r.kept, pseudoAccuracy: r.pseudoAccuracy, ...r.valid })));
 * model.dispose();
 * ```
 */
export async function pseudoLabelRounds<M extends PseudoLabelModel, D extends Dataset = ImageDataset>(
  options: PseudoLabelRoundsOptions<M, D>
): Promise<PseudoLabelRoundsResult<M>> {
  const { labeled, unlabeled, train, rounds = 3, mode = 'scratch', seed = 0, unlabeledLabels, valid, evaluate } = options;
  const { disposeModel = defaultDispose, onRound, now = () => performance.now() } = options;
  checkDataset(labeled, 'labeled');
  checkDataset(unlabeled, 'unlabeled');
  if (valid !== undefined) checkDataset(valid, 'valid');
  if (typeof train !== 'function') throw new Error(`train must be a function (request) => model (received ${describeValue(train)})`);
  checkNonNegativeInteger(rounds, 'rounds');
  if (mode !== 'scratch' && mode !== 'refine') throw new Error(`mode must be 'scratch' or 'refine' (received ${describeValue(mode)})`);
  checkSeed(seed);
  ratioValue(options.ratio ?? [1, 2]);
  // Checked here, before the first, costly training.
  const select = poolSelectOptions(options, unlabeledLabels, unlabeled.length);

  const records: RoundRecord[] = [];
  const finish = async (model: M, base: Omit<RoundRecord, 'valid' | 'seconds'>, start: number): Promise<void> => {
    const metrics: Record<string, number> = {};
    if (valid !== undefined) metrics.accuracy = await validAccuracy(model, valid, options);
    if (evaluate !== undefined) Object.assign(metrics, await evaluate(model, base.round));
    const record: RoundRecord = { ...base, valid: metrics, seconds: (now() - start) / 1000 };
    records.push(record);
    onRound?.(record);
  };

  let start = now();
  type TrainingSet = D extends ImageDataset ? ImageDataset : Dataset;
  let model = await train({ round: 0, dataset: labeled as unknown as TrainingSet, previous: undefined, mixed: undefined });
  const none = new Array<number>(labeled.numClasses).fill(0);
  await finish(model, { round: 0, mode, trainSize: labeled.length, pseudoCount: 0, kept: 0, keptPerClass: none }, start);
  for (let round = 1; round <= rounds; round++) {
    start = now();
    const probabilities = await predictProbabilities(model, unlabeled, options);
    const pseudo = selectConfident(probabilities, select);
    // Both in memory: an in-memory mix (D is then ImageDataset); otherwise a view over the two.
    const mixed = mixLabeled(labeled as Dataset, pseudoDataset(unlabeled as Dataset, pseudo), {
      ratio: options.ratio ?? [1, 2],
      seed: seed + round,
      whenShort: options.whenShort ?? 'all',
    }) as MixedDataset<TrainingSet>;
    const previous = mode === 'refine' ? model : undefined;
    const next = await train({ round, dataset: mixed.dataset, previous, mixed });
    if (next !== model) disposeModel(model);
    model = next;
    const base: Omit<RoundRecord, 'valid' | 'seconds'> = {
      round,
      mode,
      trainSize: mixed.dataset.length,
      pseudoCount: mixed.pseudoCount,
      kept: pseudo.summary.kept,
      keptPerClass: pseudo.summary.keptPerClass,
      ...(pseudo.summary.accuracy !== undefined ? { pseudoAccuracy: pseudo.summary.accuracy } : {}),
    };
    await finish(model, base, start);
  }
  return { model, rounds: records };
}
