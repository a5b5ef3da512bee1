// Points that cannot be drawn (NaN, ±Infinity, or ≤ 0 on a log axis) are left out of a chart's data
// and listed in its subtitle, so a diverged run still plots and the reader sees what is missing.

/** A point left out of a chart. */
export interface DroppedPoint {
  /** The line it belonged to, e.g. 'train loss' ('' when the chart has a single line). */
  readonly series: string;
  /** What was wrong, e.g. 'NaN', 'Infinity', '≤ 0 on a log scale'. */
  readonly problem: string;
  /** Its x value (printed in the note). */
  readonly x: number;
}

/** The subtitle lines shown at most; the rest are summarised in one more line. */
const MAX_LINES = 4;
/** The x values listed per line at most. */
const MAX_XS = 6;

/**
 * Why `value` cannot be drawn (on a log axis if `log`), or undefined when it can.
 */
export function undrawable(value: number, log: boolean): string | undefined {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  if (typeof value !== 'number') return `not a number (${typeof value})`;
  if (log && value <= 0) return '≤ 0 on a log scale';
  return undefined;
}

function formatX(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3)));
}

/**
 * Describes dropped points as subtitle lines, one per series and problem, e.g.
 * `not drawn: train loss NaN at epoch 3, 4`. Returns [] when nothing was dropped.
 */
export function describeDropped(points: readonly DroppedPoint[], xLabel: string): string[] {
  const groups = new Map<string, { series: string; problem: string; xs: number[] }>();
  for (const point of points) {
    const key = `${point.series}\u0000${point.problem}`;
    const group = groups.get(key) ?? { series: point.series, problem: point.problem, xs: [] };
    group.xs.push(point.x);
    groups.set(key, group);
  }
  const lines = [...groups.values()].map(({ series, problem, xs }) => {
    const listed = xs.slice(0, MAX_XS).map(formatX).join(', ');
    const more = xs.length > MAX_XS ? ` and ${xs.length - MAX_XS} more` : '';
    const what = [series, problem].filter((part) => part !== '').join(' ');
    return `not drawn: ${what} at ${xLabel} ${listed}${more}`;
  });
  if (lines.length <= MAX_LINES) return lines;
  const hidden = lines.length - (MAX_LINES - 1);
  return [...lines.slice(0, MAX_LINES - 1), `… and ${hidden} more series with points not drawn`];
}
