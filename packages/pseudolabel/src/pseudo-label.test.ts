import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { createImageDataset } from '@convkit/data';
import { pseudoLabel, selectConfident } from '@convkit/pseudolabel';

await tf.setBackend('cpu');

/** Six images over three classes; argmax / max per row in the comments. */
const ROWS = [
  [0.95, 0.03, 0.02], // 0, 0.95
  [0.1, 0.85, 0.05], //  1, 0.85
  [0.2, 0.2, 0.6], //    2, 0.6
  [0.05, 0.92, 0.03], // 1, 0.92
  [0.9, 0.05, 0.05], //  0, 0.9
  [0.01, 0.98, 0.01], // 1, 0.98
];
const probabilities = { values: Float32Array.from(ROWS.flat()), length: ROWS.length, numClasses: 3 };

describe('selectConfident', () => {
  it('keeps exactly the rows whose max probability is at least the threshold, with argmax labels', () => {
    const kept = selectConfident(probabilities, { threshold: 0.9 });
    expect([...kept.indices]).toEqual([0, 3, 4, 5]);
    expect([...kept.labels]).toEqual([0, 1, 0, 1]);
    expect([...kept.confidences]).toEqual([0.95, 0.92, 0.9, 0.98].map(Math.fround));
    expect(kept.summary).toMatchObject({ total: 6, kept: 4, threshold: 0.9, keptPerClass: [2, 2, 0], predictedPerClass: [2, 3, 1] });
    expect(kept.summary.meanConfidence).toBeCloseTo((0.95 + 0.92 + 0.9 + 0.98) / 4, 6);
  });

  it('keeps everything at threshold 0 and nothing above every confidence', () => {
    expect(selectConfident(probabilities, { threshold: 0 }).summary.kept).toBe(6);
    const none = selectConfident(probabilities, { threshold: 0.99 });
    expect(none.indices.length).toBe(0);
    expect(none.summary.meanConfidence).toBe(0);
  });

  it('caps a class at maxPerClass, keeping its most confident rows', () => {
    const kept = selectConfident(probabilities, { threshold: 0.8, maxPerClass: 2 });
    // class 1 candidates: rows 1 (0.85), 3 (0.92), 5 (0.98) -> keeps 3 and 5
    expect([...kept.indices]).toEqual([0, 3, 4, 5]);
    expect(kept.summary.keptPerClass).toEqual([2, 2, 0]);
  });

  it('balance caps every class at the smallest non-zero kept count', () => {
    const kept = selectConfident(
      { values: Float32Array.from([...ROWS.flat(), 0.02, 0.03, 0.95]), length: 7, numClasses: 3 },
      { threshold: 0.85, balance: true }
    );
    // candidates: class 0 {0, 4}, class 1 {1, 3, 5}, class 2 {6} -> one each, the most confident
    expect([...kept.indices]).toEqual([0, 5, 6]);
    expect(kept.summary.keptPerClass).toEqual([1, 1, 1]);
  });

  it('measures pseudo-label accuracy against trueLabels without using them to select', () => {
    const trueLabels = [0, 1, 2, 0, 0, 1];
    const kept = selectConfident(probabilities, { threshold: 0.9, trueLabels });
    expect([...kept.indices]).toEqual([0, 3, 4, 5]);
    expect(kept.summary.accuracy).toBeCloseTo(3 / 4, 10); // row 3 predicted 1, truly 0
    expect(kept.summary.accuracyAll).toBeCloseTo(5 / 6, 10);
  });

  it.each([-0.1, 1.5, NaN, '0.5'])('rejects threshold %s', (threshold) => {
    expect(() => selectConfident(probabilities, { threshold: threshold as number })).toThrow(
      `threshold must be a number in [0, 1] (received ${typeof threshold === 'string' ? '"0.5"' : threshold})`
    );
  });

  it('rejects bad maxPerClass, balance and trueLabels', () => {
    expect(() => selectConfident(probabilities, { maxPerClass: -1 })).toThrow('maxPerClass must be a non-negative integer (received -1)');
    expect(() => selectConfident(probabilities, { balance: 'yes' as unknown as boolean })).toThrow('balance must be a boolean (received "yes")');
    expect(() => selectConfident(probabilities, { trueLabels: [0, 1] })).toThrow('trueLabels must hold one label per image (6) (received an array of 2 of length 2)');
  });
});

describe('pseudoLabel', () => {
  const dataset = createImageDataset({
    images: Uint8Array.from([0, 255, 51, 204, 255, 0, 102, 153]),
    labels: [0, 0, 0, 0],
    shape: [1, 2, 1],
    numClasses: 2,
  });
  // The model outputs the image's two pixels (in [0, 1]) as probabilities of classes 0 and 1.
  const pixels = (x: tf.Tensor4D): tf.Tensor => x.reshape([x.shape[0], 2]);

  it('labels an ImageDataset with a model and keeps the confident rows', async () => {
    const kept = await expectNoLeak(() =>
      pseudoLabel(pixels, dataset, { output: 'probabilities', threshold: 0.75, batchSize: 3, trueLabels: [1, 0, 1, 1] })
    );
    expect([...kept.indices]).toEqual([0, 1, 2]);
    expect([...kept.labels]).toEqual([1, 1, 0]);
    expect(kept.confidences[1]).toBeCloseTo(0.8, 6);
    expect(kept.summary.accuracy).toBeCloseTo(1 / 3, 10);
  });

  it('averages an ensemble before thresholding', async () => {
    const flipped = (x: tf.Tensor4D): tf.Tensor => tf.reverse(x.reshape([x.shape[0], 2]), 1);
    // mean of p and its mirror is [0.5, 0.5] everywhere: nothing reaches 0.6
    const kept = await expectNoLeak(() => pseudoLabel([pixels, flipped], dataset, { output: 'probabilities', threshold: 0.6 }));
    expect(kept.summary.kept).toBe(0);
    expect(kept.summary.predictedPerClass).toEqual([4, 0]); // ties go to the lower class
  });

  it('checks the options before predicting', async () => {
    let calls = 0;
    const counting = (x: tf.Tensor4D): tf.Tensor => {
      calls++;
      return pixels(x);
    };
    await expect(pseudoLabel(counting, dataset, { threshold: 2 })).rejects.toThrow('threshold must be a number in [0, 1] (received 2)');
    expect(calls).toBe(0);
  });
});
