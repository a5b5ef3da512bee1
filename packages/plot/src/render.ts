// Headless rendering: Vega-Lite spec → Vega view → SVG → PNG.
//
// vega and vega-lite are loaded with a dynamic import(), never a static one: their module graph
// contains a top-level await (vega-canvas probes for the optional `canvas` package), and a static
// import would make this package unloadable through Node's require(esm), which notebook kernels use.
import type { View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { assertPositiveNumber } from './validate.js';

/**
 * Compiles a Vega-Lite spec and builds a headless Vega view over it (renderer 'none').
 * The caller calls `view.finalize()` when done with it.
 */
export async function createView(spec: TopLevelSpec): Promise<View> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec);
  return new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
}

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = await createView(spec);
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterises an SVG document to PNG bytes with sharp (librsvg, fonts through fontconfig).
 * `scale` multiplies the SVG's pixel size: 2 gives an image twice as wide and twice as high.
 */
export async function svgToPng(svg: string, scale: number): Promise<Uint8Array> {
  assertPositiveNumber('scale', scale);
  const { default: sharp } = await import('sharp');
  const buffer = await sharp(Buffer.from(svg), { density: 72 * scale }).png().toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
