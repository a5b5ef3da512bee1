import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import type { History, Plugin } from '@convkit/learner';
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonlLogger } from './jsonl-logger.js';
import { crashAndResume, linearRun, temporaryFolder } from './run.test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const readLines = async (path: string): Promise<Record<string, unknown>[]> =>
  (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** The lines a history should give: each epoch's steps, then the epoch. */
function expectedLines(history: History): Record<string, unknown>[] {
  return history.epochs.flatMap((epoch) => [
    ...history.steps.filter((s) => s.epoch === epoch.epoch).map((s) => ({ type: 'step', ...s })),
    { type: 'epoch', ...epoch },
  ]);
}

describe('jsonlLogger', () => {
  it('writes one line per step and one per epoch, as in the history', async () => {
    const path = join(await temporaryFolder(), 'runs', 'log.jsonl');
    let history: History | undefined;
    await expectNoLeak(async () => {
      const run = linearRun([jsonlLogger(path)]);
      history = await run.learner.fit(2);
      run.dispose();
    });
    const lines = await readLines(path);
    expect(lines).toEqual(expectedLines(history!));
    expect(lines.filter((line) => line.type === 'step')).toHaveLength(8);
    expect(lines[0]).toMatchObject({ type: 'step', step: 0, epoch: 0, batch: 0, hypers: { learningRate: 0.1 } });
  });

  it('writes the step lines every flushEvery steps during an epoch', async () => {
    const path = join(await temporaryFolder(), 'live.jsonl');
    const seen: number[] = [];
    const probe: Plugin = {
      name: 'probe',
      order: 10,
      async afterBatch() {
        seen.push((await readFile(path, 'utf8')).split('\n').filter((line) => line !== '').length);
      },
    };
    const run = linearRun([jsonlLogger(path, { flushEvery: 2 }), probe]);
    await run.learner.fit(1);
    run.dispose();
    // After batches 0..3: nothing, 2 step lines, still 2, 4 (the epoch line comes at the epoch end).
    expect(seen).toEqual([0, 2, 2, 4]);
    expect((await readLines(path)).map((line) => line.type)).toEqual(['step', 'step', 'step', 'step', 'epoch']);
  });

  it('on resume drops the lines after the checkpoint and writes the checkpoint\'s unwritten steps', async () => {
    const folder = await temporaryFolder();
    const path = join(folder, 'run.jsonl');
    const { history } = await crashAndResume(folder, () => jsonlLogger(path), { afterStep: 5 }, 3, async () => {
      expect(await readLines(path)).toHaveLength(12 + 3);
    });
    const lines = await readLines(path);
    expect(lines).toEqual(expectedLines(history));
    expect(lines.map((line) => (line.type === 'step' ? line.step : `epoch ${String(line.epoch)}`))).toEqual([
      0, 1, 2, 3, 'epoch 0', 4, 5, 6, 7, 'epoch 1', 8, 9, 10, 11, 'epoch 2',
    ]);
  });

  it('appends to the lines there with append: true, and empties the file otherwise', async () => {
    const folder = await temporaryFolder();
    const kept = join(folder, 'kept.jsonl');
    const fresh = join(folder, 'fresh.jsonl');
    const run = linearRun([jsonlLogger(kept, { append: true }), { ...jsonlLogger(fresh), name: 'fresh' }], undefined, { validation: false });
    await run.learner.fit(1);
    await run.learner.fit(1);
    run.dispose();
    expect((await readLines(kept)).map((line) => line.step)).toEqual([0, 1, 2, 3, 4, 4, 5, 6, 7, 8]);
    expect((await readLines(fresh)).map((line) => line.step)).toEqual([4, 5, 6, 7, 8]);
  });

  it('rejects bad options with the value received', () => {
    expect(() => jsonlLogger('')).toThrow('path must be a non-empty path (received "")');
    expect(() => jsonlLogger('a.jsonl', { flushEvery: 2.5 })).toThrow('flushEvery must be a positive integer number of steps (received 2.5)');
    expect(() => jsonlLogger('a.jsonl', { append: 1 as never })).toThrow('append must be a boolean (received 1)');
  });
});
