import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { imageGrid, imageGridAsync } from './image-grid.js';
import type { GridCell } from './image-grid.js';
import { svgSize, svgTexts } from './svg.test-helpers.js';

interface Spec { width: number; height: number; data: { values: GridCell[] } }
const specOf = (...args: Parameters<typeof imageGrid>): Spec => imageGrid(...args).spec as unknown as Spec;

/** The pixel bytes of a data-URI PNG written by the encoder (one IDAT, filter 0 on every row). */
function pixelsOf(url: string): { width: number; height: number; pixels: number[] } {
  const png = Buffer.from(url.replace('data:image/png;base64,', ''), 'base64');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const idatLength = png.readUInt32BE(33);
  const raw = inflateSync(png.subarray(41, 41 + idatLength));
  const stride = raw.length / height;
  const pixels: number[] = [];
  for (let y = 0; y < height; y++) pixels.push(...raw.subarray(y * stride + 1, (y + 1) * stride));
  return { width, height, pixels };
}

describe('imageGrid', () => {
  it('lays an N×H×W×C batch out in rows, each image a PNG data URI of its pixels', () => {
    const data = Uint8Array.from({ length: 5 * 2 * 3 }, (_, i) => i * 8);
    const spec = specOf({ data, shape: [5, 2, 3, 1] }, { columns: 2, scale: 10, gap: 4 });
    const cells = spec.data.values;
    expect(cells.map((c) => [c.x, c.y])).toEqual([[0, 0], [34, 0], [0, 24], [34, 24], [0, 48]]);
    expect([spec.width, spec.height]).toEqual([64, 68]);
    expect(pixelsOf(cells[1]!.url)).toEqual({ width: 3, height: 2, pixels: [...data.subarray(6, 12)] });
  });

  it('maps float images through range to bytes, clipping, and keeps RGB', () => {
    const image = { data: new Float32Array([-1, 0, 0.5, 1, 2, NaN]), height: 1, width: 2, channels: 3 as const };
    expect(pixelsOf(specOf([image]).data.values[0]!.url).pixels).toEqual([0, 0, 128, 255, 255, 0]);
    expect(pixelsOf(specOf([image], { range: [-1, 1] }).data.values[0]!.url).pixels).toEqual([0, 128, 191, 255, 255, 0]);
  });

  it('renders one <image> per image and the captions', async () => {
    const images = [0, 1, 2].map((v) => ({ data: new Uint8Array(16).fill(v * 100), height: 4, width: 4, channels: 1 as const }));
    const svg = await imageGrid(images, { captions: ['zero', 'one', 'two'], scale: 3, title: 'samples' }).toSVG();
    expect(svg.match(/<image /g)).toHaveLength(3);
    expect(svg.match(/href="data:image\/png;base64,/g)).toHaveLength(3);
    expect(svgTexts(svg)).toEqual(expect.arrayContaining(['zero', 'one', 'two', 'samples']));
    expect(svgSize(svg).width).toBeGreaterThanOrEqual(3 * 12 + 2 * 4);
  });

  it('rejects bad input, naming the argument', () => {
    expect(() => imageGrid({ data: new Uint8Array(10), shape: [2, 2, 2, 1] })).toThrow('images.data must hold N × H × W × C = 8 values (received 10)');
    expect(() => imageGrid([{ data: new Uint8Array(3), height: 2, width: 2, channels: 1 }])).toThrow('images[0].data must hold height × width × channels = 4 values (received 3)');
    expect(() => imageGrid([{ data: new Uint8Array(4), height: 2, width: 2, channels: 2 as 1 }])).toThrow('images[0].channels must be 1, 3 or 4 (received 2)');
    expect(() => imageGrid([])).toThrow('images must be a non-empty array');
    expect(() => imageGrid({ data: new Uint8Array(4), shape: [1, 2, 2, 1] }, { captions: ['a', 'b'] })).toThrow('captions must be an array of at most 1 strings');
  });
});

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 6: 4 };

/** The pixels of a data-URI PNG, decoded by sharp; `channels` from the PNG's colour type (grey 1, RGB 3, RGBA 4). */
async function decoded(url: string): Promise<{ width: number; height: number; channels: number; pixels: number[] }> {
  const png = Buffer.from(url.replace('data:image/png;base64,', ''), 'base64');
  const channels = PNG_CHANNELS[png[25]!]!;
  const decoder = channels === 1 ? sharp(png).toColourspace('b-w') : sharp(png); // sharp decodes grey as RGB otherwise
  const { data, info } = await decoder.raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(channels);
  return { width: info.width, height: info.height, channels, pixels: [...data] };
}

describe('imageGridAsync', () => {
  it('embeds each image as a PNG (encoded by sharp) that decodes to its pixels, in the same layout as imageGrid', async () => {
    const data = Uint8Array.from({ length: 3 * 2 * 3 * 3 }, (_, i) => (i * 13) % 256);
    const batch = { data, shape: [3, 2, 3, 3] as const };
    const asyncSpec = (await imageGridAsync(batch, { columns: 2, captions: ['a', 'b', 'c'] })).spec as unknown as Spec;
    const syncSpec = specOf(batch, { columns: 2, captions: ['a', 'b', 'c'] });
    const layout = (spec: Spec): unknown => [spec.width, spec.height, spec.data.values.map(({ x, y, caption }) => [x, y, caption])];
    expect(layout(asyncSpec)).toEqual(layout(syncSpec));
    const cells = await Promise.all(asyncSpec.data.values.map((cell) => decoded(cell.url)));
    expect(cells.map((c) => [c.width, c.height, c.channels])).toEqual([[3, 2, 3], [3, 2, 3], [3, 2, 3]]);
    expect(cells.map((c) => c.pixels)).toEqual([0, 1, 2].map((i) => [...data.subarray(i * 18, (i + 1) * 18)]));
  });

  it('keeps grey and RGBA images and maps floats through range', async () => {
    const grey = { data: new Float32Array([0, 0.5, 1, 2]), height: 2, width: 2, channels: 1 as const };
    const rgba = { data: new Uint8Array([1, 2, 3, 4, 250, 251, 252, 253]), height: 1, width: 2, channels: 4 as const };
    const [g, c] = ((await imageGridAsync([grey, rgba])).spec as unknown as Spec).data.values;
    expect(await decoded(g!.url)).toEqual({ width: 2, height: 2, channels: 1, pixels: [0, 128, 255, 255] });
    expect(await decoded(c!.url)).toEqual({ width: 2, height: 1, channels: 4, pixels: [1, 2, 3, 4, 250, 251, 252, 253] });
  });

  it('rejects bad input as imageGrid does', async () => {
    await expect(imageGridAsync([])).rejects.toThrow('images must be a non-empty array');
    await expect(imageGridAsync({ data: new Uint8Array(4), shape: [1, 2, 2, 1] }, { columns: 0 })).rejects.toThrow('columns must be a positive integer (received 0)');
  });
});
