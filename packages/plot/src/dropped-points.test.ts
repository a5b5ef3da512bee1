import { describe, expect, it } from 'vitest';
import { describeDropped, undrawable } from './dropped-points.js';

describe('undrawable', () => {
  it('names NaN, ±Infinity and, on a log axis only, values ≤ 0', () => {
    expect([Number.NaN, Infinity, -Infinity].map((value) => undrawable(value, false))).toEqual(['NaN', 'Infinity', '-Infinity']);
    expect(undrawable(0, false)).toBeUndefined();
    expect(undrawable(-1, false)).toBeUndefined();
    expect(undrawable(0, true)).toBe('≤ 0 on a log scale');
    expect(undrawable(1e-30, true)).toBeUndefined();
    expect(undrawable('3' as unknown as number, false)).toBe('not a number (string)');
  });
});

describe('describeDropped', () => {
  it('groups by series and problem, in first-seen order', () => {
    const lines = describeDropped(
      [
        { series: 'train loss', problem: 'NaN', x: 3 },
        { series: 'validation loss', problem: 'Infinity', x: 3 },
        { series: 'train loss', problem: 'NaN', x: 4 },
        { series: '', problem: 'loss NaN', x: 0.000123456 },
      ],
      'epoch',
    );
    expect(lines).toEqual([
      'not drawn: train loss NaN at epoch 3, 4',
      'not drawn: validation loss Infinity at epoch 3',
      'not drawn: loss NaN at epoch 0.000123',
    ]);
    expect(describeDropped([], 'epoch')).toEqual([]);
  });

  it('caps the x values per line and the number of lines', () => {
    const many = Array.from({ length: 9 }, (_, index) => ({ series: 'train loss', problem: 'NaN', x: index + 1 }));
    expect(describeDropped(many, 'epoch')).toEqual(['not drawn: train loss NaN at epoch 1, 2, 3, 4, 5, 6 and 3 more']);
    const series = Array.from({ length: 6 }, (_, index) => ({ series: `s${index}`, problem: 'NaN', x: 1 }));
    const lines = describeDropped(series, 'x');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('… and 3 more series with points not drawn');
  });
});
