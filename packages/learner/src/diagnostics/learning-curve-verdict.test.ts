import { describe, expect, it } from 'vitest';
import { learningCurveVerdict, type VerdictHistory } from './learning-curve-verdict.js';

/** A history from per-epoch accuracy values (and losses = 1 − accuracy). */
function history(train: number[], valid: number[]): VerdictHistory {
  return {
    epochs: train.map((t, i) => ({
      train: { accuracy: t, loss: 1 - t },
      valid: { accuracy: valid[i]!, loss: 1 - valid[i]! },
    })),
  };
}

const epochs = (n: number, f: (epoch: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

describe('learningCurveVerdict', () => {
  it('good: both curves rise and converge close together near the top', () => {
    const result = learningCurveVerdict(
      history(
        epochs(15, (i) => 0.95 - 0.45 * Math.exp(-i / 2)),
        epochs(15, (i) => 0.92 - 0.42 * Math.exp(-i / 2))
      )
    );
    expect(result.verdict).toBe('good');
    expect(result.metric).toBe('accuracy');
    expect(result.mode).toBe('max');
    expect(result.numbers.span).toBeCloseTo(0.5, 12);
    expect(result.numbers.fitted).toBeCloseTo((0.45 * (1 - Math.exp(-7))) / 0.5, 9);
    expect(result.numbers.reversals).toBe(0);
    expect(result.numbers.wobble).toBeCloseTo(0, 12);
  });

  it('underfitting-improving: far from fitted and still rising steadily', () => {
    const result = learningCurveVerdict(history(epochs(10, (i) => 0.3 + 0.03 * i), epochs(10, (i) => 0.29 + 0.03 * i)));
    expect(result.verdict).toBe('underfitting-improving');
    expect(result.numbers.worst).toBeCloseTo(0.29, 12);
    expect(result.numbers.trainSlope).toBeCloseTo(0.03 / 0.71, 9);
    expect(result.numbers.fitted).toBeCloseTo((0.57 - 0.29) / 0.71, 9);
    expect(result.advice).toContain('train longer');
  });

  it('underfitting-flat: stalls far from fitted', () => {
    const train = [0.3, 0.4, 0.42, 0.43, 0.43, 0.431, 0.43, 0.432, 0.43, 0.431];
    const result = learningCurveVerdict(history(train, train.map((t) => t - 0.01)));
    expect(result.verdict).toBe('underfitting-flat');
    expect(Math.abs(result.numbers.trainSlope)).toBeLessThan(0.01);
    expect(result.reasons[0]).toContain('closed 0.199 of the way from 0.290 (the worst value) to 1');
  });

  it('overfitting: train keeps improving while validation falls back from its best', () => {
    const train = epochs(12, (i) => 0.99 - 0.49 * Math.exp(-i / 2));
    const valid = [0.5, 0.65, 0.75, 0.82, 0.85, 0.84, 0.83, 0.81, 0.8, 0.78, 0.77, 0.75];
    const result = learningCurveVerdict(history(train, valid));
    expect(result.verdict).toBe('overfitting');
    expect(result.numbers.validBestEpoch).toBe(4);
    expect(result.numbers.validBest).toBe(0.85);
    expect(result.numbers.worsening).toBeCloseTo(0.1 / 0.5, 9);
    expect(result.reasons[0]).toContain('was best at epoch 4 (0.850)');
  });

  it('overfitting: a large final gap alone', () => {
    const result = learningCurveVerdict(history(epochs(8, (i) => 0.99 - 0.49 * Math.exp(-i)), epochs(8, (i) => 0.7 - 0.2 * Math.exp(-i))));
    expect(result.verdict).toBe('overfitting');
    expect(result.numbers.gap).toBeGreaterThan(0.15);
  });

  it('overfitting-oscillating: validation swings up and down', () => {
    const train = epochs(12, (i) => 0.98 - 0.48 * Math.exp(-i / 2));
    const valid = [0.5, 0.7, 0.8, 0.65, 0.82, 0.6, 0.84, 0.62, 0.8, 0.66, 0.83, 0.64];
    const result = learningCurveVerdict(history(train, valid));
    expect(result.verdict).toBe('overfitting-oscillating');
    // second half (epochs 6–11): 0.84 0.62 0.8 0.66 0.83 0.64: travelled 0.9, net 0.2, span 0.5
    expect(result.numbers.wobble).toBeCloseTo(1.4, 9);
    expect(result.numbers.reversals).toBe(4);
  });

  it('reads a loss (mode min, ideal 0) when asked, or when there is no accuracy', () => {
    const train = epochs(10, (i) => 2.3 * Math.exp(-i / 2) + 0.05);
    const valid = train.map((t) => t + 0.02);
    const asked = learningCurveVerdict(history(train.map((l) => 1 - l), valid.map((l) => 1 - l)), { metric: 'loss' });
    expect(asked.mode).toBe('min');
    const lossOnly = learningCurveVerdict({
      epochs: train.map((t, i) => ({ train: { loss: t }, valid: { loss: valid[i]! } })),
    });
    expect(lossOnly.metric).toBe('loss');
    expect(lossOnly.mode).toBe('min');
    expect(lossOnly.verdict).toBe('good');
    expect(lossOnly.numbers.span).toBeCloseTo(2.37, 12);
  });

  it('explains what is missing', () => {
    expect(() => learningCurveVerdict(history([0.1, 0.2], [0.1, 0.2]))).toThrow('history must have at least 3 epochs (received 2)');
    expect(() =>
      learningCurveVerdict({ epochs: [0, 1, 2].map(() => ({ train: { loss: 1 }, valid: {} })) })
    ).toThrow('history.epochs[0].valid.loss must be a finite number (received undefined; available: none)');
    expect(() => learningCurveVerdict(history([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]), { gap: -1 })).toThrow(
      'options.gap must be a non-negative number (received -1)'
    );
  });
});
