import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { crops, d4, flips, flipsAndCrops, horizontalFlip, MERGE_MODES, rotate90, shifts, withTTA } from '@convkit/tta';
import type { MergeMode, TTATransform } from '@convkit/tta';

await tf.setBackend('cpu');

/** Three fixed per-view outputs (probabilities over 3 classes), for hand-computed merges. */
const VIEW_OUTPUTS = [[0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.1, 0.5, 0.4]];

/** A transform whose view p replaces the image by VIEW_OUTPUTS[p] laid out as [1, 1, 1, 3]. */
const fixedViews: TTATransform<number> = {
  name: 'fixedViews',
  params: [0, 1, 2],
  identityParam: undefined,
  invertible: false,
  augment: (_x, p) => tf.tensor4d(VIEW_OUTPUTS[p]!, [1, 1, 1, 3]),
  deaugment: () => { throw new Error('not used'); },
};
const flatten = (x: tf.Tensor4D): tf.Tensor => x.reshape([x.shape[0], -1]);

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 6));
}

/** Predicts with TTA and returns the merged values as nested arrays, checking for leaks. */
async function predictValues(predict: (x: tf.Tensor4D) => tf.Tensor, make: () => tf.Tensor4D): Promise<unknown> {
  return expectNoLeak(() => {
    const x = make();
    const y = predict(x);
    const values = y.arraySync();
    tf.dispose([x, y]);
    return values;
  });
}

describe('withTTA merge modes', () => {
  const column = (i: number): number[] => VIEW_OUTPUTS.map((row) => row[i]!);
  const byClass = (f: (values: number[]) => number): number[] => [0, 1, 2].map((i) => f(column(i)));
  const expected: Record<MergeMode, number[]> = {
    mean: byClass((v) => v.reduce((a, b) => a + b) / 3),
    gmean: byClass((v) => Math.cbrt(v[0]! * v[1]! * v[2]!)),
    max: byClass((v) => Math.max(...v)),
    min: byClass((v) => Math.min(...v)),
    sum: byClass((v) => v.reduce((a, b) => a + b)),
    vote: [0, 2 / 3, 1 / 3],   // argmaxes 1, 2, 1
    tsharpen: byClass((v) => v.reduce((a, b) => a + Math.sqrt(b), 0) / 3),
  };

  for (const merge of MERGE_MODES) {
    it(`'${merge}' matches the hand-computed merge of 3 views`, async () => {
      const tta = withTTA(flatten, [fixedViews], { merge, output: 'probabilities' });
      const values = await predictValues((x) => tta.predict(x), () => tf.zeros([1, 1, 1, 3]) as tf.Tensor4D);
      expectClose((values as number[][])[0]!, expected[merge]);
    });
  }

  it('rejects a merge mode outside the closed union at construction, naming the allowed ones', () => {
    expect(() => withTTA(flatten, flips(), { merge: 'median' as MergeMode })).toThrow(
      `merge must be one of 'mean', 'gmean', 'max', 'min', 'sum', 'vote', 'tsharpen' (received "median")`);
    expect(() => withTTA(flatten, flips(), { merge: 'gmean', output: 'scores' })).toThrow("merge 'gmean' needs positive outputs");
    expect(() => withTTA(flatten, flips(), { output: 'mask' as 'spatial' })).toThrow('output must be one of');
    expect(() => withTTA(flatten, flips(), { batchSize: 0 })).toThrow('batchSize must be a positive integer (received 0)');
  });
});

describe('withTTA predictions', () => {
  const images = (): tf.Tensor4D => tf.tidy(() => tf.range(0, 2 * 4 * 4 * 2).reshape([2, 4, 4, 2]).div(10).sin() as tf.Tensor4D);

  it('with an identity-only transform list equals plain predict', async () => {
    const model = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => x.slice([0, 0, 0, 0], [-1, 2, 3, -1]).reshape([x.shape[0], -1]).mul(3));
    const plain = await predictValues(model, images);
    for (const transforms of [[], [rotate90({ angles: [0] })]] as TTATransform[][]) {
      const tta = withTTA(model, transforms, { merge: 'mean' });
      expect(tta.views).toBe(1);
      expect(await predictValues((x) => tta.predict(x), images)).toEqual(plain);
    }
  });

  it('a flip- and rotation-invariant LayersModel (pooling classifier) gives the plain output under d4', async () => {
    const model = tf.sequential({ layers: [
      tf.layers.globalAveragePooling2d({ inputShape: [4, 4, 2] }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'ones', biasInitializer: 'zeros' }),
    ] });
    const weights = [tf.tensor2d([[1, -2, 0.5], [0.3, 1, -1]]), tf.tensor1d([0.1, 0, -0.1])];
    model.layers[1]!.setWeights(weights);
    tf.dispose(weights);
    try {
      const plain = (await predictValues((x) => model.predict(x) as tf.Tensor, images)) as number[][];
      for (const merge of ['mean', 'gmean', 'max'] as const) {
        const tta = withTTA(model, d4(), { merge, output: 'probabilities' });
        const merged = (await predictValues((x) => tta.predict(x), images)) as number[][];
        merged.forEach((row, i) => expectClose(row, plain[i]!));
      }
    } finally {
      model.dispose();
    }
  });

  it("output 'spatial' maps each view back, recovering a per-pixel model's map aligned with the input", async () => {
    const perPixel = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => x.mul(2).add(x.square()));
    const plain = await predictValues(perPixel, images);
    for (const transforms of [flips(), d4()]) {
      const tta = withTTA(perPixel, transforms, { merge: 'mean', output: 'spatial' });
      const merged = (await predictValues((x) => tta.predict(x), images)) as number[][][][];
      expectClose(merged.flat(3), (plain as number[][][][]).flat(3));
    }
    // Without deaugmentation a flipped view would be misaligned: check the flip really moves pixels.
    const unaligned = withTTA((x) => flatten(perPixel(x) as tf.Tensor4D), [horizontalFlip()], { merge: 'max' });
    const maxed = (await predictValues((x) => unaligned.predict(x), images)) as number[][];
    expect(maxed[0]).not.toEqual((plain as number[][][][])[0]!.flat(2));
  });

  it("throws when a crop is used with output 'spatial' or is bigger than the image", async () => {
    expect(() => withTTA((x) => x, flipsAndCrops({ size: 2 }), { output: 'spatial' })).toThrow("output 'spatial' needs invertible transforms, but fiveCrops cannot be mapped back");
    const tta = withTTA(flatten, [crops({ size: 5 })], { merge: 'mean' });
    await expectNoLeak(() => {
      const x = images();
      try {
        expect(() => tta.predict(x)).toThrow('crop size 5x5 (height x width) is bigger than the image 4x4');
      } finally {
        x.dispose();
      }
    });
  });

  it('splits the input into batchSize chunks with the same result', async () => {
    const model = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => x.mean([1, 2]).mul(tf.range(0, x.shape[0]).reshape([-1, 1]).add(1)).softmax());
    const threeImages = (): tf.Tensor4D => tf.tidy(() => tf.range(0, 3 * 4 * 4 * 2).reshape([3, 4, 4, 2]).div(7).cos() as tf.Tensor4D);
    const whole = withTTA((x) => tf.tidy(() => x.mean([1, 2]).softmax()), [shifts({ pixels: 1 })], { merge: 'vote' });
    const chunked = withTTA((x) => tf.tidy(() => x.mean([1, 2]).softmax()), [shifts({ pixels: 1 })], { merge: 'vote', batchSize: 2 });
    expect(await predictValues((x) => chunked.predict(x), threeImages)).toEqual(await predictValues((x) => whole.predict(x), threeImages));
    // A model that depends on the chunk (position within its batch) shows the chunking really happens.
    const perChunk = withTTA(model, [], { batchSize: 1 });
    const rows = (await predictValues((x) => perChunk.predict(x), threeImages)) as number[][];
    const plainRows = (await predictValues(model, threeImages)) as number[][];
    expectClose(rows[0]!, plainRows[0]!);
    expect(rows[2]).not.toEqual(plainRows[2]);
  });
});

describe('withTTA cost', () => {
  it('reports views − 1 extra forward passes and seconds per image from the injected clock', async () => {
    let clock = 10;
    const tta = withTTA(flatten, d4(), { merge: 'mean', now: () => (clock += 0.5) });
    expect(tta.views).toBe(8);
    expect(tta.viewLabels).toHaveLength(8);
    expect(tta.cost()).toEqual({ views: 8, extraForwardPasses: 7 });
    await predictValues((x) => tta.predict(x), () => tf.zeros([4, 2, 2, 1]) as tf.Tensor4D);
    expect(tta.cost()).toEqual({ views: 8, extraForwardPasses: 7, secondsPerImage: 0.5 / 4 });
  });

  it('counts one model call per view and image chunk', async () => {
    let calls = 0;
    const tta = withTTA((x) => { calls += 1; return flatten(x); }, [...flips(), shifts({ pixels: 1 })], { batchSize: 2 });
    await predictValues((x) => tta.predict(x), () => tf.zeros([3, 3, 3, 1]) as tf.Tensor4D);
    expect(tta.views).toBe(20);
    expect(calls).toBe(20 * 2);
  });
});
