import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chart } from './chart.js';
import type { VegaLiteSpec } from './chart.js';
import { PNG_SIGNATURE, svgSize, svgTexts } from './svg.test-helpers.js';
import { isTemporaryName } from '@convkit/io';

const bars: VegaLiteSpec = {
  width: 120,
  height: 80,
  data: { values: [{ label: 'cat', count: 12 }, { label: 'dog', count: 7 }] },
  mark: 'bar',
  encoding: {
    x: { field: 'label', type: 'nominal', title: 'animal' },
    y: { field: 'count', type: 'quantitative', title: 'count' },
  },
};

let folder = '';
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'convkit-plot-chart-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('chart', () => {
  it('fills in a white background and the house config, keeping the spec own settings on top', () => {
    const spec = { ...bars, config: { axis: { labelFontSize: 20 } } } as VegaLiteSpec;
    const full = chart(spec).spec as { background?: unknown; config?: Record<string, Record<string, unknown>> };
    expect(full.background).toBe('white');
    expect(full.config?.font).toBe('DejaVu Sans');
    expect(full.config?.axis?.labelFontSize).toBe(20);
    expect(full.config?.axis?.titleFontSize).toBe(12); // default kept beside the override
    expect((spec as { background?: unknown }).background).toBeUndefined(); // input not modified
  });

  it('keeps a background the spec sets', () => {
    const full = chart({ ...bars, background: '#eeeeee' } as VegaLiteSpec).spec as { background?: unknown };
    expect(full.background).toBe('#eeeeee');
  });

  it('rejects a spec that is not an object, naming the value', () => {
    expect(() => chart(null as unknown as VegaLiteSpec)).toThrow('spec must be a Vega-Lite spec object (received null)');
  });

  it('renders SVG text in the house font, with the axis titles and one rect per bar', async () => {
    const svg = await chart(bars).toSVG();
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('font-family="DejaVu Sans');
    const texts = svgTexts(svg);
    expect(texts).toEqual(expect.arrayContaining(['animal', 'count', 'cat', 'dog']));
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(2);
    expect(svg).toMatch(/<rect width="\d+" height="\d+" fill="white"\/>/);
  });

  it('renders a PNG with the SVG pixel size times scale, on an opaque white background', async () => {
    const c = chart(bars);
    const { width, height } = svgSize(await c.toSVG());
    expect(width).toBeGreaterThan(120);
    for (const scale of [1, 2]) {
      const png = await c.toPNG({ scale });
      expect(png).toBeInstanceOf(Uint8Array);
      expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
      const metadata = await sharp(png).metadata();
      expect(metadata.format).toBe('png');
      expect(metadata.width).toBe(width * scale);
      expect(metadata.height).toBe(height * scale);
      const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([...data.subarray(0, info.channels)]).toEqual([255, 255, 255, 255]); // top-left pixel
    }
  });

  it('draws the text into the PNG (dark pixels where the axis title is)', async () => {
    const withText = await chart(bars).toPNG();
    const withoutText = await chart({
      ...bars,
      encoding: {
        x: { field: 'label', type: 'nominal', axis: null },
        y: { field: 'count', type: 'quantitative', axis: null },
      },
    } as VegaLiteSpec).toPNG();
    const darkPixels = async (png: Uint8Array): Promise<number> => {
      const { data } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
      return data.reduce((count, value) => count + (value < 100 ? 1 : 0), 0);
    };
    expect(await darkPixels(withText)).toBeGreaterThan((await darkPixels(withoutText)) + 50);
  });

  it('rejects a non-positive PNG scale, naming it', async () => {
    await expect(chart(bars).toPNG({ scale: 0 })).rejects.toThrow('scale must be a positive finite number (received 0)');
  });
});

describe('chart.save', () => {
  it('writes SVG for .svg, creating parent folders, leaving no temporary file', async () => {
    const c = chart(bars);
    const path = join(folder, 'nested', 'deeper', 'bars.svg');
    await c.save(path);
    expect(await readFile(path, 'utf8')).toBe(await c.toSVG());
    expect(await readdir(join(folder, 'nested', 'deeper'))).toEqual(['bars.svg']);
  });

  it('writes PNG for .png (any case) at the given scale, replacing an existing file', async () => {
    const path = join(folder, 'png', 'bars.PNG');
    await chart(bars).save(join(folder, 'png', 'placeholder.txt.png'));
    await writeFile(path, 'old contents');
    await chart(bars).save(path, { scale: 2 });
    const bytes = await readFile(path);
    expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const { width } = svgSize(await chart(bars).toSVG());
    expect((await sharp(bytes).metadata()).width).toBe(width * 2);
    expect((await readdir(join(folder, 'png'))).sort()).toEqual(['bars.PNG', 'placeholder.txt.png']);
  });

  it('rejects any other extension, naming it, and writes nothing', async () => {
    const c = chart(bars);
    await expect(c.save(join(folder, 'other', 'bars.jpg'))).rejects.toThrow(/must end in \.svg or \.png .*extension "\.jpg"/);
    await expect(c.save(join(folder, 'other', 'bars'))).rejects.toThrow(/extension none/);
    await expect(readdir(join(folder, 'other'))).rejects.toThrow(/ENOENT/);
  });

  it('removes its temporary file when the rename fails', async () => {
    const target = join(folder, 'is-a-folder.svg');
    await chart(bars).save(join(target, 'inner.svg')); // makes `target` a non-empty folder
    await expect(chart(bars).save(target)).rejects.toThrow();
    expect((await readdir(folder)).filter((name) => isTemporaryName(name) || name.endsWith('.tmp'))).toEqual([]);
  });
});
