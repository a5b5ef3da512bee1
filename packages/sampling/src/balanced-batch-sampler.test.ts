import { createRng } from '@convkit/core';
import { describe, expect, it } from 'vitest';
import { BalancedBatchSampler } from './balanced-batch-sampler.js';

// E1.3's 43/37/13/7 split over 1000 rows.
const LABELS = [430, 370, 130, 70].flatMap((count, c) => Array<number>(count).fill(c));

function classCountsOf(batch: Int32Array): number[] {
  const counts = [0, 0, 0, 0];
  for (const row of batch) counts[LABELS[row]!]! += 1;
  return counts;
}

describe('BalancedBatchSampler', () => {
  it('puts exactly batchSize / K rows of each class in every batch when divisible', () => {
    const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 32 });
    const batches = sampler.epochIndices(0, createRng(1));
    expect(batches.length).toBe(Math.ceil(1000 / 32));
    for (const batch of batches) expect(classCountsOf(batch)).toEqual([8, 8, 8, 8]);
  });

  it('cycles through each class: rare rows repeat evenly, common rows do not repeat', () => {
    const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 32 });
    const uses = new Map<number, number>();
    for (const batch of sampler.epochIndices(0, createRng(2))) for (const row of batch) uses.set(row, (uses.get(row) ?? 0) + 1);
    // 32 batches × 8 = 256 draws per class: class 3's 70 rows are used 3 or 4 times each, class 0's 430 rows at most once.
    const rare = LABELS.map((label, row) => (label === 3 ? uses.get(row) ?? 0 : -1)).filter((count) => count >= 0);
    expect(Math.min(...rare)).toBe(3);
    expect(Math.max(...rare)).toBe(4);
    const common = LABELS.map((label, row) => (label === 0 ? uses.get(row) ?? 0 : -1)).filter((count) => count >= 0);
    expect(Math.max(...common)).toBe(1);
    expect(common.reduce((a, b) => a + b, 0)).toBe(256);
  });

  it('gives each class floor or ceil of its share, and the share on average (balance 0 and non-divisible sizes)', () => {
    const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 30, numBatches: 400, balance: 0 });
    const shares = sampler.classShares(); // 30 · [0.43, 0.37, 0.13, 0.07] = [12.9, 11.1, 3.9, 2.1]
    expect(shares.map((share) => Number(share.toFixed(9)))).toEqual([12.9, 11.1, 3.9, 2.1]);
    const totals = [0, 0, 0, 0];
    for (const batch of sampler.epochIndices(0, createRng(3))) {
      const counts = classCountsOf(batch);
      expect(batch.length).toBe(30);
      counts.forEach((count, c) => {
        expect(count === Math.floor(shares[c]!) || count === Math.ceil(shares[c]!)).toBe(true);
        totals[c]! += count;
      });
    }
    for (const [c, share] of shares.entries()) {
      const fraction = share - Math.floor(share); // the extra row is a Bernoulli(fraction) per batch
      const standardError = Math.sqrt((fraction * (1 - fraction)) / 400);
      expect(Math.abs(totals[c]! / 400 - share)).toBeLessThan(5 * standardError);
    }
    sampler.balance = 1;
    for (const batch of sampler.epochIndices(1, createRng(4))) {
      for (const count of classCountsOf(batch)) expect([7, 8]).toContain(count); // 30 / 4 = 7.5
    }
  });

  it('is deterministic by seed and checks the loader batch size', () => {
    const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 16, numBatches: 5 });
    expect(sampler.epochIndices(0, createRng(7))).toEqual(sampler.epochIndices(0, createRng(7)));
    expect(sampler.epochIndices(0, createRng(7))).not.toEqual(sampler.epochIndices(0, createRng(8)));
    expect(sampler.length(16, false)).toBe(5);
    expect(() => sampler.length(32, false)).toThrow("batchSize must equal the BalancedBatchSampler's batchSize 16 (received 32)");
  });

  it('refuses a missing class and bad sizes, naming the value', () => {
    expect(() => new BalancedBatchSampler({ labels: [0, 0, 2], batchSize: 3 })).toThrow('labels has no sample of class 1 (class counts [2, 0, 1])');
    expect(() => new BalancedBatchSampler({ labels: [0, 1], batchSize: 0 })).toThrow('batchSize must be a positive integer (received 0)');
    expect(() => new BalancedBatchSampler({ labels: [0, 1], batchSize: 2, balance: -0.1 })).toThrow('balance must be a number in [0, 1] (received -0.1)');
    expect(() => new BalancedBatchSampler({ labels: [0, 1], batchSize: 2, numBatches: 1.5 })).toThrow('numBatches must be a positive integer (received 1.5)');
  });
});
