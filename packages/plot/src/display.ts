import type { Chart } from './chart.js';
import { describeValue } from './validate.js';

/**
 * Where a chart can be shown, structurally: tslab's `display` object (`import * as tslab from
 * 'tslab'; tslab.display`) matches, and so does any object with one of these methods.
 */
export interface DisplayTarget {
  /** Shows an SVG document. */
  svg?(svg: string): void;
  /** Shows PNG bytes. */
  png?(bytes: Uint8Array): void;
}

/** Options of {@link display}. */
export interface DisplayOptions {
  /**
   * The format to show: 'png' is the more portable in saved notebooks (viewers that strip SVG still
   * show it), 'svg' stays sharp at any zoom. Falls back to the other when the target lacks it.
   * Defaults to 'png'.
   */
  readonly format?: 'png' | 'svg';
  /** The PNG scale (2 for high-density screens). Defaults to 1. */
  readonly scale?: number;
}

/**
 * Shows a chart in a notebook: renders it and hands the PNG bytes (or the SVG text) to `target`.
 *
 * Why: tslab displays rich output through `tslab.display.png(bytes)` / `.svg(text)`; taking the
 * target as an argument keeps tslab out of this package's dependencies.
 *
 * @param chart - the chart to show.
 * @param target - tslab's `display`, or any `{ svg?(s), png?(b) }`.
 * @param options - `format` ('png' or 'svg', defaults to 'png'), `scale` of the PNG (defaults to 1).
 *
 * @example
 * ```ts
 * import * as tslab from 'tslab';
 * import { display, learningCurves } from '@convkit/plot';
 * await display(learningCurves(history), tslab.display);
 * ```
 */
export async function display(chart: Chart, target: DisplayTarget, options: DisplayOptions = {}): Promise<void> {
  const format = options.format ?? 'png';
  if (format !== 'png' && format !== 'svg') {
    throw new Error(`format must be 'png' or 'svg' (received ${describeValue(format)})`);
  }
  const canPng = typeof target?.png === 'function';
  const canSvg = typeof target?.svg === 'function';
  if (canPng && (format === 'png' || !canSvg)) {
    target.png!(await chart.toPNG({ scale: options.scale ?? 1 }));
  } else if (canSvg) {
    target.svg!(await chart.toSVG());
  } else {
    throw new Error(`target must have a png(bytes) or svg(text) method (received ${describeValue(target)})`);
  }
}
