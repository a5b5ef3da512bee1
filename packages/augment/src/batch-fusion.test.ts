import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { installCpuKernels, Rng } from '@convkit/core';
import { availableBackends, expectNoLeak } from '@convkit/core/testing';
import { batchAffine, batchColor, batchFlip, batchNoise, batchTransform, compose } from './index.js';
import type { Container, Plan } from './compose.js';
import type { TensorTransform } from './batch-transforms.js';

/** Replays `record` by applying each applied child on its own, one after another (no fusion). */
function applySequentially(pipeline: Container<tf.Tensor4D>, x: tf.Tensor4D, plan: Plan): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    for (const { index, record } of plan) if (record.applied) y = pipeline.children[index]!.apply(y, record.params);
    return y === x ? x.clone() : y;
  });
}

/** The kernels that run while `pipeline` replays `plan` on `x`, and the output's values. */
async function replayProfiled(pipeline: Container<tf.Tensor4D>, x: tf.Tensor4D, plan: Plan): Promise<{ kernels: string[]; values: Float32Array }> {
  const info = await tf.profile(() => tf.tidy(() => pipeline.apply(x, plan)));
  const result = info.result as tf.Tensor;
  const values = (await result.data()) as Float32Array;
  result.dispose();
  return { kernels: info.kernels.map((kernel) => kernel.name), values };
}

async function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): Promise<number> {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const count = (kernels: readonly string[], name: string): number => kernels.filter((kernel) => kernel === name).length;

describe.each(availableBackends())('fused geometric batch transforms on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  // A non-square batch, so a flip that swapped width and height would show.
  const input = (seed: number): tf.Tensor4D => tf.randomUniform([4, 16, 12, 3], 0, 255, 'float32', seed) as tf.Tensor4D;

  it("batchFlip's and batchAffine's batchMatrices, through tf.image.transform, give their own apply's values", async () => {
    installCpuKernels(); // tfjs-backend-cpu 4.22's Transform stops after the first image of a batch
    await expectNoLeak(async () => {
      const x = input(13);
      const shape = { batch: 4, height: 16, width: 12, channels: 3 };
      const affineParams = batchAffine({ degrees: 20 }).sample(new Rng(2), shape);
      const cases: [TensorTransform, unknown][] = [
        [batchFlip(), { flipped: [true, false, true, false] }],
        [batchFlip({ direction: 'vertical' }), { flipped: [false, true, true, false] }],
        [batchAffine(), affineParams],
      ];
      for (const [transform, params] of cases) {
        const own = transform.apply(x, params);
        const viaRows = tf.tidy(() => tf.image.transform(x, tf.tensor2d(transform.batchMatrices!(shape, params)), 'bilinear', 'constant', 0));
        expect(Array.from(await viaRows.data())).toEqual(Array.from(await own.data()));
        tf.dispose([own, viaRows]);
      }
      x.dispose();
    });
  });

  it('compose([flipH, flipV, affine]) runs one Transform kernel and equals the three steps one after another', async () => {
    await expectNoLeak(async () => {
      let mixed = 0; // batches where a flip at chance 0.5 mirrored some images and kept others
      for (const chance of [1, 0.5]) {
        for (const seed of [0, 1, 2, 3]) {
          const pipeline = compose<tf.Tensor4D>([batchFlip({ chance }), batchFlip({ direction: 'vertical', chance }), batchAffine({ shift: 0.1, zoom: 0.1, degrees: 15 })]);
          const x = input(seed);
          const record = pipeline.sampleAll(new Rng(seed), { batch: 4, height: 16, width: 12, channels: 3 });
          const plan = record.params as Plan;
          const flips = plan.slice(0, 2).map((step) => new Set((step.record.params as { flipped: boolean[] }).flipped).size);
          if (flips.every((kinds) => kinds === 2)) mixed++;
          const fused = await replayProfiled(pipeline, x, plan);
          expect(fused.kernels).toEqual(['Transform']);
          const reference = applySequentially(pipeline, x, plan);
          const moved = tf.tidy(() => tf.max(tf.abs(reference.sub(x))));
          expect((await moved.data())[0]).toBeGreaterThan(10); // the images really were transformed
          expect(await maxDifference(fused.values, await reference.data())).toBeLessThan(1e-3);
          tf.dispose([x, reference, moved]);
        }
      }
      expect(mixed).toBeGreaterThan(0);
    });
  });

  it('a run of flips alone stays the exact mirror, with no Transform kernel', async () => {
    await expectNoLeak(async () => {
      for (const chance of [1, 0.5]) {
        const pipeline = compose<tf.Tensor4D>([batchFlip({ chance }), batchFlip({ direction: 'vertical', chance })]);
        const x = input(5);
        const plan = pipeline.sampleAll(new Rng(9), { batch: 4, height: 16, width: 12, channels: 3 }).params as Plan;
        const replay = await replayProfiled(pipeline, x, plan);
        expect(count(replay.kernels, 'Transform')).toBe(0);
        const reference = applySequentially(pipeline, x, plan);
        expect(Array.from(replay.values)).toEqual(Array.from(await reference.data()));
        tf.dispose([x, reference]);
      }
    });
  });

  it('a non-geometric step splits the runs, and the result still equals the steps one after another', async () => {
    await expectNoLeak(async () => {
      const steps: TensorTransform[] = [
        batchFlip({ chance: 1 }),
        batchAffine({ degrees: 10 }),
        batchNoise({ std: 5 }),
        batchFlip({ direction: 'vertical', chance: 0.5 }),
        batchColor(),
        batchAffine({ shift: 0.2 }),
        batchFlip({ chance: 0.5 }),
      ];
      const pipeline = compose<tf.Tensor4D>(steps);
      const x = input(7);
      const plan = pipeline.sampleAll(new Rng(3), { batch: 4, height: 16, width: 12, channels: 3 }).params as Plan;
      const replay = await replayProfiled(pipeline, x, plan);
      // Runs: [flipH, affine] fused; noise; flipV alone (mirrored); colour; [affine, flipH] fused.
      expect(count(replay.kernels, 'Transform')).toBe(2);
      const reference = applySequentially(pipeline, x, plan);
      expect(await maxDifference(replay.values, await reference.data())).toBeLessThan(1e-3);
      tf.dispose([x, reference]);
    });
  });

  it('affine then flip keeps the order: shifting one pixel right, then mirroring (exact on whole pixels)', async () => {
    await expectNoLeak(async () => {
      const pipeline = compose<tf.Tensor4D>([batchAffine(), batchFlip({ chance: 1 })]);
      const x = tf.tensor4d(Array.from({ length: 2 * 3 * 4 }, (_, i) => i + 1), [2, 3, 4, 1]);
      // dx = 0.25 of a 4-pixel side: one pixel right; row [r0, r1, r2, r3] → [0, r0, r1, r2] → mirrored [r2, r1, r0, 0].
      const plan: Plan = [
        { index: 0, record: { name: 'batchAffine', applied: true, params: [0, 1].map(() => ({ dx: 0.25, dy: 0, scale: 1, angle: 0 })) } },
        { index: 1, record: { name: 'batchFlip', applied: true, params: { flipped: [true, false] } } },
      ];
      const replay = await replayProfiled(pipeline, x, plan);
      expect(replay.kernels).toEqual(['Transform']);
      const rows = (await x.array()).map((image) => image.map((row) => row.map((p) => p[0]!)));
      const expected = [rows[0]!.map((r) => [r[2], r[1], r[0], 0]), rows[1]!.map((r) => [0, r[0], r[1], r[2]])].flat(2);
      expect(Array.from(replay.values)).toEqual(expected);
      // The other order mirrors first: [r3, r2, r1, r0] → [0, r3, r2, r1].
      const reversed = compose<tf.Tensor4D>([batchFlip({ chance: 1 }), batchAffine()]);
      const other = await replayProfiled(reversed, x, [
        { index: 0, record: plan[1]!.record },
        { index: 1, record: plan[0]!.record },
      ]);
      expect(Array.from(other.values)).toEqual([rows[0]!.map((r) => [0, r[3], r[2], r[1]]), rows[1]!.map((r) => [0, r[0], r[1], r[2]])].flat(2));
      x.dispose();
    });
  });

  it('a projective step then a flip: the product is scaled back to a last entry of 1, and equals the steps in turn', async () => {
    installCpuKernels();
    await expectNoLeak(async () => {
      // A keystone per image: c0, c1 ≠ 0, so keystone · mirror has a last entry ≠ 1 before scaling.
      const keystone: TensorTransform<number[][]> = {
        name: 'keystone',
        p: 1,
        strength: 1,
        sample: () => [0, 1, 2, 3].map((i) => [1, 0.05 * i, 0.5, 0.02, 1 - 0.03 * i, -0.4, 0.004 * (i + 1), -0.003 * i]),
        apply: (x, rows) => tf.tidy(() => tf.image.transform(x, tf.tensor2d(rows), 'bilinear', 'constant', 0)),
        batchMatrices: (_shape, rows) => rows,
      };
      for (const steps of [[keystone, batchFlip({ chance: 0.5 })], [batchFlip({ direction: 'vertical', chance: 1 }), keystone]]) {
        const pipeline = compose<tf.Tensor4D>(steps);
        const x = input(17);
        const plan = pipeline.sampleAll(new Rng(1), { batch: 4, height: 16, width: 12, channels: 3 }).params as Plan;
        const replay = await replayProfiled(pipeline, x, plan);
        expect(replay.kernels).toEqual(['Transform']);
        const reference = applySequentially(pipeline, x, plan);
        expect(await maxDifference(replay.values, await reference.data())).toBeLessThan(1e-3);
        tf.dispose([x, reference]);
      }
    });
  });

  it('batchTransform of the E0.1 pipeline leaves the tensor count unchanged and is deterministic', async () => {
    const x = input(11);
    const before = tf.memory().numTensors;
    const run = batchTransform(compose([batchFlip(), batchFlip({ direction: 'vertical' }), batchAffine({ shift: 0.1, zoom: 0.1, degrees: 15 })]));
    const a = run(x, new Rng(4));
    const b = run(x, new Rng(4));
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('refuses matrices that do not give one row of 8 numbers per image, naming the transform', () => {
    const broken: TensorTransform = { ...batchAffine(), name: 'broken', batchMatrices: () => [[1, 0, 0]] };
    const pipeline = compose<tf.Tensor4D>([batchFlip(), broken]);
    const x = input(2);
    const plan: Plan = [
      { index: 0, record: { name: 'batchFlip', applied: true, params: { flipped: [true, true, false, false] } } },
      { index: 1, record: { name: 'broken', applied: true, params: [] } },
    ];
    expect(() => tf.tidy(() => pipeline.apply(x, plan))).toThrow('broken: batchMatrices must return one row of 8 numbers per image of the batch of 4 (received [[1,0,0]])');
    x.dispose();
  });
});
