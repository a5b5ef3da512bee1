import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { plugin, type Plugin } from './plugin.js';
import { CancelFit } from './signals.js';
import { formatDuration, formatEpochSummary, formatEta, formatProgressLine, formatRate } from './progress-format.js';
import { progressBar } from './progress.js';
import { tinyLearner } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('progress formatting', () => {
  it('formats durations, rates and ETAs', () => {
    expect([formatDuration(0), formatDuration(65.4), formatDuration(3723), formatDuration(Number.NaN)]).toEqual([
      '0:00',
      '1:05',
      '1:02:03',
      '--:--',
    ]);
    expect([
      formatRate(12.345),
      formatRate(200),
      formatRate(1234),
      formatRate(56_700),
      formatRate(2.5e6),
      formatRate(Number.NaN),
    ]).toEqual([
      '12.3 samples/s',
      '200 samples/s',
      '1.23k samples/s',
      '56.7k samples/s',
      '2.50M samples/s',
      '-- samples/s',
    ]);
    expect([formatEta(25, 100, 10), formatEta(0, 100, 10), formatEta(5, undefined, 1)]).toEqual([
      '0:30',
      '--:--',
      '--:--',
    ]);
  });

  it('formats progress lines and epoch summaries', () => {
    expect(
      formatProgressLine({
        epoch: 0,
        epochs: 3,
        batches: 5,
        total: 10,
        samplesPerSecond: 200,
        elapsedSeconds: 2,
        running: { loss: 0.5, accuracy: 0.75 },
      })
    ).toBe('epoch 1/3  batch 5/10  200 samples/s  ETA 0:02  loss 0.5000 accuracy 0.7500');
    expect(
      formatEpochSummary({
        epoch: 1,
        epochs: 5,
        train: { loss: 0.25 },
        valid: { loss: 0.5 },
        seconds: 3.21,
        samplesPerSecond: 1500,
      })
    ).toBe('epoch 2/5  train loss 0.2500  valid loss 0.5000  3.2s  1.50k samples/s');
    expect(
      formatEpochSummary({
        epoch: 0,
        epochs: 1,
        train: { loss: Number.NaN },
        valid: {},
        seconds: 1,
        samplesPerSecond: 8,
      })
    ).toBe('epoch 1/1  train loss nan  1.0s  8.00 samples/s');
  });
});

/** A tiny fit of 10 batches of 8 per epoch whose clock advances 100 ms per batch. */
async function fitWithProgress(progress: ReturnType<typeof progressBar>, epochs = 2, extra: Plugin[] = []) {
  let clock = 0;
  const tick = plugin('tick', { afterBatch: () => void (clock += 100) });
  const tiny = tinyLearner({ batches: 10, validBatches: 1, now: () => clock, plugins: [tick, progress, ...extra] });
  const history = await tiny.learner.fit(epochs);
  tiny.dispose();
  return history;
}

describe('progressBar', () => {
  it('writes a line per 10% of an epoch and a summary, without ANSI codes, when the stream is not a TTY', async () => {
    await expectNoLeak(async () => {
      const written: string[] = [];
      const history = await fitWithProgress(
        progressBar({ stream: { isTTY: false, write: (s: string) => written.push(s) } })
      );
      const lines = written.join('').trimEnd().split('\n');
      expect(lines).toHaveLength(20);
      expect(lines[0]).toMatch(
        /^epoch 1\/2 {2}batch 1\/10 {2}80\.0 samples\/s {2}ETA 0:01 {2}loss \d\.\d{4} accuracy \d\.\d{4}$/
      );
      expect(lines[8]).toMatch(/^epoch 1\/2 {2}batch 9\/10 {2}80\.0 samples\/s {2}ETA 0:00 /);
      const record = history.epochs[0]!;
      expect(lines[9]).toBe(
        `epoch 1/2  train loss ${record.train.loss!.toFixed(4)} accuracy ${record.train.accuracy!.toFixed(4)}  ` +
          `valid loss ${record.valid.loss!.toFixed(4)} accuracy ${record.valid.accuracy!.toFixed(
            4
          )}  1.0s  80.0 samples/s`
      );
      expect(written.join('')).not.toMatch(/\u001b/);
    });
  });

  it('still prints the last summary when an earlier plugin ends the fit in afterEpoch', async () => {
    await expectNoLeak(async () => {
      const written: string[] = [];
      const stop = plugin('stop', {
        afterEpoch: () => {
          throw new CancelFit();
        },
      });
      await fitWithProgress(progressBar({ output: 'lines', stream: { write: (s: string) => written.push(s) } }), 3, [
        stop,
      ]);
      const summaries = written.filter((line) => line.includes('train loss'));
      expect(summaries).toHaveLength(1);
      expect(summaries[0]).toMatch(/^epoch 1\/3 {2}train loss /);
    });
  });

  it('updates a notebook display at most every 250 ms and keeps the summaries', async () => {
    await expectNoLeak(async () => {
      const texts: string[] = [];
      await fitWithProgress(progressBar({ display: { text: (s) => texts.push(s) } }), 1);
      // live updates after batches 3, 6 and 9 (300 ms apart at 100 ms per batch), then the summary
      expect(texts).toHaveLength(4);
      expect(texts[0]).toMatch(/^epoch 1\/1 {2}batch 3\/10 /);
      expect(texts[3]).toMatch(/^epoch 1\/1 {2}train loss .* {2}1\.0s {2}80\.0 samples\/s$/);
    });
  });

  it('draws a cli-progress bar on a TTY and prints the summary after it', async () => {
    await expectNoLeak(async () => {
      const written: string[] = [];
      const stream = { isTTY: true, columns: 120, write: (s: string) => written.push(s) };
      await fitWithProgress(progressBar({ output: 'terminal', stream }), 1);
      const text = written.join('');
      expect(text).toContain('epoch 1/1 [');
      expect(text).toMatch(/10\/10 \| 80\.0 samples\/s \| ETA 0:00 \| loss \d\.\d{4} accuracy/);
      // the bar is cleared (ESC[2K) and the summary line takes its place
      expect(text).toMatch(/\u001b\[2Kepoch 1\/1 {2}train loss [^\n]* {2}80\.0 samples\/s\n$/);
    });
  });

  it('prints nothing with output none, and rejects an unknown output', async () => {
    await expectNoLeak(async () => {
      const written: string[] = [];
      await fitWithProgress(progressBar({ output: 'none', stream: { write: (s: string) => written.push(s) } }), 1);
      expect(written).toEqual([]);
    });
    expect(() => progressBar({ output: 'fancy' as never })).toThrow(
      "output must be 'auto', 'terminal', 'lines' or 'none' (received \"fancy\")"
    );
  });
});
