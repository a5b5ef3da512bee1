import { createRng, type Rng } from '@convkit/core';
import { createImageDataset, isInMemory, type Dataset, type ImageDataset } from '@convkit/data';
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

/**
 * A labeled + pseudolabeled training set: a dataset the `DataLoader` serves, with where each row came from.
 * `D` is `ImageDataset` when both inputs were in memory (the mix is a copy), else `Dataset` (a view that reads its
 * rows from the two inputs).
 */
export interface MixedDataset<D extends Dataset = ImageDataset> {
  /** The labeled rows (all of them, in order), then the chosen pseudolabeled rows. Holds no tensors. */
  dataset: D;
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

/** Checks `rows` against a dataset of `length` rows, as the datasets of `@convkit/data` do. */
function checkRows(rows: ArrayLike<number>, length: number): void {
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as number;
    if (!Number.isInteger(row) || row < 0 || row >= length) {
      throw new Error(`rows[${i}] must be an integer in [0, ${length}) (received ${row})`);
    }
  }
}

/**
 * A dataset whose row `i` is row `parts[p].rows[j]` of `parts[p].dataset`, the parts one after another, with `labels`.
 * Reads only the rows asked for, with one `readRows` call per part (at most `rows.length` rows each), and copies no
 * pixel until then. A `files` list is carried over when every part has one.
 */
function rowView(
  parts: readonly { dataset: Dataset; rows: Int32Array }[],
  fields: Omit<Dataset, 'readRows' | 'length'>
): Dataset {
  const [height, width, channels] = fields.shape;
  const pixels = height * width * channels;
  const length = fields.labels.length;
  const owner = new Int32Array(length);
  const sourceRow = new Int32Array(length);
  let at = 0;
  parts.forEach((part, p) => {
    owner.fill(p, at, at + part.rows.length);
    sourceRow.set(part.rows, at);
    at += part.rows.length;
  });
  const view: Dataset & { files?: readonly string[] } = {
    ...fields,
    length,
    async readRows(rows) {
      checkRows(rows, length);
      const wanted = parts.map(() => [] as number[]);
      const positions = parts.map(() => [] as number[]);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i] as number;
        wanted[owner[row]!]!.push(sourceRow[row]!);
        positions[owner[row]!]!.push(i);
      }
      const out = new Uint8Array(rows.length * pixels);
      await Promise.all(
        parts.map(async (part, p) => {
          if (wanted[p]!.length === 0) return;
          const bytes = await part.dataset.readRows(wanted[p]!);
          positions[p]!.forEach((i, j) => out.set(bytes.subarray(j * pixels, (j + 1) * pixels), i * pixels));
        })
      );
      return out;
    },
  };
  const files = parts.map((part) => (part.dataset as { files?: readonly string[] }).files);
  if (files.every((list) => list !== undefined)) {
    view.files = Array.from(sourceRow, (row, i) => files[owner[i]!]![row]!);
  }
  return view;
}

/**
 * The kept images of an unlabeled set as a dataset labeled with their pseudo-labels (row j is `unlabeled` row
 * `pseudo.indices[j]`). Holds no tensors. An in-memory `unlabeled` gives an in-memory copy; a file-backed one (e.g.
 * from `streamImageFolder`) gives a view that reads the kept rows through `unlabeled.readRows` when a batch asks for
 * them (nothing is decoded or copied here).
 *
 * @example
 * ```ts
 * const pseudo = await pseudoLabel(model, unlabeled, { threshold: 0.9 });
 * const pseudoSet = pseudoDataset(unlabeled, pseudo);   // pseudoSet.labels = pseudo.labels
 * ```
 */
export function pseudoDataset(unlabeled: ImageDataset, pseudo: PseudoLabels): ImageDataset;
export function pseudoDataset(unlabeled: Dataset, pseudo: PseudoLabels): Dataset;
export function pseudoDataset(unlabeled: Dataset, pseudo: PseudoLabels): Dataset {
  checkDataset(unlabeled, 'unlabeled');
  pseudo.indices.forEach((row, j) => {
    if (!(row >= 0 && row < unlabeled.length)) {
      throw new Error(`pseudo.indices[${j}] must be a row of unlabeled, in [0, ${unlabeled.length}) (received ${row})`);
    }
  });
  const sameClasses = unlabeled.numClasses === pseudo.numClasses;
  const classNames = sameClasses ? unlabeled.classNames : Array.from({ length: pseudo.numClasses }, (_, c) => String(c));
  const source = `pseudolabels of ${unlabeled.source}`;
  if (!isInMemory(unlabeled)) {
    const labels = Int32Array.from(pseudo.labels);
    return rowView([{ dataset: unlabeled, rows: Int32Array.from(pseudo.indices) }], {
      labels, shape: unlabeled.shape, numClasses: pseudo.numClasses, classNames, source,
    });
  }
  const [height, width, channels] = unlabeled.shape;
  const pixels = height * width * channels;
  const images = new Uint8Array(pseudo.indices.length * pixels);
  pseudo.indices.forEach((row, j) => images.set(unlabeled.images.subarray(row * pixels, (row + 1) * pixels), j * pixels));
  return createImageDataset({
    images,
    labels: pseudo.labels,
    shape: unlabeled.shape,
    numClasses: pseudo.numClasses,
    ...(sameClasses ? { classNames: unlabeled.classNames } : {}),
    source,
  });
}

/** A draw of `count` rows of a set of `size` rows from `rng`: whole permutations, the last one cut. */
export function drawRows(size: number, count: number, rng: Rng): Int32Array {
  const rows = new Int32Array(count);
  for (let filled = 0; filled < count; ) {
    const order = rng.permutation(size);
    const take = Math.min(order.length, count - filled);
    rows.set(order.subarray(0, take), filled);
    filled += take;
  }
  return rows;
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
 * `'all'`). Serve the result with `new DataLoader(mixed.dataset, …)`.
 *
 * Both inputs may be any `Dataset` of `@convkit/data`. Two in-memory datasets give an in-memory copy (an
 * `ImageDataset`). Otherwise (either one streamed from files, e.g. by `streamImageFolder`) the mix is a view: its labels
 * are in memory, and each batch reads just its own rows from the two inputs (one `readRows` call each, no more rows than
 * the batch holds), so memory stays at a few batches however large the sets are. With the same seed, both kinds give
 * the same rows, labels and (for the same images) bit-identical `DataLoader` batches. Holds no tensors.
 *
 * @example
 * ```ts
 * import { mixLabeled, pseudoDataset, pseudoLabel } from '@convkit/pseudolabel';
 * const pseudo = await pseudoLabel(model, unlabeled, { threshold: 0.9 });
 * const mixed = mixLabeled(labeled, pseudoDataset(unlabeled, pseudo), { ratio: [1, 3], seed: 1 });
 * console.log(mixed.labeledCount, mixed.pseudoCount); // e.g. 500 1500
 * ```
 */
export function mixLabeled(labeled: ImageDataset, pseudo: ImageDataset, options?: MixOptions): MixedDataset<ImageDataset>;
export function mixLabeled(labeled: Dataset, pseudo: Dataset, options?: MixOptions): MixedDataset<Dataset>;
export function mixLabeled(labeled: Dataset, pseudo: Dataset, options: MixOptions = {}): MixedDataset<Dataset> {
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
  const rows = drawRows(pseudo.length, count, createRng(seed));
  const labels = new Int32Array(labeled.length + count);
  labels.set(labeled.labels);
  rows.forEach((row, j) => (labels[labeled.length + j] = pseudo.labels[row]!));
  const fields = { labels, shape: labeled.shape, numClasses: labeled.numClasses, classNames: labeled.classNames, source: `${labeled.source} + pseudolabels` };
  let dataset: Dataset;
  if (isInMemory(labeled) && isInMemory(pseudo)) {
    const pixels = labeled.shape[0] * labeled.shape[1] * labeled.shape[2];
    const images = new Uint8Array((labeled.length + count) * pixels);
    images.set(labeled.images.subarray(0, labeled.length * pixels));
    rows.forEach((row, j) => images.set(pseudo.images.subarray(row * pixels, (row + 1) * pixels), (labeled.length + j) * pixels));
    dataset = createImageDataset({ ...fields, images });
  } else {
    const all = Int32Array.from({ length: labeled.length }, (_, i) => i);
    dataset = rowView([{ dataset: labeled, rows: all }, { dataset: pseudo, rows }], fields);
  }
  return {
    dataset,
    labeledCount: labeled.length,
    pseudoCount: count,
    pseudoRows: rows,
    ratio: labeled.length === 0 ? 0 : count / labeled.length,
  };
}
