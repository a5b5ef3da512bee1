// Helpers for the tests: read the drawn lines and texts back out of an SVG rendered by vega.
// (Not exported from the package.)

/** A drawn line: its colour and the number of vertices in its path. */
export interface DrawnLine {
  readonly stroke: string;
  readonly vertices: number;
  readonly label: string;
}

/** Every line mark path of an SVG, in document order. */
export function drawnLines(svg: string): DrawnLine[] {
  const lines: DrawnLine[] = [];
  for (const match of svg.matchAll(/<path([^>]*aria-roledescription="line mark"[^>]*)>/g)) {
    const attributes = match[1] ?? '';
    const path = /\sd="([^"]*)"/.exec(attributes)?.[1] ?? '';
    lines.push({
      stroke: /\sstroke="([^"]*)"/.exec(attributes)?.[1] ?? '',
      vertices: (path.match(/[ML]/g) ?? []).length,
      label: /aria-label="([^"]*)"/.exec(attributes)?.[1] ?? '',
    });
  }
  return lines;
}

/** The content of every <text> element of an SVG, one entry per line (<tspan>) of multi-line texts. */
export function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/gs)].flatMap((match) => {
    const content = match[1] ?? '';
    const spans = [...content.matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((span) => span[1] ?? '');
    return spans.length > 0 ? spans : [content];
  });
}

/** The width and height attributes of the root <svg> element. */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg[^>]*>/.exec(svg)?.[0] ?? '';
  return {
    width: Number(/\swidth="([\d.]+)"/.exec(root)?.[1]),
    height: Number(/\sheight="([\d.]+)"/.exec(root)?.[1]),
  };
}

/** The first eight bytes of every PNG file. */
export const PNG_SIGNATURE: readonly number[] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
