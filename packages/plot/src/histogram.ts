import { chart } from './chart.js';
import type { Chart, VegaLiteSpec } from './chart.js';
import { assertPositiveNumber, assertString, describeValue } from './validate.js';

/** Precomputed bins: `counts[i]` values fell in [`edges[i]`, `edges[i + 1]`) (the learner's activation-stats shape). */
export interface HistogramBins {
  /** `counts.length + 1` increasing edges. */
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

/** One histogram of {@link histogramChart}: raw `values`, or precomputed bins as `histogram` or `{ edges, counts }`. */
export type HistogramSeries =
  | { readonly name: string; readonly values: readonly number[] | Float32Array }
  | { readonly name: string; readonly histogram: HistogramBins }
  | ({ readonly name: string } & HistogramBins);

/** Options of {@link histogramChart}. */
export interface HistogramChartOptions {
  /** Bins for raw values. Defaults to 30. */
  readonly bins?: number;
  /** `[low, high]` for raw values; values outside go to the end bins. Defaults to the values' min and max over all series. */
  readonly range?: readonly [number, number];
  /** 'overlay' draws the series over each other (translucent), 'facet' one panel per series. Defaults to 'overlay'. */
  readonly layout?: 'overlay' | 'facet';
  /** Show each bin's share of its series instead of its count. Defaults to false. */
  readonly density?: boolean;
  /** The x axis title. Defaults to 'value'. */
  readonly xTitle?: string;
  /** The chart title. Defaults to none. */
  readonly title?: string;
  /** Panel width in pixels. Defaults to 300. */
  readonly width?: number;
  /** Panel height in pixels. Defaults to 220 (overlay) or 120 (facet). */
  readonly height?: number;
  /** Facet panels per row. Defaults to 3. */
  readonly columns?: number;
}

/** One drawn bar (the rows of the spec's `data.values`). */
export interface HistogramBar {
  readonly series: string;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  /** The drawn height: `count`, or its share of the series when `density` is set. */
  readonly value: number;
}

function checkBins(name: string, bins: HistogramBins): void {
  const { edges, counts } = bins;
  if (!Array.isArray(counts) || counts.length === 0) {
    throw new Error(`${name}.counts must be a non-empty array (received ${describeValue(counts)})`);
  }
  if (!Array.isArray(edges) || edges.length !== counts.length + 1) {
    throw new Error(`${name}.edges must have counts.length + 1 = ${counts.length + 1} entries (received ${describeValue(edges)})`);
  }
  edges.forEach((edge, i) => {
    if (!Number.isFinite(edge) || (i > 0 && edge < edges[i - 1]!)) {
      throw new Error(`${name}.edges must be finite and non-decreasing (received ${describeValue(edge)} at index ${i})`);
    }
  });
  counts.forEach((count, i) => {
    if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
      throw new Error(`${name}.counts[${i}] must be a non-negative finite number (received ${describeValue(count)})`);
    }
  });
}

/** Counts `values` into `bins` equal bins over [low, high]; out-of-range values go to the end bins, NaN/±Inf are skipped. */
export function binValues(values: ArrayLike<number>, bins: number, low: number, high: number): HistogramBins {
  const lo = high > low ? low : low - 0.5;
  const hi = high > low ? high : low + 0.5;
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]!++;
  }
  return { edges, counts };
}

function finiteRange(series: readonly HistogramSeries[]): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const s of series) {
    if (!('values' in s)) continue;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]!;
      if (Number.isFinite(v)) {
        low = Math.min(low, v);
        high = Math.max(high, v);
      }
    }
  }
  return low <= high ? [low, high] : [0, 1];
}

/**
 * Draws one or several histograms, overlaid or one panel each, from raw values or precomputed bins.
 *
 * Why: per-layer activation and gradient histograms (E4.3) show dead or saturated units at a
 * glance; the learner's activation stats already carry `{ edges, counts }`, so both forms are taken.
 *
 * @param series - `{ name, values }` (raw numbers), `{ name, histogram: { edges, counts } }` or
 *   `{ name, edges, counts }`; names must be distinct.
 * @param options - `bins` (defaults to 30) and `range` (defaults to the data's min/max) for raw
 *   values, `layout` ('overlay' or 'facet', defaults to 'overlay'), `density` (defaults to false),
 *   `xTitle`, `title`, `width`/`height`, `columns` (facet panels per row, defaults to 3).
 * @returns a {@link Chart}; its spec's `data.values` holds one {@link HistogramBar} per bin.
 *
 * @example
 * ```ts
 * import { histogramChart } from '@convkit/plot';
 * const h = histogramChart([{ name: 'conv1', values: [0, 0.1, 0.5, 0.5, 2] }, { name: 'conv2', edges: [0, 1, 2], counts: [3, 1] }], { bins: 10 });
 * await h.save('out/activations.svg');
 * ```
 */
export function histogramChart(series: readonly HistogramSeries[], options: HistogramChartOptions = {}): Chart {
  if (!Array.isArray(series) || series.length === 0) {
    throw new Error(`series must be a non-empty array of { name, values } or { name, edges, counts } (received ${describeValue(series)})`);
  }
  const { bins = 30, range, layout = 'overlay', density = false, xTitle = 'value', title, columns = 3 } = options;
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be a positive integer (received ${describeValue(bins)})`);
  if (range !== undefined) {
    if (!Array.isArray(range) || range.length !== 2 || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || !(range[1] > range[0])) {
      throw new Error(`range must be [low, high] with finite low < high (received ${describeValue(range)})`);
    }
  }
  if (layout !== 'overlay' && layout !== 'facet') {
    throw new Error(`layout must be 'overlay' or 'facet' (received ${describeValue(layout)})`);
  }
  if (typeof density !== 'boolean') throw new Error(`density must be a boolean (received ${describeValue(density)})`);
  assertString('xTitle', xTitle);
  if (title !== undefined) assertString('title', title);
  if (!Number.isInteger(columns) || columns < 1) throw new Error(`columns must be a positive integer (received ${describeValue(columns)})`);
  const width = options.width ?? 300;
  const height = options.height ?? (layout === 'facet' ? 120 : 220);
  assertPositiveNumber('width', width);
  assertPositiveNumber('height', height);

  const names = new Set<string>();
  series.forEach((s, i) => {
    if (typeof s !== 'object' || s === null) throw new Error(`series[${i}] must be an object (received ${describeValue(s)})`);
    assertString(`series[${i}].name`, s.name);
    if (names.has(s.name)) throw new Error(`series[${i}].name must be distinct (received ${JSON.stringify(s.name)} twice)`);
    names.add(s.name);
    if ('values' in s) {
      if (!Array.isArray(s.values) && !(s.values instanceof Float32Array)) {
        throw new Error(`series[${i}].values must be an array of numbers (received ${describeValue(s.values)})`);
      }
    } else if ('histogram' in s) {
      checkBins(`series[${i}].histogram`, s.histogram);
    } else if ('edges' in s) {
      checkBins(`series[${i}]`, s);
    } else {
      throw new Error(`series[${i}] must have values, histogram or edges + counts (received keys ${Object.keys(s).join(', ')})`);
    }
  });

  const [low, high] = range ?? finiteRange(series);
  const bars: HistogramBar[] = series.flatMap((s) => {
    const b: HistogramBins = 'values' in s ? binValues(s.values, bins, low, high) : 'histogram' in s ? s.histogram : s;
    const total = b.counts.reduce((a, c) => a + c, 0);
    return b.counts.map((count, i) => ({
      series: s.name,
      start: b.edges[i]!,
      end: b.edges[i + 1]!,
      count,
      value: density ? (total > 0 ? count / total : 0) : count,
    }));
  });

  const yTitle = density ? 'share' : 'count';
  const several = series.length > 1;
  const colour = several ? { color: { field: 'series', type: 'nominal' as const, title: 'series', sort: [...names] } } : {};
  const encoding = {
    x: { field: 'start', type: 'quantitative' as const, title: xTitle, bin: { binned: true } },
    x2: { field: 'end' },
    y: { field: 'value', type: 'quantitative' as const, title: yTitle, ...(layout === 'overlay' ? { stack: null } : {}) },
    ...colour,
  };
  const heading = title !== undefined && title !== '' ? { title } : {};
  const spec: VegaLiteSpec =
    layout === 'facet'
      ? {
          ...heading,
          data: { name: 'histogram', values: bars },
          facet: { field: 'series', type: 'nominal', title: null, sort: [...names] },
          columns,
          resolve: { scale: { y: 'independent' } },
          spec: { width, height, mark: { type: 'bar', binSpacing: 0 }, encoding },
        }
      : {
          ...heading,
          width,
          height,
          data: { name: 'histogram', values: bars },
          mark: { type: 'bar', binSpacing: 0, opacity: several ? 0.5 : 1 },
          encoding,
        };
  return chart(spec);
}
