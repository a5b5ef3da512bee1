import { createRng } from '@convkit/core';
import { createImageDataset, type ImageDataset } from '@convkit/data';
import { checkDataset, checkSeed, describeValue } from './check.js';
import type { PseudoLabels } from './pseudo-label.js';

/** Labeled : pseudolabeled proportion, as `[labeled, pseudo]` (e.g. `[1, 3]` for 1:3) or a number `n` for 1:n. */
export type MixRatio = number | readonly [number, number];

/** Options of {@link mixLabeled}. */
export interface MixOptions {
  /** The labeled : pseudolabeled proportion of the mix; the write-up's range is 1:2 to 1:4. Defaults to `[1, 2]`. */
  ratio?: MixRatio;
  /** Seed of the draw of pseudolabeled rows. Defaults to 0. */
  seed?: number;
  /**
   * When there are fewer pseudolabeled rows than the ratio asks: `'all'` takes them all (the mix then has a lower
   * ratio, reported in `ratio`), `'repeat'` draws repeats to reach the ratio. Defaults to `'all'`.
   */
  whenShort?: 'all' | 'repeat';
}

/** A labeled + pseudolabeled training set: a dataset the `DataLoader` serves, with where each row came from. */
export interface MixedDataset {
  /** The labeled rows (all of them, in order), then the chosen pseudolabeled rows. Holds no tensors. */
  dataset: ImageDataset;
  /** Rows taken from the labeled set (all of it). */
  labeledCount: number;
  /** Rows taken from the pseudolabeled set (repeats counted). */
  pseudoCount: number;
  /** The row of the pseudolabeled set behind each pseudolabeled row of `dataset`, in order. */
  pseudoRows: Int32Array;
  /** The proportion obtained, pseudoCount / labeledCount. */
  ratio: number;
}

/** Turns a ratio option into pseudolabeled rows per labeled row. */
export function ratioValue(ratio: unknown, name = 'ratio'): number {
  if (typeof ratio === 'number' && Number.isFinite(ratio) && ratio >= 0) return ratio;
  if (Array.isArray(ratio) && ratio.length === 2) {
    const [labeled, pseudo] = ratio as unknown[];
    if (typeof labeled === 'number' && typeof pseudo === 'number' && labeled > 0 && pseudo >= 0 && Number.isFinite(labeled + pseudo)) {
      return pseudo / labeled;
    }
  }
  throw new Error(
    `${name} must be [labeled, pseudo] with labeled > 0 and pseudo ≥ 0 (e.g. [1, 3]) or a number n ≥ 0 for 1:n ` +
      `(received ${Array.isArray(ratio) ? JSON.stringify(ratio) : describeValue(ratio)})`
  );
}

/**
 * The kept images of an unlabeled set as a dataset labeled with their pseudo-labels (row j is
 * `unlabeled` row `pseudo.indices[j]`). Copies the images; holds no tensors.
 *
 * @example
 * ```ts
 * const pseudo = await pseudoLabel(model, unlabeled, { threshold: 0.9 });
 * const pseudoSet = pseudoDataset(unlabeled, pseudo);   // pseudoSet.labels = pseudo.labels
 * ```
 */
export function pseudoDataset(unlabeled: ImageDataset, pseudo: PseudoLabels): ImageDataset {
  checkDataset(unlabeled, 'unlabeled');
  const [height, width, channels] = unlabeled.shape;
  const pixels = height * width * channels;
  const images = new Uint8Array(pseudo.indices.length * pixels);
  pseudo.indices.forEach((row, j) => {
    if (!(row >= 0 && row < unlabeled.length)) {
      throw new Error(`pseudo.indices[${j}] must be a row of unlabeled, in [0, ${unlabeled.length}) (received ${row})`);
    }
    images.set(unlabeled.images.subarray(row * pixels, (row + 1) * pixels), j * pixels);
  });
  const sameClasses = unlabeled.numClasses === pseudo.numClasses;
  return createImageDataset({
    images,
    labels: pseudo.labels,
    shape: unlabeled.shape,
    numClasses: pseudo.numClasses,
    ...(sameClasses ? { classNames: unlabeled.classNames } : {}),
    source: `pseudolabels of ${unlabeled.source}`,
  });
}

/**
 * Mixes labeled and pseudolabeled data at a labeled : pseudolabeled proportion.
 *
 * Why: the write-up mixes training data and pseudolabeled data "in 1:2 – 1:4 proportions": enough pseudolabels to
 * teach the unlabeled distribution, while the true labels keep a steady share of every epoch. All `L` labeled rows
 * are kept and P = round(L · pseudo / labeled) pseudolabeled rows are drawn without replacement from a seeded
 * permutation (with `whenShort: 'repeat'`, whole permutations are repeated until P rows are drawn).
 *
 * Options: `ratio` (defaults to `[1, 2]`), `seed` (defaults to 0), `whenShort` (`'all'` or `'repeat'`, defaults to
 * `'all'`). Returns a new dataset (copies, no tensors); serve it with `new DataLoader(mixed.dataset, …)`.
 *
 * @example
 * ```ts
 * import { mixLabeled, pseudoDataset, pseudoLabel } from '@convkit/pseudolabel';
 * const pseudo = await pseudoLabel(model, unlabeled, { threshold: 0.9 });
 * const mixed = mixLabeled(labeled, pseudoDataset(unlabeled, pseudo), { ratio: [1, 3], seed: 1 });
 * console.log(mixed.labeledCount, mixed.pseudoCount); // e.g. 500 1500
 * ```
 */
export function mixLabeled(labeled: ImageDataset, pseudo: ImageDataset, options: MixOptions = {}): MixedDataset {
  checkDataset(labeled, 'labeled');
  checkDataset(pseudo, 'pseudo');
  const { seed = 0, whenShort = 'all' } = options;
  const perLabeled = ratioValue(options.ratio ?? [1, 2]);
  checkSeed(seed);
  if (whenShort !== 'all' && whenShort !== 'repeat') {
    throw new Error(`whenShort must be 'all' or 'repeat' (received ${describeValue(whenShort)})`);
  }
  if (labeled.shape.join('x') !== pseudo.shape.join('x')) {
    throw new Error(`pseudo.shape must equal labeled.shape [${labeled.shape.join(', ')}] (received [${pseudo.shape.join(', ')}])`);
  }
  if (labeled.numClasses !== pseudo.numClasses) {
    throw new Error(`pseudo.numClasses must equal labeled.numClasses = ${labeled.numClasses} (received ${pseudo.numClasses})`);
  }
  const wanted = Math.round(labeled.length * perLabeled);
  if (wanted > 0 && pseudo.length === 0 && whenShort === 'repeat') {
    throw new Error(`pseudo must hold at least one row to repeat (received 0 rows for ratio 1:${perLabeled})`);
  }
  const count = whenShort === 'all' ? Math.min(wanted, pseudo.length) : wanted;
  const rng = createRng(seed);
  const rows = new Int32Array(count);
  for (let filled = 0; filled < count; ) {
    const order = rng.permutation(pseudo.length);
    const take = Math.min(order.length, count - filled);
    rows.set(order.subarray(0, take), filled);
    filled += take;
  }
  const pixels = labeled.shape[0] * labeled.shape[1] * labeled.shape[2];
  const images = new Uint8Array((labeled.length + count) * pixels);
  const labels = new Int32Array(labeled.length + count);
  images.set(labeled.images.subarray(0, labeled.length * pixels));
  labels.set(labeled.labels);
  rows.forEach((row, j) => {
    images.set(pseudo.images.subarray(row * pixels, (row + 1) * pixels), (labeled.length + j) * pixels);
    labels[labeled.length + j] = pseudo.labels[row]!;
  });
  const dataset = createImageDataset({
    images,
    labels,
    shape: labeled.shape,
    numClasses: labeled.numClasses,
    classNames: labeled.classNames,
    source: `${labeled.source} + pseudolabels`,
  });
  return {
    dataset,
    labeledCount: labeled.length,
    pseudoCount: count,
    pseudoRows: rows,
    ratio: labeled.length === 0 ? 0 : count / labeled.length,
  };
}
