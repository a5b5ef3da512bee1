import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { compose, crops, d4, fiveCrops, flips, flipsAndCrops, horizontalFlip, rotate90, scales, shifts, verticalFlip } from '@convkit/tta';
import type { TTATransform } from '@convkit/tta';

await tf.setBackend('cpu');

/** A 1×3×4×2 image with distinct values 0..23. */
const image = (): tf.Tensor4D => tf.range(0, 24).reshape([1, 3, 4, 2]) as tf.Tensor4D;

/** A 1×6×6×1 image with a zero border of width 2 and distinct values inside. */
const bordered = (): tf.Tensor4D => tf.tidy(() => tf.pad(tf.range(1, 5).reshape([1, 2, 2, 1]), [[0, 0], [2, 2], [2, 2], [0, 0]]) as tf.Tensor4D);

async function roundTrip(transform: TTATransform, make: () => tf.Tensor4D): Promise<void> {
  await expectNoLeak(() => {
    for (const param of transform.params) {
      const [expected, actual, augmented] = tf.tidy(() => {
        const x = make();
        const y = transform.augment(x, param);
        return [x.arraySync(), transform.deaugment(y, param).arraySync(), y.shape];
      });
      expect(actual, `${transform.name} param ${JSON.stringify(param)} (augmented shape ${JSON.stringify(augmented)})`).toEqual(expected);
    }
  });
}

describe('invertible transforms', () => {
  it('deaugment(augment(x, p), p) equals x exactly for every param', async () => {
    for (const transform of [horizontalFlip(), verticalFlip(), rotate90(), scales({ factors: [1, 2, 3], interpolation: 'nearest' })]) {
      await roundTrip(transform, image);
    }
    await roundTrip(shifts({ pixels: [1, 2] }), bordered);   // zero fill is exact when the border is zero
  });

  it('include their identity param, which leaves the image unchanged', async () => {
    for (const transform of [horizontalFlip(), verticalFlip(), rotate90(), shifts(), scales()] as TTATransform[]) {
      expect(transform.params).toContainEqual(transform.identityParam);
      const [x, y] = await expectNoLeak(() => tf.tidy(() => {
        const input = image();
        return [input.arraySync(), transform.augment(input, transform.identityParam).arraySync()];
      }));
      expect(y).toEqual(x);
    }
  });

  it('apply the expected geometry', async () => {
    const grid = [[1, 2], [3, 4]];
    const apply = (transform: TTATransform, param: unknown): number[][] => tf.tidy(() => {
      const y = transform.augment(tf.tensor4d(grid.flat(), [1, 2, 2, 1]), param);
      return (y.squeeze([0, 3]) as tf.Tensor2D).arraySync();
    });
    await expectNoLeak(() => {
      expect(apply(horizontalFlip(), true)).toEqual([[2, 1], [4, 3]]);
      expect(apply(verticalFlip(), true)).toEqual([[3, 4], [1, 2]]);
      expect(apply(rotate90(), 90)).toEqual([[2, 4], [1, 3]]);     // counter-clockwise, as np.rot90
      expect(apply(rotate90(), 180)).toEqual([[4, 3], [2, 1]]);
      expect(apply(rotate90(), 270)).toEqual([[3, 1], [4, 2]]);
      expect(apply(shifts(), [0, 1])).toEqual([[0, 1], [0, 3]]);   // one column right, zero fill
      expect(apply(shifts(), [-1, 0])).toEqual([[3, 4], [0, 0]]);  // one row up
    });
  });
});

describe('crops', () => {
  it('cuts the five standard crops', async () => {
    const values = await expectNoLeak(() => fiveCrops({ size: 2 }).params.map((param) => tf.tidy(() => {
      const x = tf.range(0, 9).reshape([1, 3, 3, 1]) as tf.Tensor4D;
      return Array.from(fiveCrops({ size: 2 }).augment(x, param).dataSync());
    })));
    expect(values).toEqual([[0, 1, 3, 4], [0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]);
  });

  it('throws a clear error naming both sizes when the crop is bigger than the image', async () => {
    const transform = crops({ size: [4, 2] });
    await expectNoLeak(() => {
      const x = tf.zeros([1, 3, 3, 1]) as tf.Tensor4D;
      try {
        expect(() => transform.augment(x, transform.params[0]!)).toThrow('crop size 4x2 (height x width) is bigger than the image 3x3');
      } finally {
        x.dispose();
      }
    });
  });

  it('rejects bad options and cannot be deaugmented', () => {
    expect(() => crops({ size: 0 })).toThrow('size (crop height) must be a positive integer (received 0)');
    expect(() => crops({ size: 2, positions: ['middle' as 'center'] })).toThrow('received "middle"');
    expect(() => crops({ size: 2 }).deaugment(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, { position: 'center', size: [2, 2] })).toThrow('not invertible');
  });
});

describe('compose and aliases', () => {
  it('has one view per combination of params', () => {
    expect(compose([]).length).toBe(1);
    expect(compose(flips()).length).toBe(4);
    expect(compose(d4()).length).toBe(8);
    expect(compose(flipsAndCrops({ size: 2 })).length).toBe(10);
    expect(compose([shifts({ pixels: [1, 2] }), scales({ factors: [1, 2] }), horizontalFlip()]).length).toBe(9 * 2 * 2);
  });

  it('d4 gives the 8 distinct symmetries of the square, each inverted by its view', async () => {
    const results = await expectNoLeak(() => compose(d4()).map((view) => tf.tidy(() => {
      const x = tf.range(0, 9).reshape([1, 3, 3, 1]) as tf.Tensor4D;
      const y = view.augment(x);
      return { augmented: Array.from(y.dataSync()).join(','), back: Array.from(view.deaugment(y).dataSync()) };
    })));
    expect(new Set(results.map((result) => result.augmented)).size).toBe(8);
    for (const result of results) expect(result.back).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
