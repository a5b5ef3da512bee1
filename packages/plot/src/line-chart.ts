import { chart } from './chart.js';
import type { Chart, VegaLiteSpec } from './chart.js';
import { describeDropped, undrawable } from './dropped-points.js';
import type { DroppedPoint } from './dropped-points.js';
import { assertBoolean, assertPositiveNumber, assertString, describeValue } from './validate.js';

/** One point of a {@link lineChart}; points with the same `series` form one line. */
export interface LinePoint {
  readonly x: number;
  readonly y: number;
  /** The line this point belongs to (one colour and legend entry per series). Defaults to a single line. */
  readonly series?: string;
}

/** An axis of a {@link lineChart}. */
export interface LineAxis {
  /** The axis title. */
  readonly title: string;
  /** A logarithmic scale (values ≤ 0 are then dropped and noted). Defaults to false. */
  readonly log?: boolean;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  /** The points; they are drawn in x order within each series. */
  readonly data: readonly LinePoint[];
  /** The x axis. */
  readonly x: LineAxis;
  /** The y axis. */
  readonly y: LineAxis;
  /** The chart title. Defaults to none. */
  readonly title?: string;
  /** Draw a dot at every point as well as the line. Defaults to false. */
  readonly points?: boolean;
  /** The plot width in pixels. Defaults to 300. */
  readonly width?: number;
  /** The plot height in pixels. Defaults to 220. */
  readonly height?: number;
  /**
   * The widest a legend label may be, in pixels, before it is cut with '…' (Vega-Lite's default of
   * 160 cuts series names of ~25 characters). Defaults to 400, room for ~60 characters.
   */
  readonly legendLabelLimit?: number;
}

function validateAxis(name: string, axis: LineAxis): void {
  if (typeof axis !== 'object' || axis === null) {
    throw new Error(`${name} must be an axis object { title, log? } (received ${describeValue(axis)})`);
  }
  assertString(`${name}.title`, axis.title);
  if (axis.log !== undefined) assertBoolean(`${name}.log`, axis.log);
}

/**
 * Plots y against x as one or more lines: the general line chart behind curves such as the LR
 * finder's loss against learning rate.
 *
 * Why: most diagnostic plots of training are lines over a numeric axis, often logarithmic; this
 * gives them one look (house font, white background) and one way to handle values that cannot be
 * drawn: points whose x or y is NaN, ±Infinity, or ≤ 0 on a log axis are left out and listed in
 * the subtitle, so a diverging run still plots.
 *
 * @param options - `data` (`{ x, y, series? }[]`), the axes `x` and `y` (`{ title, log? }`, log
 *   defaults to false), `title` (defaults to none), `points` (dots at each point, defaults to
 *   false), `width`/`height` in pixels (default 300 × 220), `legendLabelLimit` (pixels before a
 *   legend label is cut, defaults to 400).
 * @returns a {@link Chart}; its spec's `data.values` holds the drawn points as `{ x, y, series }`.
 *
 * @example
 * ```ts
 * import { lineChart } from '@convkit/plot';
 * const data = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1].map((x, i) => ({ x, y: [2.3, 2.2, 1.6, 1.1, 4.0][i] }));
 * const curve = lineChart({
 *   data,
 *   x: { title: 'learning rate', log: true },
 *   y: { title: 'loss' },
 *   title: 'LR finder',
 * });
 * await curve.save('out/lr-finder.svg');
 * ```
 */
export function lineChart(options: LineChartOptions): Chart {
  if (typeof options !== 'object' || options === null) {
    throw new Error(`options must be an object { data, x, y } (received ${describeValue(options)})`);
  }
  const { data, x, y, title, points = false, width = 300, height = 220, legendLabelLimit = 400 } = options;
  if (!Array.isArray(data)) {
    throw new Error(`data must be an array of { x, y, series? } points (received ${describeValue(data)})`);
  }
  validateAxis('x', x);
  validateAxis('y', y);
  if (title !== undefined) assertString('title', title);
  assertBoolean('points', points);
  assertPositiveNumber('width', width);
  assertPositiveNumber('height', height);
  assertPositiveNumber('legendLabelLimit', legendLabelLimit);

  const hasSeries = data.some((point) => point?.series !== undefined);
  const values: { x: number; y: number; series: string }[] = [];
  const dropped: DroppedPoint[] = [];
  data.forEach((point, index) => {
    if (typeof point !== 'object' || point === null) {
      throw new Error(`data[${index}] must be a point { x, y, series? } (received ${describeValue(point)})`);
    }
    const series = point.series ?? (hasSeries ? '(none)' : y.title);
    if (typeof series !== 'string') {
      throw new Error(`data[${index}].series must be a string (received ${describeValue(series)})`);
    }
    const xProblem = undrawable(point.x, x.log === true);
    const yProblem = undrawable(point.y, y.log === true);
    if (xProblem === undefined && yProblem === undefined) {
      values.push({ x: point.x, y: point.y, series });
    } else {
      const problem = yProblem !== undefined ? `${y.title} ${yProblem}` : `${x.title} ${xProblem}`;
      dropped.push({ series: hasSeries ? series : '', problem, x: point.x });
    }
  });

  const subtitle = describeDropped(dropped, x.title);
  const heading = title ?? '';
  const spec: VegaLiteSpec = {
    ...(heading !== '' || subtitle.length > 0
      ? { title: subtitle.length > 0 ? { text: heading, subtitle } : heading }
      : {}),
    width,
    height,
    data: { name: 'line_chart', values },
    mark: { type: 'line', point: points },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: x.title, scale: x.log === true ? { type: 'log' } : { zero: false } },
      y: { field: 'y', type: 'quantitative', title: y.title, scale: y.log === true ? { type: 'log' } : { zero: false } },
      ...(hasSeries ? { color: { field: 'series', type: 'nominal', title: 'series', legend: { labelLimit: legendLabelLimit } } } : {}),
    },
  };
  return chart(spec);
}
