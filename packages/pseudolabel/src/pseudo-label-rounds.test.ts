import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { subset } from '@convkit/data';
import { pseudoLabelRounds, type RoundRecord } from '@convkit/pseudolabel';
import { halvesDataset, linearModel, trainOn } from './halves.fixture.js';

await tf.setBackend('cpu');

const labeled = subset(halvesDataset(400, 1), Array.from({ length: 8 }, (_, i) => i)); // 8 labels, 4 per class
const unlabeled = halvesDataset(300, 2);
const valid = halvesDataset(200, 3);

async function run(mode: 'scratch' | 'refine', seed = 0): Promise<{ rounds: RoundRecord[]; disposed: number; previous: boolean[] }> {
  let disposed = 0;
  const previous: boolean[] = [];
  const result = await pseudoLabelRounds<tf.LayersModel>({
    labeled,
    unlabeled,
    valid,
    rounds: 2,
    mode,
    threshold: 0.8,
    ratio: [1, 4],
    seed,
    unlabeledLabels: unlabeled.labels,
    now: () => 0,
    train: async ({ round, dataset, previous: model }) => {
      previous.push(model !== undefined);
      const net = model ?? linearModel(10 + round);
      await trainOn(net, dataset, round === 0 ? 30 : 6, 5 + round);
      return net;
    },
    disposeModel: (model) => {
      disposed++;
      model.dispose();
    },
  });
  result.model.dispose();
  return { rounds: result.rounds, disposed, previous };
}

describe('pseudoLabelRounds', () => {
  it('trains on 8 labels, then pseudolabels a pool with ≥ 90% right labels, from scratch (no leaks)', async () => {
    const { rounds, disposed, previous } = await expectNoLeak(() => run('scratch'));
    expect(rounds.map((r) => r.round)).toEqual([0, 1, 2]);
    expect(previous).toEqual([false, false, false]); // scratch: always a new model
    expect(disposed).toBe(2); // the models of rounds 0 and 1
    expect(rounds[0]).toMatchObject({ trainSize: 8, pseudoCount: 0, kept: 0, seconds: 0 });
    for (const record of rounds.slice(1)) {
      expect(record.kept).toBeGreaterThan(50);
      expect(record.pseudoCount).toBe(Math.min(32, record.kept)); // 1:4 of 8 labels
      expect(record.trainSize).toBe(8 + record.pseudoCount);
      expect(record.pseudoAccuracy).toBeGreaterThanOrEqual(0.9);
      expect(record.keptPerClass.reduce((s, n) => s + n, 0)).toBe(record.kept);
    }
    expect(rounds[2]!.valid.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(rounds[2]!.valid.accuracy).toBeGreaterThanOrEqual(rounds[0]!.valid.accuracy! - 0.02);
  });

  it('refine hands the previous model back to train, and is deterministic for a seed', async () => {
    const first = await expectNoLeak(() => run('refine', 3));
    expect(first.previous).toEqual([false, true, true]);
    expect(first.disposed).toBe(0); // the same model all along
    const second = await run('refine', 3);
    expect(second.rounds).toEqual(first.rounds);
  });

  it('adds evaluate metrics and calls onRound per round', async () => {
    const seen: number[] = [];
    const result = await pseudoLabelRounds<tf.LayersModel>({
      labeled,
      unlabeled,
      rounds: 1,
      train: async ({ previous }) => {
        const net = previous ?? linearModel(1);
        await trainOn(net, labeled, 2, 1);
        return net;
      },
      evaluate: (_model, round) => ({ round10: round * 10 }),
      onRound: (record) => seen.push(record.round),
    });
    result.model.dispose();
    expect(seen).toEqual([0, 1]);
    expect(result.rounds.map((r) => r.valid)).toEqual([{ round10: 0 }, { round10: 10 }]);
  });

  it('rejects bad options before training', async () => {
    let trained = 0;
    const train = (): tf.LayersModel => {
      trained++;
      return linearModel(0);
    };
    const base = { labeled, unlabeled, train };
    await expect(pseudoLabelRounds({ ...base, threshold: 1.2 })).rejects.toThrow('threshold must be a number in [0, 1] (received 1.2)');
    await expect(pseudoLabelRounds({ ...base, rounds: -1 })).rejects.toThrow('rounds must be a non-negative integer (received -1)');
    await expect(pseudoLabelRounds({ ...base, mode: 'again' as 'refine' })).rejects.toThrow(`mode must be 'scratch' or 'refine' (received "again")`);
    await expect(pseudoLabelRounds({ ...base, ratio: [1, -2] })).rejects.toThrow('ratio must be [labeled, pseudo]');
    await expect(pseudoLabelRounds({ ...base, unlabeledLabels: [0] })).rejects.toThrow('trueLabels must hold one label per image (300)');
    await expect(pseudoLabelRounds({ ...base, train: undefined as unknown as typeof train })).rejects.toThrow('train must be a function');
    expect(trained).toBe(0);
  });
});
