import { describe, expect, it } from 'vitest';
import { lineChart } from './line-chart.js';
import type { LineChartOptions } from './line-chart.js';
import { drawnLines, svgTexts } from './svg.test-helpers.js';

interface Spec {
  title?: string | { text: string; subtitle: string[] };
  width: number;
  height: number;
  data: { values: { x: number; y: number; series: string }[] };
  mark: { type: string; point: boolean };
  encoding: {
    x: { title: string; scale: { type?: string } };
    y: { title: string; scale: { type?: string } };
    color?: { field: string };
  };
}
const specOf = (options: LineChartOptions): Spec => lineChart(options).spec as unknown as Spec;

/** An LR-finder-like sweep: loss falls, then explodes to NaN at the largest rate. */
const sweep = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1].map((x, index) => ({ x, y: [2.3, 2.25, 1.8, 1.2, 3, Number.NaN][index] ?? 0 }));

describe('lineChart', () => {
  it('puts every drawable point in the data, with the axis titles and log scales asked for', () => {
    const spec = specOf({ data: sweep, x: { title: 'learning rate', log: true }, y: { title: 'loss' }, title: 'LR finder' });
    expect(spec.data.values).toEqual(sweep.slice(0, 5).map(({ x, y }) => ({ x, y, series: 'loss' })));
    expect(spec.encoding.x).toMatchObject({ title: 'learning rate', scale: { type: 'log' } });
    expect(spec.encoding.y.scale.type).toBeUndefined();
    expect(spec.encoding.color).toBeUndefined();
    expect(spec.mark).toEqual({ type: 'line', point: false });
    expect(spec.title).toEqual({ text: 'LR finder', subtitle: ['not drawn: loss NaN at learning rate 1'] });
  });

  it('renders one path per series with every point as a vertex, and the axis titles', async () => {
    const data = [
      { x: 1, y: 1, series: 'a' },
      { x: 2, y: 2, series: 'a' },
      { x: 3, y: 1.5, series: 'a' },
      { x: 1, y: 3, series: 'b' },
      { x: 2, y: 0.5, series: 'b' },
    ];
    const c = lineChart({ data, x: { title: 'step' }, y: { title: 'value' } });
    expect((c.spec as unknown as Spec).encoding.color?.field).toBe('series');
    const svg = await c.toSVG();
    expect(drawnLines(svg).map((line) => line.vertices)).toEqual([3, 2]);
    expect(new Set(drawnLines(svg).map((line) => line.stroke)).size).toBe(2);
    expect(svgTexts(svg)).toEqual(expect.arrayContaining(['step', 'value', 'a', 'b']));
  });

  it('drops x or y values that a log axis cannot show, naming the series', () => {
    const data = [
      { x: 0, y: 1, series: 'run' },
      { x: 1, y: -2, series: 'run' },
      { x: 2, y: 4, series: 'run' },
    ];
    const spec = specOf({ data, x: { title: 'x', log: true }, y: { title: 'y', log: true }, points: true });
    expect(spec.data.values).toEqual([{ x: 2, y: 4, series: 'run' }]);
    expect(spec.mark.point).toBe(true);
    expect(spec.title).toEqual({
      text: '',
      subtitle: ['not drawn: run x ≤ 0 on a log scale at x 0', 'not drawn: run y ≤ 0 on a log scale at x 1'],
    });
  });

  it('has no title when none is given and nothing was dropped, and honours width and height', () => {
    const spec = specOf({ data: [{ x: 1, y: 1 }], x: { title: 'x' }, y: { title: 'y' }, width: 200, height: 100 });
    expect(spec.title).toBeUndefined();
    expect([spec.width, spec.height]).toEqual([200, 100]);
  });

  it('rejects bad input, naming the argument and the value', () => {
    const axes = { x: { title: 'x' }, y: { title: 'y' } };
    expect(() => lineChart({ ...axes, data: 5 as unknown as [] })).toThrow('data must be an array of { x, y, series? } points (received 5)');
    expect(() => lineChart({ ...axes, data: [null as unknown as { x: number; y: number }] })).toThrow('data[0] must be a point');
    expect(() => lineChart({ data: [], x: { title: 3 as unknown as string }, y: { title: 'y' } })).toThrow('x.title must be a string (received 3)');
    expect(() => lineChart({ data: [], x: { title: 'x' }, y: undefined as unknown as { title: string } })).toThrow('y must be an axis object');
    expect(() => lineChart({ ...axes, data: [], width: -1 })).toThrow('width must be a positive finite number (received -1)');
  });

  it('shows series names of 40 characters in full in the legend, and honours legendLabelLimit', async () => {
    const long = 'resnet-small, one-cycle, lr 3e-3, seed 42'; // 41 characters
    const data = [{ x: 1, y: 1, series: long }, { x: 2, y: 2, series: long }, { x: 1, y: 2, series: 'b' }, { x: 2, y: 1, series: 'b' }];
    const full = await lineChart({ data, x: { title: 'step' }, y: { title: 'loss' } }).toSVG();
    expect(svgTexts(full)).toContain(long);
    const cut = lineChart({ data, x: { title: 'step' }, y: { title: 'loss' }, legendLabelLimit: 60 });
    expect((cut.spec as unknown as Spec & { encoding: { color: { legend: { labelLimit: number } } } }).encoding.color.legend.labelLimit).toBe(60);
    const texts = svgTexts(await cut.toSVG());
    expect(texts).not.toContain(long);
    expect(texts.some((t) => t.startsWith('res') && t.endsWith('…') && t.length < long.length)).toBe(true);
    expect(() => lineChart({ data, x: { title: 'step' }, y: { title: 'loss' }, legendLabelLimit: 0 })).toThrow(
      'legendLabelLimit must be a positive finite number (received 0)',
    );
  });
});
