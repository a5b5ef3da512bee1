import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { FitInterrupted, Interrupted, interruptible } from './interrupt.js';
import { plugin } from './plugin.js';
import { CancelFit } from './signals.js';
import { tinyLearner } from './testing.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function values(variables: readonly tf.Variable[]): Promise<number[][]> {
  return Promise.all(variables.map(async (v) => Array.from(await v.data())));
}

describe('fit with an AbortSignal', () => {
  it('stops at the next batch boundary, runs afterFit and keeps the state of the last completed step', async () => {
    await expectNoLeak(async () => {
      // reference: the same run stopped by CancelFit after its 6th step
      const reference = tinyLearner({
        plugins: [plugin('stop', { afterBatch: (ctx) => { if (ctx.step === 5) throw new CancelFit(); } })],
      });
      await reference.learner.fit(3);
      const expected = await values(reference.variables);
      reference.dispose();

      const controller = new AbortController();
      const events: string[] = [];
      const tiny = tinyLearner({
        plugins: [
          plugin('abort', {
            afterBatch: (ctx) => { if (ctx.step === 5) controller.abort(); },
            afterFit: () => void events.push('afterFit'),
          }),
        ],
      });
      const listeners = process.listenerCount('SIGINT');
      const running = tiny.learner.fit(3, { signal: controller.signal });
      await Promise.resolve(); // fit's SIGINT listener is added from a microtask
      expect(process.listenerCount('SIGINT')).toBe(listeners + 1);
      const error = await running.catch((caught: unknown) => caught);
      expect(process.listenerCount('SIGINT')).toBe(listeners);
      expect(error).toBeInstanceOf(FitInterrupted);
      expect(error).toBeInstanceOf(Interrupted);
      expect((error as Error).message).toBe('fit interrupted at epoch 2, batch 2 (abort)');
      expect(error).toMatchObject({ epoch: 1, batch: 2, step: 6, operation: 'fit', reason: 'abort' });
      expect(events).toEqual(['afterFit']);
      const history = tiny.learner.history;
      expect(history.stopReason).toBe('fit interrupted at epoch 2, batch 2 (abort)');
      expect(history.steps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(history.epochs).toHaveLength(1);
      expect(tiny.learner.stepCount).toBe(6);
      expect(await values(tiny.variables)).toEqual(expected);
      // the learner is usable afterwards: evaluate, and fit again
      await tiny.learner.validate();
      expect((await tiny.learner.fit(1)).stopReason).toBe('completed');
      tiny.dispose();
    });
  });

  it('stops before the first batch with an already aborted signal, and refuses a non-signal', async () => {
    const tiny = tinyLearner();
    await expect(tiny.learner.fit(2, { signal: AbortSignal.abort('stop now') })).rejects.toThrow(
      'fit interrupted at epoch 1, batch 0 (stop now)'
    );
    expect(tiny.learner.stepCount).toBe(0);
    await expect(tiny.learner.fit(1, { signal: 'stop' as never })).rejects.toThrow('signal must be an AbortSignal (received string)');
    tiny.dispose();
  });

  it('is seen from a timer although the batches never wait for I/O', async () => {
    const tiny = tinyLearner({ batches: 4 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    await expect(tiny.learner.fit(1000, { signal: controller.signal })).rejects.toBeInstanceOf(FitInterrupted);
    expect(tiny.learner.stepCount).toBeLessThan(4000);
    tiny.dispose();
  });
});

describe('validate and predict with an AbortSignal', () => {
  function source(controller: AbortController, abortAt: number): BatchSource {
    return {
      length: 4,
      *[Symbol.iterator](): Iterator<Batch> {
        for (let b = 0; b < 4; b++) {
          if (b === abortAt) controller.abort();
          yield { x: tf.ones([2, 2]), y: tf.tensor1d([0, 1], 'int32') };
        }
      },
    };
  }

  it('stops at the next batch and disposes what it made', async () => {
    const tiny = tinyLearner();
    await expectNoLeak(async () => {
      const first = new AbortController();
      await expect(tiny.learner.validate(source(first, 2), { signal: first.signal })).rejects.toThrow(
        'validate interrupted at batch 2 (abort)'
      );
      const second = new AbortController();
      await expect(tiny.learner.predict(source(second, 1), { signal: second.signal })).rejects.toThrow(
        'predict interrupted at batch 1 (abort)'
      );
    });
    tiny.dispose();
  });
});

describe('interruptible', () => {
  it('listens for SIGINT only until disposed', async () => {
    const listeners = process.listenerCount('SIGINT');
    const interruption = interruptible();
    await Promise.resolve(); // the listener is added from a microtask (see the breakOnSigint test below)
    expect(process.listenerCount('SIGINT')).toBe(listeners + 1);
    expect(interruption.interrupted).toBe(false);
    process.emit('SIGINT', 'SIGINT');
    expect(interruption.reason).toBe('SIGINT');
    expect(() => interruption.check('tta', 'view 3')).toThrow('tta interrupted at view 3 (SIGINT)');
    await expect(interruption.boundary('tta', 'view 4')).rejects.toBeInstanceOf(Interrupted);
    interruption.dispose();
    interruption.dispose();
    expect(process.listenerCount('SIGINT')).toBe(listeners);
  });
});

describe('a kernel interrupt after a cell started the run (tslab: vm breakOnSigint)', () => {
  it('keeps the process alive and interrupts the run: the listener is not added under breakOnSigint', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(join(packageRoot, '../../node_modules/.bin/vite-node'), ['test/sigint-break.ts'], {
      cwd: packageRoot,
      timeout: 120_000,
    });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ alive: true, interrupted: true, reason: 'SIGINT' });
  }, 150_000);
});

describe('Ctrl-C in a plain Node script', () => {
  it('stops fit cleanly: the message, the history of the completed steps, afterFit, no listener left', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(join(packageRoot, '../../node_modules/.bin/vite-node'), ['test/sigint-fit.ts'], {
      cwd: packageRoot,
      timeout: 120_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(result).toEqual({
      interrupted: true,
      message: 'fit interrupted at epoch 2, batch 2 (SIGINT)',
      steps: 6,
      epochs: 1,
      stepCount: 6,
      stopReason: 'fit interrupted at epoch 2, batch 2 (SIGINT)',
      afterFit: true,
      listenersLeft: 0,
    });
  }, 150_000); // a child process on a busy machine
});
