import { chart } from './chart.js';
import type { Chart, VegaLiteSpec } from './chart.js';
import { assertPositiveNumber, assertString, describeValue } from './validate.js';

/** How {@link confusionMatrixChart} normalises the counts before showing them. */
export type ConfusionNormalize = 'true' | 'pred' | 'all' | 'none';

/** Options of {@link confusionMatrixChart}. */
export interface ConfusionMatrixOptions {
  /** One name per class, in the matrix's order. Defaults to the class indices '0', '1', …. */
  readonly classNames?: readonly string[];
  /**
   * 'true' divides each row by its sum (the diagonal is then each class's recall), 'pred' each
   * column by its sum (the diagonal is the precision), 'all' every cell by the total, 'none' shows
   * the counts. Rows or columns that sum to 0 show 0. Defaults to 'none'.
   */
  readonly normalize?: ConfusionNormalize;
  /** The chart title. Defaults to none. */
  readonly title?: string;
  /** The plot width in pixels. Defaults to 28 px per class, at least 200. */
  readonly width?: number;
  /** The plot height in pixels. Defaults to the width. */
  readonly height?: number;
  /** Decimals printed for normalised values. Defaults to 2. */
  readonly decimals?: number;
  /** A Vega color scheme for the cells. Defaults to 'blues'. */
  readonly scheme?: string;
}

/** One cell of the heatmap (the rows of the spec's `data.values`). */
export interface ConfusionCell {
  readonly truth: string;
  readonly predicted: string;
  readonly count: number;
  /** The shown value: the count, or the normalised share. */
  readonly value: number;
  /** `value` formatted as printed in the cell. */
  readonly label: string;
}

const NORMALIZE: readonly ConfusionNormalize[] = ['true', 'pred', 'all', 'none'];

function validateMatrix(matrix: readonly (readonly number[])[]): void {
  if (!Array.isArray(matrix) || matrix.length === 0) {
    throw new Error(`matrix must be a non-empty square array of rows (received ${describeValue(matrix)})`);
  }
  const n = matrix.length;
  matrix.forEach((row, t) => {
    if (!Array.isArray(row) || row.length !== n) {
      throw new Error(`matrix[${t}] must be a row of ${n} counts, the matrix being square (received ${describeValue(row)})`);
    }
    row.forEach((count, p) => {
      if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
        throw new Error(`matrix[${t}][${p}] must be a non-negative finite number (received ${describeValue(count)})`);
      }
    });
  });
}

/**
 * Draws a confusion matrix as a heatmap with the value printed in each cell: rows are the true
 * classes, columns the predicted ones (as scikit-learn's ConfusionMatrixDisplay).
 *
 * Why: accuracy hides which classes are confused; the matrix shows it, and `normalize: 'true'`
 * puts each class's recall on the diagonal, which stays readable on imbalanced data.
 *
 * @param matrix - `matrix[t][p]` = number of samples of true class t predicted as p (square,
 *   non-negative finite numbers), e.g. the learner's `confusionMatrix` / report's `confusion`.
 * @param options - `classNames`, `normalize` (defaults to 'none'), `title`, `width`/`height`,
 *   `decimals` (defaults to 2), `scheme` (defaults to 'blues').
 * @returns a {@link Chart}; its spec's `data.values` holds one {@link ConfusionCell} per cell, row by row.
 *
 * @example
 * ```ts
 * import { confusionMatrixChart } from '@convkit/plot';
 * const cm = confusionMatrixChart([[50, 2], [10, 38]], { classNames: ['cat', 'dog'], normalize: 'true' });
 * await cm.save('out/confusion.svg');
 * ```
 */
export function confusionMatrixChart(matrix: readonly (readonly number[])[], options: ConfusionMatrixOptions = {}): Chart {
  validateMatrix(matrix);
  if (typeof options !== 'object' || options === null) {
    throw new Error(`options must be an object (received ${describeValue(options)})`);
  }
  const n = matrix.length;
  const { classNames, normalize = 'none', title, decimals = 2, scheme = 'blues' } = options;
  if (classNames !== undefined) {
    if (!Array.isArray(classNames) || classNames.length !== n) {
      throw new Error(`classNames must be an array of ${n} names, one per matrix row (received ${describeValue(classNames)})`);
    }
    classNames.forEach((name, i) => assertString(`classNames[${i}]`, name));
    if (new Set(classNames).size !== n) {
      throw new Error(`classNames must be distinct (received ${JSON.stringify(classNames)})`);
    }
  }
  if (!NORMALIZE.includes(normalize)) {
    throw new Error(`normalize must be one of 'true', 'pred', 'all', 'none' (received ${describeValue(normalize)})`);
  }
  if (title !== undefined) assertString('title', title);
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 10) {
    throw new Error(`decimals must be an integer in [0, 10] (received ${describeValue(decimals)})`);
  }
  assertString('scheme', scheme);
  const width = options.width ?? Math.max(200, 28 * n);
  const height = options.height ?? width;
  assertPositiveNumber('width', width);
  assertPositiveNumber('height', height);

  const names = classNames ?? matrix.map((_, i) => String(i));
  const rowSums = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const colSums = names.map((_, p) => matrix.reduce((a, row) => a + row[p]!, 0));
  const total = rowSums.reduce((a, b) => a + b, 0);
  const share = (count: number, denominator: number): number => (denominator > 0 ? count / denominator : 0);
  const cells: ConfusionCell[] = matrix.flatMap((row, t) =>
    row.map((count, p) => {
      const value =
        normalize === 'true' ? share(count, rowSums[t]!)
        : normalize === 'pred' ? share(count, colSums[p]!)
        : normalize === 'all' ? share(count, total)
        : count;
      const label = normalize === 'none' ? String(count) : value.toFixed(decimals);
      return { truth: names[t]!, predicted: names[p]!, count, value, label };
    }),
  );
  const max = Math.max(...cells.map((cell) => cell.value));
  const domainMax = normalize === 'none' ? Math.max(max, 1) : 1;
  const legendTitle =
    normalize === 'true' ? 'share of true class'
    : normalize === 'pred' ? 'share of predicted class'
    : normalize === 'all' ? 'share of all'
    : 'count';
  const spec = {
    ...(title !== undefined && title !== '' ? { title } : {}),
    width,
    height,
    data: { name: 'confusion_matrix', values: cells },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: [...names], title: 'predicted class', axis: { labelAngle: -45 } },
      y: { field: 'truth', type: 'nominal', sort: [...names], title: 'true class' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: { field: 'value', type: 'quantitative', title: legendTitle, legend: { titleLimit: 300 }, scale: { scheme, domain: [0, domainMax] } },
        },
      },
      {
        mark: { type: 'text', fontSize: n > 12 ? 8 : 10 },
        encoding: {
          text: { field: 'label', type: 'nominal' },
          color: { condition: { test: `datum.value > ${domainMax / 2}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  } as VegaLiteSpec; // `scheme` is any Vega scheme name; vega-lite types it as a closed union
  return chart(spec);
}
