import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { chart } from './chart.js';
import { display } from './display.js';
import type { DisplayTarget } from './display.js';
import { PNG_SIGNATURE } from './svg.test-helpers.js';

const dots = chart({
  width: 60,
  height: 40,
  data: { values: [{ a: 1, b: 2 }, { a: 2, b: 3 }] },
  mark: 'point',
  encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
});

/** A target like tslab's `display`, recording what it was given. */
function recorder(methods: ('png' | 'svg')[]): DisplayTarget & { shown: { format: string; value: unknown }[] } {
  const shown: { format: string; value: unknown }[] = [];
  const target: DisplayTarget & { shown: typeof shown } = { shown };
  if (methods.includes('png')) target.png = (bytes) => shown.push({ format: 'png', value: bytes });
  if (methods.includes('svg')) target.svg = (svg) => shown.push({ format: 'svg', value: svg });
  return target;
}

describe('display', () => {
  it('shows PNG bytes by default when the target takes both', async () => {
    const target = recorder(['png', 'svg']);
    await display(dots, target, { scale: 2 });
    expect(target.shown.map((entry) => entry.format)).toEqual(['png']);
    const bytes = target.shown[0]?.value as Uint8Array;
    expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const reference = await sharp(await dots.toPNG()).metadata();
    expect((await sharp(bytes).metadata()).width).toBe((reference.width ?? 0) * 2);
  });

  it('shows SVG when asked, or when the target has no png method', async () => {
    const both = recorder(['png', 'svg']);
    await display(dots, both, { format: 'svg' });
    expect(both.shown).toEqual([{ format: 'svg', value: await dots.toSVG() }]);
    const svgOnly = recorder(['svg']);
    await display(dots, svgOnly);
    expect(svgOnly.shown.map((entry) => entry.format)).toEqual(['svg']);
    const pngOnly = recorder(['png']);
    await display(dots, pngOnly, { format: 'svg' });
    expect(pngOnly.shown.map((entry) => entry.format)).toEqual(['png']);
  });

  it('rejects a target with neither method and an unknown format', async () => {
    await expect(display(dots, {})).rejects.toThrow('target must have a png(bytes) or svg(text) method (received object)');
    await expect(display(dots, recorder(['png']), { format: 'jpg' as 'png' })).rejects.toThrow(
      `format must be 'png' or 'svg' (received "jpg")`,
    );
  });
});
