import * as tf from '@tensorflow/tfjs';
import { availableBackends, expectNoLeak, withBackend } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ConfusionMatrixMetric,
  balancedAccuracy,
  classMetric,
  macroF1,
  weightedF1,
} from './classification-metrics.js';
import { classificationReport, confusionMatrix, reportFromConfusion } from './classification-report.js';
import { accuracy } from './metrics.js';
import { tinyLearner } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('confusionMatrix', () => {
  it("matches scikit-learn's documented example (rows true, columns predicted)", () => {
    expect(confusionMatrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2], 3)).toEqual([
      [2, 0, 0],
      [0, 0, 1],
      [1, 0, 2],
    ]);
  });

  it('names the argument and value on bad input', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow('yPred must have the length of yTrue, 2 (received 1)');
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow('yTrue[1] must be a class index in [0, 3) (received 3)');
    expect(() => confusionMatrix([0], [-1], 3)).toThrow('yPred[0] must be a class index in [0, 3) (received -1)');
    expect(() => confusionMatrix([0], [0], 0)).toThrow('numClasses must be a positive integer (received 0)');
  });
});

describe('classificationReport', () => {
  it("matches scikit-learn's classification_report example", () => {
    // y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]
    const report = classificationReport([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3);
    const round = (value: number): number => Math.round(value * 100) / 100;
    expect(report.perClass.map((c) => [round(c.precision), round(c.recall), round(c.f1), c.support])).toEqual([
      [0.5, 1, 0.67, 1],
      [0, 0, 0, 1],
      [1, 0.67, 0.8, 3],
    ]);
    expect(report.accuracy).toBeCloseTo(0.6, 12);
    expect([report.macro.precision, report.macro.recall, report.macro.f1].map(round)).toEqual([0.5, 0.56, 0.49]);
    expect([report.weighted.precision, report.weighted.recall, report.weighted.f1].map(round)).toEqual([0.7, 0.6, 0.61]);
    expect(report.total).toBe(5);
  });

  it("matches scikit-learn's f1_score and precision_recall_fscore_support examples", () => {
    // f1_score: y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1] -> macro 0.267, weighted 0.267, per class [0.8, 0, 0]
    const report = classificationReport([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], 3);
    expect(report.perClass.map((c) => c.f1)).toEqual([0.8, 0, 0]);
    expect(report.macro.f1).toBeCloseTo(0.26666666, 6);
    expect(report.weighted.f1).toBeCloseTo(0.26666666, 6);
    expect(report.macro.precision).toBeCloseTo(0.22222222, 6);
    expect(report.macro.recall).toBeCloseTo(0.33333333, 6);
  });

  it("gives balanced accuracy as scikit-learn's balanced_accuracy_score example", () => {
    // y_true = [0, 1, 0, 0, 1, 0], y_pred = [0, 1, 0, 0, 0, 1] -> 0.625
    expect(classificationReport([0, 1, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1], 2).balancedAccuracy).toBeCloseTo(0.625, 12);
  });

  it('shows a model stuck at the majority class of a 43/37/13/7 split', () => {
    const yTrue = [...Array(43).fill(0), ...Array(37).fill(1), ...Array(13).fill(2), ...Array(7).fill(3)];
    const report = classificationReport(yTrue, Array(100).fill(0), 4);
    expect(report.accuracy).toBeCloseTo(0.43, 12);
    expect(report.balancedAccuracy).toBeCloseTo(0.25, 12);
    expect(report.perClass.map((c) => c.recall)).toEqual([1, 0, 0, 0]);
    // Hand-computed: class 0 precision 0.43, recall 1, F1 = 0.86 / 1.43; macro averages over the 4 present classes.
    expect(report.macro.f1).toBeCloseTo(0.86 / 1.43 / 4, 12);
    expect(report.weighted.f1).toBeCloseTo((0.43 * 0.86) / 1.43, 12);
  });

  it('averages only over classes that occur, and gives NaN accuracy on no samples', () => {
    const report = classificationReport([0, 0], [0, 1], 4); // classes 2 and 3 absent everywhere
    expect(report.macro.recall).toBeCloseTo(0.25, 12); // (0.5 + 0) / 2
    expect(report.balancedAccuracy).toBeCloseTo(0.5, 12); // only class 0 has support
    const empty = reportFromConfusion([
      [0, 0],
      [0, 0],
    ]);
    expect(empty.accuracy).toBeNaN();
    expect(empty.balancedAccuracy).toBeNaN();
    expect(() => reportFromConfusion([[1, 2]])).toThrow('confusion must be a non-empty square table');
    expect(() => reportFromConfusion([[-1]])).toThrow('confusion[0][0] must be a non-negative count (received -1)');
  });
});

describe('ConfusionMatrixMetric', () => {
  it('accumulates over batches on the device and agrees with classificationReport', async () => {
    let state = 7;
    const random = (): number => (state = (state * 16807) % 2147483647) / 2147483647;
    const numClasses = 4;
    const rows = 50;
    const logits = Array.from({ length: rows }, () => Array.from({ length: numClasses }, random));
    const labels = Array.from({ length: rows }, () => Math.floor(random() * numClasses));
    const predicted = logits.map((row) => row.indexOf(Math.max(...row)));
    const expected = classificationReport(labels, predicted, numClasses);
    await expectNoLeak(async () => {
      const metrics = [
        balancedAccuracy(),
        macroF1(),
        weightedF1(),
        new ConfusionMatrixMetric({ statistic: 'macroPrecision' }),
        new ConfusionMatrixMetric({ statistic: 'macroRecall' }),
        classMetric('precision', 1),
        classMetric('recall', 2),
        classMetric('f1', 3),
      ];
      for (let start = 0; start < rows; start += 16) {
        const pred = tf.tensor2d(logits.slice(start, start + 16));
        const indexY = tf.tensor1d(labels.slice(start, start + 16), 'int32');
        const oneHotY = tf.oneHot(indexY, numClasses); // alternate label encodings across batches
        for (const metric of metrics) metric.update(pred, start % 32 === 0 ? indexY : oneHotY);
        tf.dispose([pred, indexY, oneHotY]);
      }
      const values = await Promise.all(metrics.map((metric) => metric.compute()));
      expect(values[0]).toBeCloseTo(expected.balancedAccuracy, 6);
      expect(values[1]).toBeCloseTo(expected.macro.f1, 6);
      expect(values[2]).toBeCloseTo(expected.weighted.f1, 6);
      expect(values[3]).toBeCloseTo(expected.macro.precision, 6);
      expect(values[4]).toBeCloseTo(expected.macro.recall, 6);
      expect(values[5]).toBeCloseTo(expected.perClass[1]!.precision, 6);
      expect(values[6]).toBeCloseTo(expected.perClass[2]!.recall, 6);
      expect(values[7]).toBeCloseTo(expected.perClass[3]!.f1, 6);
      expect(metrics[0]!.report()!.confusion).toEqual(expected.confusion);
      expect(metrics.map((metric) => metric.name)).toEqual([
        'balancedAccuracy',
        'macroF1',
        'weightedF1',
        'macroPrecision',
        'macroRecall',
        'precisionClass1',
        'recallClass2',
        'f1Class3',
      ]);
      for (const metric of metrics) metric.reset();
      expect(await metrics[0]!.compute()).toBeNaN();
      expect(metrics[0]!.report()!.confusion).toEqual(expected.confusion); // the last report survives the reset
      expect(balancedAccuracy().report()).toBeUndefined();
    });
  });

  it.each(availableBackends())('counts every position of a per-pixel prediction on %s', async (backend) => {
    await withBackend(backend, () => expectNoLeak(async () => {
      const metric = balancedAccuracy();
      // [1, 2, 2, 2] scores: predictions 0,1 / 1,1 ; labels 0,1 / 0,1 -> class 0 recall 1/2, class 1 recall 2/2
      const pred = tf.tensor4d([5, 0, 0, 5, 0, 5, 0, 5], [1, 2, 2, 2]);
      const y = tf.tensor3d([0, 1, 0, 1], [1, 2, 2], 'int32');
      metric.update(pred, y);
      expect(await metric.compute()).toBeCloseTo(0.75, 12);
      expect(metric.report()!.confusion).toEqual([
        [1, 1],
        [0, 2],
      ]);
      metric.reset();
      tf.dispose([pred, y]);
    }));
  });

  it('refuses bad options and inputs with the value received', async () => {
    expect(() => new ConfusionMatrixMetric({ statistic: 'kappa' as 'macroF1' })).toThrow(
      'statistic must be one of balancedAccuracy'
    );
    expect(() => classMetric('recall', -1)).toThrow("classIndex must be a class index for statistic 'recall' (received -1)");
    expect(() => classMetric('recall', 4, { numClasses: 4 })).toThrow('in [0, 4)');
    expect(() => new ConfusionMatrixMetric({ statistic: 'macroF1', classIndex: 1 })).toThrow('classIndex applies only');
    expect(() => macroF1({ numClasses: 1 })).toThrow('numClasses must be an integer >= 2 (received 1)');
    await expectNoLeak(async () => {
      const metric = macroF1({ numClasses: 3 });
      const pred = tf.tensor2d([[1, 0]]);
      const single = tf.tensor2d([[1]]);
      const y = tf.tensor1d([0], 'int32');
      expect(() => metric.update(pred, y)).toThrow('macroF1: pred must have 3 classes');
      expect(() => metric.update(single, y)).toThrow('needs class scores with a last dimension of at least 2');
      const wide = tf.tensor2d([[1, 0, 0]]);
      const badY = tf.tensor1d([0, 1], 'int32');
      expect(() => metric.update(wide, badY)).toThrow('labels must be one-hot with shape [1, 3] or indices with shape [1]');
      metric.reset();
      tf.dispose([pred, single, y, wide, badY]);
    });
  });
});

describe('ConfusionMatrixMetric in a fit', () => {
  it('records train and valid values per epoch, keeps the tensor count flat, and reports the last phase', async () => {
    const metric = balancedAccuracy();
    const recall = classMetric('recall', 1);
    const tiny = tinyLearner({ metrics: [accuracy(), metric, recall], batches: 4, validBatches: 2 });
    const before = tf.memory().numTensors;
    const history = await tiny.learner.fit(3);
    for (const record of history.epochs) {
      for (const split of [record.train, record.valid]) {
        expect(split.balancedAccuracy).toBeGreaterThanOrEqual(0);
        expect(split.balancedAccuracy).toBeLessThanOrEqual(1);
        expect(split.recallClass1).toBeGreaterThanOrEqual(0);
      }
    }
    const last = history.epochs[2]!.valid;
    const report = metric.report()!;
    expect(report.total).toBe(16); // 2 valid batches of 8
    expect(report.balancedAccuracy).toBeCloseTo(last.balancedAccuracy!, 12);
    expect(report.perClass[1]!.recall).toBeCloseTo(last.recallClass1!, 12);
    metric.reset();
    recall.reset();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    tiny.dispose();
  });
});
