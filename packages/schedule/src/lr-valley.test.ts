import { describe, expect, it } from 'vitest';
import { createRng } from '@convkit/core';
import { finderRates, suggestLearningRates, valleyIndex } from '@convkit/schedule';

/** Reference: the longest strictly decreasing subsequence ending at each index, by memoised backward recursion. */
function referenceValley(losses: readonly number[]): number {
  const memo = new Map<number, number>();
  const endingAt = (i: number): number => {
    if (!memo.has(i)) {
      let best = 1;
      for (let j = i - 1; j >= 0; j--) if (losses[j]! > losses[i]!) best = Math.max(best, endingAt(j) + 1);
      memo.set(i, best);
    }
    return memo.get(i)!;
  };
  const lengths = losses.map((_, i) => endingAt(i));
  const longest = Math.max(...lengths);
  const end = lengths.indexOf(longest); // the first index reaching it
  const start = end - longest;
  const s = (end - start) / 3;
  return Math.max(0, start + Math.floor(s) + Math.floor(s / 2));
}

describe('valleyIndex', () => {
  it('on a clean U-shape takes the point about 1/2 of the way into the falling stretch', () => {
    // (i − 30)² falls strictly over 0..30: length 31 ending at 30, start −1, s = 31/3, index −1 + 10 + 5 = 14
    const losses = Array.from({ length: 80 }, (_, i) => 1 + (i - 30) ** 2 / 100);
    expect(valleyIndex(losses)).toBe(14);
  });

  it('on a small noisy curve matches the hand computation', () => {
    // lengths of the longest fall ending at each point: 1 1 2 2 3 4 4 5 3 1 → end 7, start 2, s = 5/3, 2 + 1 + 0 = 3
    expect(valleyIndex([3.0, 3.2, 2.5, 2.7, 2.0, 1.5, 1.8, 1.0, 2.0, 4.0])).toBe(3);
  });

  it('on a U-shape with seeded noise matches an independent reference and stays in the falling part', () => {
    const rng = createRng(7);
    const losses = Array.from({ length: 120 }, (_, i) => 1 + ((i - 70) / 35) ** 2 + rng.normal(0, 0.03));
    const index = valleyIndex(losses);
    expect(index).toBe(referenceValley(losses));
    expect(index).toBeGreaterThan(5);
    expect(index).toBeLessThan(70);
  });

  it('on a flat-then-diverging curve picks inside the long, gentle fall; a perfectly flat curve gives 0', () => {
    // 2 − 0.001 i falls over 0..59 (length 60, start −1, s = 20: index −1 + 20 + 10 = 29), then the loss explodes
    const losses = Array.from({ length: 70 }, (_, i) => (i < 60 ? 2 - 0.001 * i : 2 + 0.1 * (i - 59) ** 2));
    expect(valleyIndex(losses)).toBe(29);
    expect(valleyIndex([2, 2, 2, 2])).toBe(0);
    expect(valleyIndex([])).toBe(-1);
  });
});

describe('suggestLearningRates valley', () => {
  it('gives the rate at the valley of the kept points (first tenth and last 5 dropped)', () => {
    const rates = finderRates(1e-6, 1, 80);
    const losses = Array.from({ length: 80 }, (_, i) => 1 + (i - 30) ** 2 / 100);
    // kept: 8..74; falls over kept 0..22 (length 23, start −1, s = 23/3): −1 + 7 + 3 = 9 → sweep index 17
    const suggestion = suggestLearningRates(rates, losses);
    expect(suggestion.valley).toBe(rates[17]);
    expect(suggestion.minimumDividedBy10).toBe(rates[30]! / 10);
  });

  it('on a flat, noisy sweep suggests a far larger rate than steepest and minimum / 10', () => {
    // the E2.1 failure: flat and noisy for most of the sweep, a slight fall, then divergence
    const rng = createRng(3);
    const rates = finderRates(1e-7, 1, 100);
    const losses = rates.map((r, i) => 0.5 - 0.02 * Math.min(1, r / 1e-2) + (i > 90 ? 0.5 * (i - 90) : 0) + rng.normal(0, 0.006));
    const kept = losses.slice(10, 95);
    const suggestion = suggestLearningRates(rates, losses);
    expect(suggestion.valley).toBe(rates[10 + valleyIndex(kept)]);
    expect(suggestion.valley).toBe(rates[10 + referenceValley(kept)]);
    // the real fall is around 1e-3..1e-2; steepest chases a noise step far below it, minimum / 10 sits 10× below
    expect(suggestion.valley).toBeGreaterThan(1e-3);
    expect(suggestion.valley).toBeLessThan(1e-2);
    expect(suggestion.steepest).toBeLessThan(1e-4);
    expect(suggestion.minimumDividedBy10).toBeLessThan(suggestion.valley / 5);
  });
});
