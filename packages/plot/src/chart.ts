import { extname } from 'node:path';
import { writeFileAtomic } from '@convkit/io';
import type { Config, TopLevelSpec } from 'vega-lite';
import { renderSvg, svgToPng } from './render.js';
import { describeValue } from './validate.js';

/** A Vega-Lite specification (vega-lite's `TopLevelSpec`): the data, marks and encodings of a chart. */
export type VegaLiteSpec = TopLevelSpec;

/** Options for rasterising a chart. */
export interface PngOptions {
  /**
   * Multiplies the chart's pixel size: 2 renders twice as wide and twice as high (sharper on
   * high-density screens and in print). Defaults to 1.
   */
  readonly scale?: number;
}

/**
 * A chart: a Vega-Lite spec plus headless rendering to SVG and PNG.
 *
 * Every chart builder of this package (`learningCurves`, `lineChart`, …) returns one, and
 * `chart(spec)` wraps any Vega-Lite spec of your own.
 */
export interface Chart {
  /** The full Vega-Lite spec that is rendered, with the default config and background filled in. */
  readonly spec: VegaLiteSpec;
  /** Renders the chart to an SVG document (text stays text; fonts resolve where it is shown). */
  toSVG(): Promise<string>;
  /** Renders the chart to PNG bytes (white background, text drawn with the installed fonts). */
  toPNG(options?: PngOptions): Promise<Uint8Array>;
  /**
   * Writes the chart to `path`, as SVG or PNG by the file's extension (`.svg` or `.png`, any case).
   * Parent folders are created; the file is written with `@convkit/io`'s `writeFileAtomic` (a temporary
   * file in the same folder, flushed to the disk, then renamed), so a reader never sees a half-written chart.
   */
  save(path: string, options?: PngOptions): Promise<void>;
}

/** The font of every chart: installed with fontconfig here, so PNG text renders. */
const FONT = 'DejaVu Sans';

/** The house look: readable sizes, the DejaVu font, panels 300 × 220 px unless a chart says otherwise. */
const DEFAULT_CONFIG: Config = {
  font: FONT,
  view: { continuousWidth: 300, continuousHeight: 220 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555', anchor: 'start' },
  concat: { spacing: 30 },
};

/** Merges `override` into `base` two levels deep (so `{ axis: { grid: false } }` keeps the font sizes). */
function mergeConfig(base: Config, override: Config | undefined): Config {
  if (override === undefined) return base;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? { ...current, ...value } : value;
  }
  return merged as Config;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Wraps a Vega-Lite spec as a {@link Chart} that renders headless to SVG and PNG.
 *
 * Why: Vega-Lite describes a chart as data, so every chart in convkit is a spec you can inspect,
 * tweak and re-render; this adds the house defaults and the rendering that a notebook or a
 * training script needs, without a browser.
 *
 * The spec's own `config` is merged over the defaults (font 'DejaVu Sans', readable sizes,
 * panels 300 × 220 px), and `background` defaults to white so PNGs are not transparent.
 *
 * @param spec - a Vega-Lite spec; it is not modified.
 * @returns the chart; `chart.spec` is the merged spec that will be rendered.
 *
 * @example
 * ```ts
 * import { chart } from '@convkit/plot';
 * const bars = chart({
 *   data: { values: [{ label: 'cat', count: 12 }, { label: 'dog', count: 7 }] },
 *   mark: 'bar',
 *   encoding: { x: { field: 'label', type: 'nominal' }, y: { field: 'count', type: 'quantitative' } },
 * });
 * await bars.save('out/bars.svg');
 * ```
 */
export function chart(spec: VegaLiteSpec): Chart {
  if (!isPlainObject(spec)) {
    throw new Error(`spec must be a Vega-Lite spec object (received ${describeValue(spec)})`);
  }
  const full = {
    ...spec,
    background: spec.background ?? 'white',
    config: mergeConfig(DEFAULT_CONFIG, spec.config),
  } as VegaLiteSpec;
  const toSVG = (): Promise<string> => renderSvg(full);
  const toPNG = async (options: PngOptions = {}): Promise<Uint8Array> =>
    svgToPng(await toSVG(), options.scale ?? 1);
  return {
    spec: full,
    toSVG,
    toPNG,
    async save(path: string, options: PngOptions = {}): Promise<void> {
      if (typeof path !== 'string' || path === '') {
        throw new Error(`path must be a non-empty file path (received ${describeValue(path)})`);
      }
      const extension = extname(path).toLowerCase();
      if (extension === '.svg') {
        await writeFileAtomic(path, await toSVG());
      } else if (extension === '.png') {
        await writeFileAtomic(path, await toPNG(options));
      } else {
        throw new Error(
          `path must end in .svg or .png (received ${JSON.stringify(path)} with extension ` +
            `${extension === '' ? 'none' : JSON.stringify(extname(path))})`,
        );
      }
    },
  };
}
