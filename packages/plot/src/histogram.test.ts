import { describe, expect, it } from 'vitest';
import { binValues, histogramChart } from './histogram.js';
import type { HistogramBar } from './histogram.js';

interface Spec {
  data: { values: HistogramBar[] };
  mark?: { type: string; opacity: number };
  encoding?: { x: { field: string; title: string }; y: { title: string; stack: null }; color?: { field: string } };
  facet?: { field: string };
  spec?: { encoding: { y: { title: string } } };
}
const specOf = (...args: Parameters<typeof histogramChart>): Spec => histogramChart(...args).spec as unknown as Spec;

describe('binValues', () => {
  it('counts values into equal bins, end bins catching the outside, NaN skipped', () => {
    expect(binValues([0, 0.1, 0.5, 0.99, 1, -3, 7, NaN], 4, 0, 1)).toEqual({ edges: [0, 0.25, 0.5, 0.75, 1], counts: [3, 0, 1, 3] });
    expect(binValues([2, 2], 2, 2, 2)).toEqual({ edges: [1.5, 2, 2.5], counts: [0, 2] });
  });
});

describe('histogramChart', () => {
  it('bins raw values over the common range and overlays the series unstacked', () => {
    const spec = specOf(
      [
        { name: 'conv1', values: [0, 1, 1, 2, 3, 4] },
        { name: 'conv2', values: new Float32Array([4, 4, 8]) },
      ],
      { bins: 4, xTitle: 'activation' },
    );
    const bars = spec.data.values;
    expect(bars.filter((b) => b.series === 'conv1').map((b) => [b.start, b.end, b.count])).toEqual([
      [0, 2, 3],
      [2, 4, 2],
      [4, 6, 1],
      [6, 8, 0],
    ]);
    expect(bars.filter((b) => b.series === 'conv2').map((b) => b.count)).toEqual([0, 0, 2, 1]);
    expect(spec.mark).toMatchObject({ type: 'bar', opacity: 0.5 });
    expect(spec.encoding).toMatchObject({ x: { field: 'start', title: 'activation' }, y: { title: 'count', stack: null }, color: { field: 'series' } });
  });

  it("takes precomputed bins, as the learner's activation stats hold them, and densities", () => {
    const spec = specOf(
      [
        { name: 'a', histogram: { edges: [0, 1, 2], counts: [1, 3] } },
        { name: 'b', edges: [-1, 0, 1], counts: [2, 2] },
      ],
      { density: true, layout: 'facet' },
    );
    expect(spec.data.values).toEqual([
      { series: 'a', start: 0, end: 1, count: 1, value: 0.25 },
      { series: 'a', start: 1, end: 2, count: 3, value: 0.75 },
      { series: 'b', start: -1, end: 0, count: 2, value: 0.5 },
      { series: 'b', start: 0, end: 1, count: 2, value: 0.5 },
    ]);
    expect(spec.facet?.field).toBe('series');
    expect(spec.spec?.encoding.y.title).toBe('share');
  });

  it('renders one bar per bin and series', async () => {
    const overlay = await histogramChart([{ name: 'x', values: [1, 2, 2, 3, 3, 3] }, { name: 'y', values: [1, 3] }], { bins: 3, range: [1, 3] }).toSVG();
    expect(overlay.match(/aria-roledescription="bar"/g)).toHaveLength(6);
    const facet = await histogramChart([{ name: 'x', edges: [0, 1, 2, 3], counts: [1, 2, 3] }, { name: 'y', edges: [0, 1], counts: [4] }], { layout: 'facet' }).toSVG();
    expect(facet.match(/aria-roledescription="bar"/g)).toHaveLength(4);
  });

  it('rejects bad input, naming the argument', () => {
    expect(() => histogramChart([])).toThrow('series must be a non-empty array');
    expect(() => histogramChart([{ name: 'a', edges: [0, 1], counts: [1, 2] }])).toThrow('series[0].edges must have counts.length + 1 = 3 entries (received an array of length 2)');
    expect(() => histogramChart([{ name: 'a', histogram: { edges: [0, 1], counts: [-1] } }])).toThrow('series[0].histogram.counts[0] must be a non-negative finite number (received -1)');
    expect(() => histogramChart([{ name: 'a', values: [1] }, { name: 'a', values: [2] }])).toThrow('series[1].name must be distinct (received "a" twice)');
    expect(() => histogramChart([{ name: 'a', values: [1] }], { bins: 0 })).toThrow('bins must be a positive integer (received 0)');
    expect(() => histogramChart([{ name: 'a', values: [1] }], { range: [1, 1] })).toThrow('range must be [low, high] with finite low < high');
  });
});
