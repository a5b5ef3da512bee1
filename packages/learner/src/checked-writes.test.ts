import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { plugin, UndeclaredWriteError } from './plugin.js';
import { tinyLearner } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('checkWrites (checked mode)', () => {
  const sneaky = (declared: boolean) =>
    plugin(
      'sneaky',
      { beforeBatch: (ctx) => { if (ctx.step === 2) ctx.hypers.learningRate = 0.5; } },
      declared ? { writes: ['hyper.learningRate'] } : {}
    );

  it('fails the fit naming the plugin, the event and the undeclared hyperparameter write', async () => {
    const tiny = tinyLearner({ checkWrites: true, plugins: [sneaky(false)] });
    const error = await tiny.learner.fit(1).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UndeclaredWriteError);
    expect((error as Error).message).toBe(
      'plugin "sneaky" changed hyper.learningRate in beforeBatch (0.1 → 0.5) without declaring it; add ' +
        "'hyper.learningRate' to the plugin's writes so that a conflict with another writer is caught before training"
    );
    expect(error).toMatchObject({ plugin: 'sneaky', event: 'beforeBatch', target: 'hyper.learningRate' });
    expect(tiny.learner.stepCount).toBe(2);
    tiny.dispose();
  });

  it('catches a write through ctx.optimizer.setHyper too', async () => {
    const direct = plugin('direct', { afterStep: (ctx) => ctx.optimizer.setHyper('learningRate', 0.2) });
    const tiny = tinyLearner({ checkWrites: true, plugins: [direct] });
    await expect(tiny.learner.fit(1)).rejects.toThrow('plugin "direct" changed hyper.learningRate in afterStep (0.1 → 0.2)');
    tiny.dispose();
  });

  it('accepts a declared write, and stays off by default', async () => {
    const declared = tinyLearner({ checkWrites: true, plugins: [sneaky(true)] });
    expect((await declared.learner.fit(1)).stopReason).toBe('completed');
    declared.dispose();
    const unchecked = tinyLearner({ plugins: [sneaky(false)] });
    expect((await unchecked.learner.fit(1)).stopReason).toBe('completed');
    unchecked.dispose();
  });
});
