import { chart } from './chart.js';
import type { Chart, VegaLiteSpec } from './chart.js';
import { describeDropped, undrawable } from './dropped-points.js';
import type { DroppedPoint } from './dropped-points.js';
import { assertBoolean, assertPositiveNumber, assertString, describeValue } from './validate.js';

/**
 * One epoch of a training history, structurally: the learner's `EpochRecord` fits, and so does any
 * object with an epoch number and per-split metric values.
 */
export interface LearningCurvesEpoch {
  /** The epoch number, drawn on x. */
  readonly epoch: number;
  /** Training metrics by name, e.g. `{ loss: 0.41, accuracy: 0.87 }`. */
  readonly train: Readonly<Record<string, number>>;
  /** Validation metrics by the same names; absent or `{}` when the run has no validation. */
  readonly valid?: Readonly<Record<string, number>>;
}

/** A training history, structurally: the learner's `History` fits. */
export interface LearningCurvesHistory {
  /** One record per epoch, in the order to draw them. */
  readonly epochs: readonly LearningCurvesEpoch[];
}

/** Options of {@link learningCurves}. */
export interface LearningCurvesOptions {
  /** The metrics to plot, one panel each, in this order. Defaults to every metric present, 'loss' first. */
  readonly metrics?: readonly string[];
  /** The chart title. Defaults to 'Learning curves'. */
  readonly title?: string;
  /** The width of each panel in pixels. Defaults to 300. */
  readonly width?: number;
  /** The height of each panel in pixels. Defaults to 220. */
  readonly height?: number;
  /**
   * A log y axis: `true` for every panel, or the names of the metrics that get one (e.g. `['loss']`).
   * Values ≤ 0 cannot be drawn on a log axis and are dropped (and noted). Defaults to false.
   */
  readonly logScale?: boolean | readonly string[];
}

/** The splits, in legend order, with their fixed colours (the same in every panel and every chart). */
const SPLITS = [
  { key: 'train', label: 'train', color: '#1f77b4' },
  { key: 'valid', label: 'validation', color: '#ff7f0e' },
] as const;

interface CurvePoint {
  readonly epoch: number;
  readonly split: string;
  readonly value: number;
}

function validateHistory(history: LearningCurvesHistory): void {
  if (typeof history !== 'object' || history === null || !Array.isArray(history.epochs)) {
    throw new Error(`history must be an object with an epochs array (received ${describeValue(history)})`);
  }
  if (history.epochs.length === 0) {
    throw new Error('history.epochs must contain at least one epoch to plot (received 0 epochs)');
  }
  history.epochs.forEach((record, index) => {
    if (typeof record !== 'object' || record === null) {
      throw new Error(`history.epochs[${index}] must be an epoch record (received ${describeValue(record)})`);
    }
    if (typeof record.epoch !== 'number' || !Number.isFinite(record.epoch)) {
      throw new Error(
        `history.epochs[${index}].epoch must be a finite number (received ${describeValue(record.epoch)})`,
      );
    }
    const { train, valid } = record;
    if (typeof train !== 'object' || train === null) {
      throw new Error(
        `history.epochs[${index}].train must be an object of metric values (received ${describeValue(train)})`,
      );
    }
    if (valid !== undefined && (typeof valid !== 'object' || valid === null)) {
      throw new Error(
        `history.epochs[${index}].valid must be an object of metric values or absent (received ${describeValue(valid)})`,
      );
    }
  });
}

/** Every metric name in the history, 'loss' first, then in order of first appearance. */
function metricNames(history: LearningCurvesHistory): string[] {
  const names = new Set<string>();
  for (const record of history.epochs) {
    for (const split of SPLITS) for (const name of Object.keys(record[split.key] ?? {})) names.add(name);
  }
  const ordered = [...names];
  return ordered.includes('loss') ? ['loss', ...ordered.filter((name) => name !== 'loss')] : ordered;
}

function chooseMetrics(requested: readonly string[] | undefined, available: readonly string[]): readonly string[] {
  const list = `(available: ${available.length > 0 ? available.join(', ') : 'none'})`;
  if (requested === undefined) {
    if (available.length === 0) {
      throw new Error(`history records no metric values in any epoch's train or valid ${list}`);
    }
    return available;
  }
  if (!Array.isArray(requested) || requested.length === 0) {
    throw new Error(`metrics must be a non-empty array of metric names (received ${describeValue(requested)})`);
  }
  requested.forEach((name, index) => {
    assertString(`metrics[${index}]`, name);
    if (!available.includes(name)) {
      throw new Error(`metrics[${index}] names a metric the history does not record (received ${JSON.stringify(name)}) ${list}`);
    }
    if (requested.indexOf(name) !== index) {
      throw new Error(`metrics must not repeat a name (received ${JSON.stringify(name)} twice)`);
    }
  });
  return requested;
}

function logMetrics(logScale: boolean | readonly string[] | undefined, metrics: readonly string[]): Set<string> {
  if (logScale === undefined) return new Set();
  if (Array.isArray(logScale)) {
    logScale.forEach((name: unknown, index) => {
      if (typeof name !== 'string' || !metrics.includes(name)) {
        throw new Error(
          `logScale[${index}] must name a plotted metric (received ${describeValue(name)}; plotted: ${metrics.join(', ')})`,
        );
      }
    });
    return new Set(logScale);
  }
  assertBoolean('logScale', logScale);
  return new Set(logScale ? metrics : []);
}

/**
 * Plots learning curves: one panel per metric (loss, accuracy, …) side by side, the epoch on x,
 * one line with points per split (train, validation), in the same colours in every panel.
 *
 * Why: the gap and the trend of train against validation curves is the first diagnosis of a
 * training run (under- or overfitting, a too-high learning rate, a diverging run). Each panel has
 * its own y scale, so loss and accuracy are both readable.
 *
 * Values that cannot be drawn (NaN, ±Infinity — a diverged run — or ≤ 0 on a log axis) are left
 * out of the lines instead of breaking the chart, and listed in the chart's subtitle.
 *
 * @param history - the learner's `History`, or any `{ epochs: { epoch, train, valid? }[] }`.
 *   It must hold at least one epoch.
 * @param options - `metrics` (defaults to every metric present, 'loss' first), `title` (defaults
 *   to 'Learning curves'), `width`/`height` of each panel in pixels (default 300 × 220), and
 *   `logScale` (true, or the metric names to draw on a log y axis; defaults to false).
 * @returns a {@link Chart}; its spec holds one `hconcat` panel per metric, each with its points in
 *   `data.values` as `{ epoch, split: 'train' | 'validation', value }`.
 *
 * @example
 * ```ts
 * import { learningCurves } from '@convkit/plot';
 * const history = {
 *   epochs: [1, 2, 3].map((epoch) => ({
 *     epoch,
 *     train: { loss: 1 / epoch, accuracy: 1 - 0.3 / epoch },
 *     valid: { loss: 1.2 / epoch, accuracy: 1 - 0.4 / epoch },
 *   })),
 * };
 * await learningCurves(history, { logScale: ['loss'] }).save('out/curves.png');
 * ```
 */
export function learningCurves(history: LearningCurvesHistory, options: LearningCurvesOptions = {}): Chart {
  validateHistory(history);
  const metrics = chooseMetrics(options.metrics, metricNames(history));
  const logged = logMetrics(options.logScale, metrics);
  const title = options.title ?? 'Learning curves';
  assertString('title', title);
  const width = options.width ?? 300;
  const height = options.height ?? 220;
  assertPositiveNumber('width', width);
  assertPositiveNumber('height', height);

  const dropped: DroppedPoint[] = [];
  const presentSplits = new Set<string>();
  const panels = metrics.map((metric, index) => {
    const log = logged.has(metric);
    const values: CurvePoint[] = [];
    for (const record of history.epochs) {
      for (const split of SPLITS) {
        const value = record[split.key]?.[metric];
        if (value === undefined) continue;
        presentSplits.add(split.label);
        const problem = undrawable(value, log);
        if (problem === undefined) values.push({ epoch: record.epoch, split: split.label, value });
        else dropped.push({ series: `${split.label} ${metric}`, problem, x: record.epoch });
      }
    }
    return { metric, index, log, values };
  });

  const splits = SPLITS.filter((split) => presentSplits.has(split.label));
  const subtitle = describeDropped(dropped, 'epoch');
  const spec: VegaLiteSpec = {
    title: { text: title, ...(subtitle.length > 0 ? { subtitle } : {}), offset: 14 },
    hconcat: panels.map(({ metric, index, log, values }) => ({
      title: { text: metric, fontSize: 13 },
      width,
      height,
      data: { name: `learning_curves_${index}`, values },
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'epoch',
          type: 'quantitative',
          title: 'epoch',
          axis: { tickMinStep: 1, format: 'd' },
          scale: { zero: false },
        },
        y: {
          field: 'value',
          type: 'quantitative',
          title: metric,
          // Flush end labels inside the plot, so no label pokes above it and shifts this panel's title.
          axis: { labelFlush: true },
          scale: log ? { type: 'log' } : { zero: false },
        },
        color: {
          field: 'split',
          type: 'nominal',
          title: 'split',
          scale: { domain: splits.map((split) => split.label), range: splits.map((split) => split.color) },
        },
      },
    })),
  };
  return chart(spec);
}
