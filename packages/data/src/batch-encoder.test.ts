import { expectNoLeak } from '@convkit/core/testing';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBatchEncoder, toTensors } from './batch-encoder.js';
import { createImageDataset } from './dataset.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Three 2×1×3 RGB images with distinct bytes; labels [2, 0, 1]. */
const rgb = createImageDataset({
  images: Uint8Array.from({ length: 18 }, (_, i) => i * 15),
  labels: [2, 0, 1],
  shape: [2, 1, 3],
});

/** The reference: (byte × scale − mean[c]) / std[c], channel c = position mod 3, in float64. */
function reference(indices: number[], scale: number, mean = [0, 0, 0], std = [1, 1, 1]): number[] {
  const out: number[] = [];
  for (const index of indices) {
    for (let p = 0; p < 6; p++) {
      const c = p % 3;
      out.push(((rgb.images[index * 6 + p] as number) * scale - (mean[c] as number)) / (std[c] as number));
    }
  }
  return out;
}

describe('createBatchEncoder', () => {
  it('gathers the requested rows, scaled to [0, 1] by default, with one-hot float labels', async () => {
    await expectNoLeak(async () => {
      const { x, y } = createBatchEncoder(rgb)([2, 0]);
      expect(x.shape).toEqual([2, 2, 1, 3]);
      expect(x.dtype).toBe('float32');
      const values = await x.data();
      reference([2, 0], 1 / 255).forEach((v, i) => expect(values[i]).toBeCloseTo(v, 6));
      expect(y.shape).toEqual([2, 3]);
      expect(y.dtype).toBe('float32');
      expect(Array.from(await y.data())).toEqual([0, 1, 0, 0, 0, 1]);
      tf.dispose([x, y]);
    });
  });

  it('normalises each channel with mean and std after scaling', async () => {
    await expectNoLeak(async () => {
      const mean = [0.5, 0.25, 0.1];
      const std = [0.5, 2, 0.25];
      const { x, y } = createBatchEncoder(rgb, { scale: 1 / 100, mean, std, labels: 'index' })([1, 2, 0]);
      const values = await x.data();
      reference([1, 2, 0], 1 / 100, mean, std).forEach((v, i) => expect(values[i]).toBeCloseTo(v, 5));
      expect(y.dtype).toBe('int32');
      expect(y.shape).toEqual([3]);
      expect(Array.from(await y.data())).toEqual([0, 1, 2]);
      tf.dispose([x, y]);
    });
  });

  it('rejects bad options, naming them', () => {
    expect(() => createBatchEncoder(rgb, { mean: [0.5] })).toThrow('mean must have one entry per channel (3) (received [0.5])');
    expect(() => createBatchEncoder(rgb, { std: [1, 0, 1] })).toThrow('std[1] must be a finite positive number (received 0)');
    expect(() => createBatchEncoder(rgb, { scale: Number.NaN })).toThrow('scale must be a finite number (received NaN)');
    expect(() => createBatchEncoder(rgb, { labels: 'sparse' as 'index' })).toThrow(
      `labels must be 'oneHot' or 'index' (received "sparse")`,
    );
  });
});

describe('toTensors', () => {
  it('returns the whole dataset in order, equal to encoding every row', async () => {
    await expectNoLeak(async () => {
      const { x, y } = toTensors(rgb, { scale: 1 });
      expect(x.shape).toEqual([3, 2, 1, 3]);
      expect(Array.from(await x.data())).toEqual(reference([0, 1, 2], 1));
      expect(Array.from(await y.data())).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
      tf.dispose([x, y]);
    });
  });

  it('rejects an empty dataset', () => {
    const empty = createImageDataset({ images: new Uint8Array(0), labels: [], shape: [1, 1, 1], source: 'nothing' });
    expect(() => toTensors(empty)).toThrow('dataset must not be empty (received a dataset of 0 images from nothing)');
  });
});
