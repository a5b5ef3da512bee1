import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import type { LoopContext } from '@convkit/learner';
import { batchAffine, batchColor, batchCutout, batchFlip, batchNoise, batchTransform, compose, cutmix, mixBatch, mixPlugin, mixup, progressiveAugmentation, rotate, softHarshSoft } from './index.js';

describe('tensor transforms', () => {
  it('batchFlip mirrors exactly the images it drew, and leaks nothing', async () => {
    await tf.setBackend('cpu');
    await expectNoLeak(async () => {
      const x = tf.tensor4d(Array.from({ length: 2 * 2 * 3 }, (_, i) => i), [2, 2, 3, 1]);
      const out = batchFlip().apply(x, { flipped: [true, false] });
      const v = await out.array();
      expect(v[0]![0]!.map((p) => p[0])).toEqual([2, 1, 0]);
      expect(v[1]![0]!.map((p) => p[0])).toEqual([6, 7, 8]);
      tf.dispose([x, out]);
    });
  });
  it('batchFlip vertical mirrors rows of exactly the drawn images, equal to tf.reverse over the height', async () => {
    await tf.setBackend('cpu');
    await expectNoLeak(async () => {
      const x = tf.randomUniform([3, 4, 5, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
      const out = batchFlip({ direction: 'vertical' }).apply(x, { flipped: [false, true, true] });
      const reference = tf.tidy(() => tf.concat([tf.slice(x, [0], [1]), tf.reverse(tf.slice(x, [1], [2]), 1)]));
      expect(Array.from(await out.data())).toEqual(Array.from(await reference.data()));
      const none = batchFlip().apply(x, { flipped: [false, false, false] });
      expect(none).not.toBe(x);
      expect(Array.from(await none.data())).toEqual(Array.from(await x.data()));
      tf.dispose([x, out, reference, none]);
    });
  });
  it('batchAffine moves every image of the batch by its own draw (a whole-pixel shift copies pixels)', async () => {
    await tf.setBackend('cpu');
    await expectNoLeak(async () => {
      const x = tf.tensor4d(Array.from({ length: 3 * 4 * 4 }, (_, i) => i + 1), [3, 4, 4, 1]);
      // dx = 0.25 of a 4-pixel side: one pixel; each image shifted by its own amount, no zoom or rotation.
      const params = [0, 0.25, -0.25].map((dx) => ({ dx: dx, dy: 0, scale: 1, angle: 0 }));
      const moved = batchAffine().apply(x, params);
      const out = await moved.array();
      const images = (await x.array()).map((image) => image.map((row) => row.map((p) => p[0]!)));
      const rows = out.map((image) => image.map((row) => row.map((p) => p[0]!)));
      expect(rows[0]).toEqual(images[0]);
      expect(rows[1]!.map((r) => r)).toEqual(images[1]!.map((r) => [0, r[0], r[1], r[2]]));
      expect(rows[2]!.map((r) => r)).toEqual(images[2]!.map((r) => [r[1], r[2], r[3], 0]));
      tf.dispose([x, moved]);
    });
  });
  it('a seeded pipeline of batch transforms is deterministic, and the identity at strength 0', async () => {
    await expectNoLeak(async () => {
      const x = tf.randomUniform([3, 6, 6, 2], 0, 1, 'float32', 1) as tf.Tensor4D;
      const pipeline = compose([batchFlip(), batchAffine({ degrees: 10 }), batchColor(), batchNoise(), batchCutout()]);
      const run = batchTransform(pipeline);
      const a = run(x, new Rng(7));
      const b = run(x, new Rng(7));
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      pipeline.strength = 0;
      const same = run(x, new Rng(7));
      const difference = tf.tidy(() => tf.max(tf.abs(same.sub(x))));
      expect((await difference.data())[0]).toBeLessThan(1e-5);
      difference.dispose();
      tf.dispose([x, a, b, same]);
    });
  });
  it('batchCutout zeroes exactly the sampled square', async () => {
    await expectNoLeak(async () => {
      const x = tf.ones([1, 5, 5, 1]) as tf.Tensor4D;
      const out = batchCutout().apply(x, [[{ left: 1, top: 2, width: 2, height: 3 }]]);
      const v = await out.data();
      for (let y = 0; y < 5; y++) for (let c = 0; c < 5; c++) expect(v[y * 5 + c]).toBe(c >= 1 && c < 3 && y >= 2 ? 0 : 1);
      tf.dispose([x, out]);
    });
  });
  it('mixup with λ gives λ·x1 + (1 − λ)·x2 and mixes one-hot labels', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor4d([1, 3], [2, 1, 1, 1]);
      const y = tf.tensor2d([[1, 0], [0, 1]]);
      const out = mixup().apply({ x, y }, { lambda: 0.7, permutation: [1, 0] });
      const mixed = Array.from(await out.x.data());
      [0.7 * 1 + 0.3 * 3, 0.7 * 3 + 0.3 * 1].forEach((v, i) => expect(mixed[i]).toBeCloseTo(v, 6));
      const labels = Array.from(await out.y.data());
      [0.7, 0.3, 0.3, 0.7].forEach((v, i) => expect(labels[i]).toBeCloseTo(v, 6));
      tf.dispose([x, y, out.x, out.y]);
    });
  });
  it('cutmix pastes the box and weights labels by the pasted area; bad labels are refused', async () => {
    await expectNoLeak(async () => {
      const x = tf.tidy(() => tf.concat([tf.zeros([1, 4, 4, 1]), tf.ones([1, 4, 4, 1])]) as tf.Tensor4D);
      const y = tf.tensor2d([[1, 0], [0, 1]]);
      const out = mixBatch(cutmix(), { x, y }, new Rng(3));
      const sum = tf.tidy(() => out.x.slice([0], [1]).sum());
      const pasted = (await sum.data())[0]!;
      sum.dispose();
      expect((await out.y.data())[1]).toBeCloseTo(pasted / 16, 6);
      const flat = tf.tensor1d([0, 1]);
      expect(() => mixup().apply({ x, y: flat }, { lambda: 0.5, permutation: [1, 0] })).toThrow(/batch.y must be one-hot/);
      flat.dispose();
      tf.dispose([x, y, out.x, out.y]);
    });
  });
});

describe('mixPlugin', () => {
  it('getState/setState replay its random stream: the same pairs and λ after a restore', async () => {
    await expectNoLeak(async () => {
      const plugin = mixPlugin(mixup({ alpha: 0.4 }));
      const ctx = { rng: new Rng(5) } as unknown as LoopContext & { batch: { x: tf.Tensor; y: tf.Tensor } | undefined };
      plugin.beforeFit!(ctx);
      const fresh = () => ({
        x: tf.tensor4d(Array.from({ length: 4 * 4 }, (_, i) => i), [4, 2, 2, 1]),
        y: tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3)),
      });
      const mixed = async (by = plugin): Promise<number[]> => {
        const input = fresh();
        ctx.batch = input;
        await by.beforeBatch!(ctx);
        const out = Array.from(await ctx.batch!.x.data());
        tf.dispose([input.x, input.y, ctx.batch!.x, ctx.batch!.y]);
        return out;
      };
      await mixed();
      const saved = JSON.parse(JSON.stringify(plugin.getState()));
      const next = [await mixed(), await mixed()];
      const other = mixPlugin(mixup({ alpha: 0.4 }));
      other.setState(saved);
      expect([await mixed(other), await mixed(other)]).toEqual(next);
      expect(() => other.setState({})).toThrow('state must be { rng } from getState (received {})');
    });
  });
});

describe('progressiveAugmentation', () => {
  it('goes soft → harsh → soft over the epochs and sets the transform strength', () => {
    const schedule = softHarshSoft();
    expect([schedule(0), schedule(0.6), schedule(1)].map((v) => +v.toFixed(6))).toEqual([0.2, 1, 0.3]);
    const transform = rotate();
    const plugin = progressiveAugmentation({ transform });
    const seen: number[] = [];
    for (let epoch = 0; epoch < 6; epoch++) {
      plugin.beforeEpoch!({ epoch, epochs: 6 } as never);
      seen.push(transform.strength);
    }
    expect(seen[0]).toBeCloseTo(0.2);
    expect(Math.max(...seen)).toBeGreaterThan(0.8);
    expect(seen[5]).toBeCloseTo(0.3);
    expect(plugin.params.strength).toBe(seen[5]);
    expect(() => progressiveAugmentation({ transform, schedule: () => 2 }).beforeEpoch!({ epoch: 0, epochs: 1 } as never)).toThrow(/strength/);
  });
});
