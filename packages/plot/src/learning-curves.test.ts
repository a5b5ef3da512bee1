import { describe, expect, it } from 'vitest';
import { learningCurves } from './learning-curves.js';
import type { LearningCurvesHistory } from './learning-curves.js';
import { createView } from './render.js';
import { drawnLines, svgTexts } from './svg.test-helpers.js';

interface Panel {
  title: { text: string };
  width: number;
  height: number;
  data: { name: string; values: { epoch: number; split: string; value: number }[] };
  encoding: {
    y: { scale: { type?: string } };
    color: { scale: { domain: string[]; range: string[] } };
  };
}
interface Spec {
  title: { text: string; subtitle?: string[]; offset: number };
  hconcat: Panel[];
}
const specOf = (history: LearningCurvesHistory, options = {}): Spec =>
  learningCurves(history, options).spec as unknown as Spec;

/** Three epochs of a run that records accuracy before loss (loss must still come first). */
const history: LearningCurvesHistory = {
  epochs: [1, 2, 3].map((epoch) => ({
    epoch,
    train: { accuracy: 0.5 + 0.1 * epoch, loss: 2 / epoch },
    valid: { accuracy: 0.45 + 0.1 * epoch, loss: 2.5 / epoch },
  })),
};

describe('learningCurves', () => {
  it('makes one panel per metric, loss first, each with every (epoch, split) value', () => {
    const spec = specOf(history);
    expect(spec.title).toEqual({ text: 'Learning curves', offset: 14 });
    expect(spec.hconcat.map((panel) => panel.title.text)).toEqual(['loss', 'accuracy']);
    expect(spec.hconcat[0]?.data.values).toEqual([
      { epoch: 1, split: 'train', value: 2 },
      { epoch: 1, split: 'validation', value: 2.5 },
      { epoch: 2, split: 'train', value: 1 },
      { epoch: 2, split: 'validation', value: 1.25 },
      { epoch: 3, split: 'train', value: 2 / 3 },
      { epoch: 3, split: 'validation', value: 2.5 / 3 },
    ]);
    expect(spec.hconcat[1]?.data.values.map((row) => row.value)).toEqual([
      0.6, 0.55, 0.7, 0.65, 0.5 + 0.3, 0.45 + 0.3,
    ]);
  });

  it('feeds the compiled Vega view exactly those rows', async () => {
    const view = await createView(learningCurves(history).spec);
    try {
      await view.runAsync();
      const loss = view.data('learning_curves_0') as { epoch: number; split: string; value: number }[];
      const accuracy = view.data('learning_curves_1') as { value: number }[];
      expect(loss.map(({ epoch, split, value }) => [epoch, split, value])).toEqual([
        [1, 'train', 2],
        [1, 'validation', 2.5],
        [2, 'train', 1],
        [2, 'validation', 1.25],
        [3, 'train', 2 / 3],
        [3, 'validation', 2.5 / 3],
      ]);
      expect(accuracy).toHaveLength(6);
    } finally {
      view.finalize();
    }
  });

  it('draws a path per split per panel, in the same two colours in every panel, with titles and legend', async () => {
    const svg = await learningCurves(history).toSVG();
    const lines = drawnLines(svg);
    expect(lines.map((line) => [line.stroke, line.vertices])).toEqual([
      ['#1f77b4', 3], // loss, train
      ['#ff7f0e', 3], // loss, validation
      ['#1f77b4', 3], // accuracy, train
      ['#ff7f0e', 3], // accuracy, validation
    ]);
    expect(lines[1]?.label).toContain('split: validation');
    const texts = svgTexts(svg);
    expect(texts.filter((text) => text === 'epoch')).toHaveLength(2);
    expect(texts).toEqual(expect.arrayContaining(['Learning curves', 'loss', 'accuracy', 'train', 'validation', 'split']));
  });

  it('drops NaN and Infinity from the lines and lists them in the subtitle', async () => {
    const diverged: LearningCurvesHistory = {
      epochs: [
        { epoch: 1, train: { loss: 1 }, valid: { loss: 1.1 } },
        { epoch: 2, train: { loss: Number.NaN }, valid: { loss: Infinity } },
        { epoch: 3, train: { loss: Number.NaN }, valid: { loss: 0.9 } },
      ],
    };
    const c = learningCurves(diverged);
    const spec = c.spec as unknown as Spec;
    expect(spec.hconcat[0]?.data.values).toEqual([
      { epoch: 1, split: 'train', value: 1 },
      { epoch: 1, split: 'validation', value: 1.1 },
      { epoch: 3, split: 'validation', value: 0.9 },
    ]);
    expect(spec.title).toEqual({
      text: 'Learning curves',
      subtitle: ['not drawn: train loss NaN at epoch 2, 3', 'not drawn: validation loss Infinity at epoch 2'],
      offset: 14,
    });
    const svg = await c.toSVG();
    expect(drawnLines(svg).map((line) => line.vertices)).toEqual([1, 2]);
    expect(svgTexts(svg)).toContain('not drawn: train loss NaN at epoch 2, 3');
  });

  it('plots only the metrics asked for, in that order, with a log axis where asked', () => {
    const spec = specOf(history, { metrics: ['accuracy', 'loss'], logScale: ['loss'], title: 'Run 7' });
    expect(spec.title.text).toBe('Run 7');
    expect(spec.hconcat.map((panel) => [panel.title.text, panel.encoding.y.scale.type])).toEqual([
      ['accuracy', undefined],
      ['loss', 'log'],
    ]);
    expect(specOf(history, { logScale: true }).hconcat.map((panel) => panel.encoding.y.scale.type)).toEqual(['log', 'log']);
    expect(specOf(history, { metrics: ['accuracy'] }).hconcat).toHaveLength(1);
  });

  it('drops values ≤ 0 on a log axis only', () => {
    const withZero: LearningCurvesHistory = {
      epochs: [
        { epoch: 1, train: { loss: 0.5, accuracy: 0 } },
        { epoch: 2, train: { loss: 0, accuracy: 0.5 } },
      ],
    };
    const spec = specOf(withZero, { logScale: ['loss'] });
    expect(spec.hconcat[0]?.data.values).toEqual([{ epoch: 1, split: 'train', value: 0.5 }]);
    expect(spec.hconcat[1]?.data.values).toHaveLength(2);
    expect(spec.title.subtitle).toEqual(['not drawn: train loss ≤ 0 on a log scale at epoch 2']);
  });

  it('shows only the splits present, keeping each split its colour', () => {
    const trainOnly: LearningCurvesHistory = { epochs: [{ epoch: 1, train: { loss: 1 } }, { epoch: 2, train: { loss: 0.5 } }] };
    const scale = specOf(trainOnly).hconcat[0]?.encoding.color.scale;
    expect(scale).toEqual({ domain: ['train'], range: ['#1f77b4'] });
    const validOnly: LearningCurvesHistory = { epochs: [{ epoch: 1, train: {}, valid: { accuracy: 0.9 } }] };
    expect(specOf(validOnly).hconcat[0]?.encoding.color.scale).toEqual({ domain: ['validation'], range: ['#ff7f0e'] });
  });

  it('sizes each panel by width and height', () => {
    const spec = specOf(history, { width: 150, height: 90 });
    expect(spec.hconcat.map((panel) => [panel.width, panel.height])).toEqual([
      [150, 90],
      [150, 90],
    ]);
  });

  it('rejects an empty history with a clear error', () => {
    expect(() => learningCurves({ epochs: [] })).toThrow(
      'history.epochs must contain at least one epoch to plot (received 0 epochs)',
    );
    expect(() => learningCurves({ epochs: [{ epoch: 1, train: {} }] })).toThrow(/records no metric values/);
    expect(() => learningCurves(undefined as unknown as LearningCurvesHistory)).toThrow(
      'history must be an object with an epochs array (received undefined)',
    );
  });

  it('rejects bad options and records, naming the argument and the value', () => {
    expect(() => learningCurves(history, { metrics: ['loss', 'f1'] })).toThrow(
      'metrics[1] names a metric the history does not record (received "f1") (available: loss, accuracy)',
    );
    expect(() => learningCurves(history, { metrics: [] })).toThrow('metrics must be a non-empty array');
    expect(() => learningCurves(history, { metrics: ['loss', 'loss'] })).toThrow('received "loss" twice');
    expect(() => learningCurves(history, { logScale: ['f1'] })).toThrow('logScale[0] must name a plotted metric (received "f1"');
    expect(() => learningCurves(history, { width: 0 })).toThrow('width must be a positive finite number (received 0)');
    expect(() => learningCurves(history, { height: Number.NaN })).toThrow('height must be a positive finite number (received NaN)');
    expect(() => learningCurves({ epochs: [{ epoch: Number.NaN, train: { loss: 1 } }] })).toThrow(
      'history.epochs[0].epoch must be a finite number (received NaN)',
    );
    expect(() =>
      learningCurves({ epochs: [{ epoch: 1, train: { loss: 1 }, valid: 3 as unknown as Record<string, number> }] }),
    ).toThrow('history.epochs[0].valid must be an object of metric values or absent (received 3)');
  });
});
