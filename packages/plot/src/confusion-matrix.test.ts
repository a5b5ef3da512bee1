import { describe, expect, it } from 'vitest';
import { confusionMatrixChart } from './confusion-matrix.js';
import type { ConfusionCell } from './confusion-matrix.js';
import { svgTexts } from './svg.test-helpers.js';

interface Spec {
  title?: string;
  data: { values: ConfusionCell[] };
  encoding: { x: { field: string; title: string; sort: string[] }; y: { field: string; title: string; sort: string[] } };
  layer: [{ mark: string; encoding: { color: { field: string; title: string; scale: { domain: number[] } } } }, { mark: { type: string } }];
}
const specOf = (...args: Parameters<typeof confusionMatrixChart>): Spec => confusionMatrixChart(...args).spec as unknown as Spec;

const matrix = [
  [8, 2, 0],
  [1, 3, 0],
  [0, 0, 0],
];
const names = ['cat', 'dog', 'bird'];

describe('confusionMatrixChart', () => {
  it('has one cell per entry, rows = true class and columns = predicted, with the counts', () => {
    const spec = specOf(matrix, { classNames: names, title: 'pets' });
    expect(spec.title).toBe('pets');
    expect(spec.data.values).toHaveLength(9);
    expect(spec.data.values[1]).toEqual({ truth: 'cat', predicted: 'dog', count: 2, value: 2, label: '2' });
    expect(spec.data.values[3]).toEqual({ truth: 'dog', predicted: 'cat', count: 1, value: 1, label: '1' });
    expect(spec.encoding.x).toMatchObject({ field: 'predicted', title: 'predicted class', sort: names });
    expect(spec.encoding.y).toMatchObject({ field: 'truth', title: 'true class', sort: names });
    expect(spec.layer[0].encoding.color).toMatchObject({ field: 'value', title: 'count', scale: { domain: [0, 8] } });
    expect(spec.layer[1].mark.type).toBe('text');
  });

  it("normalises by row ('true'), column ('pred') and total ('all'), with 0 for empty rows", () => {
    const byRow = specOf(matrix, { normalize: 'true' }).data.values.map((c) => c.value);
    expect(byRow).toEqual([0.8, 0.2, 0, 0.25, 0.75, 0, 0, 0, 0]);
    const byColumn = specOf(matrix, { normalize: 'pred' }).data.values.map((c) => c.value);
    expect(byColumn.map((v) => Number(v.toFixed(6)))).toEqual([0.888889, 0.4, 0, 0.111111, 0.6, 0, 0, 0, 0]);
    const all = specOf(matrix, { normalize: 'all', decimals: 3 }).data.values;
    expect(all.map((c) => c.value)).toEqual([8 / 14, 2 / 14, 0, 1 / 14, 3 / 14, 0, 0, 0, 0]);
    expect(all[0]!.label).toBe('0.571');
    expect(specOf(matrix, { normalize: 'true' }).layer[0].encoding.color.scale.domain).toEqual([0, 1]);
    expect(specOf(matrix).data.values.map((c) => c.predicted).slice(0, 3)).toEqual(['0', '1', '2']);
  });

  it('renders one rect per cell and prints every value, with the axis titles', async () => {
    const svg = await confusionMatrixChart(matrix, { classNames: names, normalize: 'true' }).toSVG();
    expect(svg.match(/aria-roledescription="rect mark"/g)).toHaveLength(9);
    const texts = svgTexts(svg);
    for (const label of ['0.80', '0.20', '0.25', '0.75']) expect(texts).toContain(label);
    expect(texts.filter((t) => t === '0.00')).toHaveLength(5);
    expect(texts).toEqual(expect.arrayContaining(['predicted class', 'true class', 'cat', 'dog', 'bird']));
  });

  it('rejects bad input, naming the argument', () => {
    expect(() => confusionMatrixChart([])).toThrow('matrix must be a non-empty square array of rows (received an array of length 0)');
    expect(() => confusionMatrixChart([[1, 2], [3]])).toThrow('matrix[1] must be a row of 2 counts, the matrix being square (received an array of length 1)');
    expect(() => confusionMatrixChart([[1, -2], [3, 4]])).toThrow('matrix[0][1] must be a non-negative finite number (received -2)');
    expect(() => confusionMatrixChart([[1, NaN], [3, 4]])).toThrow('matrix[0][1] must be a non-negative finite number (received NaN)');
    expect(() => confusionMatrixChart(matrix, { classNames: ['a', 'b'] })).toThrow('classNames must be an array of 3 names, one per matrix row (received an array of length 2)');
    expect(() => confusionMatrixChart(matrix, { normalize: 'row' as 'true' })).toThrow(`normalize must be one of 'true', 'pred', 'all', 'none' (received "row")`);
  });
});
