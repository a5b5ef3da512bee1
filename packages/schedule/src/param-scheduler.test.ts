import * as tf from '@tensorflow/tfjs';
import { sgd } from '@convkit/optim';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { Learner, PluginConflictError, type OptimizerLike, type VariableGradient } from '@convkit/learner';
import { tinyLearner } from '@convkit/learner/testing';
import {
  constant,
  cosine,
  lambdaLR,
  linear,
  multiStepLR,
  oneCycle,
  paramScheduler,
  stepLR,
  type SchedulablePlugin,
} from '@convkit/schedule';
import { TORCH, expectClose } from './fixtures.test-helpers.js';

await tf.setBackend('cpu');

describe('paramScheduler', () => {
  it('writes the schedule before every step: history.steps shows linear(0.1, 0) at t / T', async () => {
    await expectNoLeak(async () => {
      const scheduler = paramScheduler({ learningRate: linear(0.1, 0) });
      const tiny = tinyLearner({ batches: 4, plugins: [scheduler] });
      const history = await tiny.learner.fit(2);
      tiny.dispose();
      const expected = Array.from({ length: 8 }, (_, t) => 0.1 * (1 - t / 8));
      expectClose(history.steps.map((s) => s.hypers.learningRate!), expected);
      expectClose(scheduler.recorded.map((r) => r.values.learningRate!), expected);
    });
  });

  it("with unit 'epoch' gives one value per epoch", async () => {
    await expectNoLeak(async () => {
      const scheduler = paramScheduler({ learningRate: (e: number) => 0.1 / (e + 1) }, { unit: 'epoch', input: 'index' });
      const tiny = tinyLearner({ batches: 3, plugins: [scheduler] });
      const history = await tiny.learner.fit(3);
      tiny.dispose();
      expect(history.steps.map((s) => s.hypers.learningRate)).toEqual([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.1 / 3, 0.1 / 3, 0.1 / 3]);
      expect(scheduler.recorded.map((r) => r.epoch)).toEqual([0, 1, 2]);
    });
  });

  it('schedules a plugin parameter through param.<plugin>.<name> (not an optimizer hyperparameter)', async () => {
    await expectNoLeak(async () => {
      const seen: number[] = [];
      const augment: SchedulablePlugin = {
        name: 'augment',
        order: 20,
        params: { strength: 0 },
        beforeBatch() {
          seen.push(this.params.strength!);
        },
      };
      const scheduler = paramScheduler({ 'param.augment.strength': linear(0, 1), momentum: constant(0.5) });
      const tiny = tinyLearner({ batches: 2, optimizer: tf.train.momentum(0.1, 0.9), plugins: [augment, scheduler] });
      const history = await tiny.learner.fit(2);
      tiny.learner.optimizer.dispose();
      tiny.dispose();
      expect(seen).toEqual([0, 0.25, 0.5, 0.75]);
      expect(history.steps.every((s) => s.hypers.momentum === 0.5)).toBe(true);
      expect(scheduler.writes).toEqual(['param.augment.strength', 'hyper.momentum']);
    });
  });

  it('writes one schedule into every parameter group as is, and lambdaLR scales each group from its own rate', async () => {
    const applied: number[][] = [];
    const grouped = groupedSgd([0.1, 0.01], applied);
    const tiny = tinyLearner({ batches: 2, optimizer: grouped, plugins: [paramScheduler({ learningRate: linear(0.2, 0.1) })] });
    await tiny.learner.fit(1);
    tiny.dispose();
    expectClose(applied.flat(), [0.2, 0.2, 0.15, 0.15]);
    const relative: number[][] = [];
    const second = tinyLearner({ batches: 2, optimizer: groupedSgd([0.1, 0.01], relative), plugins: [lambdaLR({ factor: (t) => 1 / (t + 1) })] });
    await second.learner.fit(1);
    second.dispose();
    expectClose(relative.flat(), [0.1, 0.01, 0.05, 0.005]);
  });

  it('sets every group of a real @convkit/optim optimizer to the scheduled value (no scaling from group 0)', async () => {
    const w = tf.tidy(() => tf.variable(tf.zeros([1, 1])));
    const b = tf.tidy(() => tf.variable(tf.zeros([1])));
    const optimizer = sgd({
      learningRate: 0.1,
      paramGroups: [{ variables: [w] }, { variables: [b], hypers: { learningRate: 0.01 } }],
    });
    const learner = new Learner({
      model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
      loss: 'meanSquaredError',
      optimizer,
      train: {
        length: 2,
        *[Symbol.iterator]() {
          for (let i = 0; i < 2; i++) yield { x: tf.ones([1, 1]), y: tf.ones([1, 1]) };
        },
      },
      plugins: [paramScheduler({ learningRate: linear(0.2, 0.1) })],
    });
    await learner.fit(1);
    expectClose(
      optimizer.getHypers().map((h) => h.learningRate!),
      [0.15, 0.15]
    );
    optimizer.dispose();
    w.dispose();
    b.dispose();
  });

  it('repeats the same values in a second fit (state resets in beforeFit)', async () => {
    const scheduler = stepLR({ stepSize: 2, gamma: 0.5 });
    const tiny = tinyLearner({ batches: 2, plugins: [scheduler] });
    const first = (await tiny.learner.fit(3)).steps.map((s) => s.hypers.learningRate);
    const second = (await tiny.learner.fit(3)).steps.map((s) => s.hypers.learningRate);
    tiny.dispose();
    expect(first).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    expect(second).toEqual(first);
    expect(scheduler.recorded).toHaveLength(6);
  });

  it('rejects bad schedules and targets with clear errors', async () => {
    expect(() => paramScheduler({})).toThrow('schedules must be a non-empty object');
    expect(() => paramScheduler({ 'param.nodot': constant(1) })).toThrow('schedule key must be');
    expect(() => paramScheduler({ learningRate: constant(1) }, { unit: 'batch' as 'step' })).toThrow(
      "unit must be one of 'step', 'epoch' (received \"batch\")"
    );
    const failures: [Record<string, (p: number) => number>, string][] = [
      [{ learningRate: constant(-0.1) }, 'the schedule of learningRate must give values >= 0 (received -0.1 at index 0)'],
      [{ learningRate: () => NaN }, 'the schedule of learningRate must give finite numbers (received NaN at index 0)'],
      [{ 'param.augment.strength': constant(1) }, 'names no plugin with params "augment" (schedulable: none)'],
      [{ weightDecay: constant(1) }, 'the optimizer has no hyperparameter "weightDecay"'],
    ];
    for (const [schedules, message] of failures) {
      const tiny = tinyLearner({ batches: 1, plugins: [paramScheduler(schedules)] });
      await expect(tiny.learner.fit(1)).rejects.toThrow(message);
      tiny.dispose();
    }
  });

  it('is refused beside another writer of the same hyperparameter', async () => {
    const tiny = tinyLearner({ plugins: [paramScheduler({ learningRate: constant(0.1) }), multiStepLR({ milestones: [1] })] });
    await expect(tiny.learner.fit(1)).rejects.toThrow(PluginConflictError);
    tiny.dispose();
  });
});

describe('factories through a real fit match torch step by step', () => {
  it('stepLR over 5 epochs × 4 batches gives StepLR(step_size=3, gamma=0.5)', async () => {
    const c = TORCH.cases.stepLR!;
    const tiny = tinyLearner({ batches: 4, optimizer: tf.train.sgd(0.1), plugins: [stepLR({ stepSize: 3, gamma: 0.5 })] });
    const history = await tiny.learner.fit(5);
    tiny.learner.optimizer.dispose();
    tiny.dispose();
    expectClose(history.steps.map((s) => s.hypers.learningRate!), c.learningRate);
  });

  it('oneCycle over 25 epochs × 4 batches gives OneCycleLR(max_lr=0.1, total_steps=100), rate and momentum', async () => {
    const c = TORCH.cases.oneCycleLR!;
    await expectNoLeak(async () => {
      const tiny = tinyLearner({ batches: 4, validBatches: 0, optimizer: tf.train.momentum(0.01, 0.9), plugins: [oneCycle({ maxLearningRate: 0.1 })] });
      const history = await tiny.learner.fit(25);
      tiny.learner.optimizer.dispose();
      tiny.dispose();
      expectClose(history.steps.map((s) => s.hypers.learningRate!), c.learningRate, 'learningRate');
      expectClose(history.steps.map((s) => s.hypers.momentum!), c.momentum!, 'momentum');
    });
  });

  it('cosine progress schedules need the fit length: a source without length is refused', async () => {
    const w = tf.variable(tf.zeros([1, 1]));
    const learner = new Learner({
      model: { variables: [w], forward: (x) => tf.matMul(x, w) },
      loss: 'meanSquaredError',
      optimizer: tf.train.sgd(0.1),
      train: { *[Symbol.iterator]() { yield { x: tf.ones([1, 1]), y: tf.ones([1, 1]) }; } },
      plugins: [paramScheduler({ learningRate: cosine(0.1, 0) })],
    });
    await expect(learner.fit(1)).rejects.toThrow('paramScheduler needs the number of steps of the fit');
    learner.optimizer.dispose();
    w.dispose();
  });
});

/** Plain SGD over two parameter groups (the first variable in group 0, the rest in group 1), per-group setHyper. */
function groupedSgd(rates: number[], applied: number[][]): OptimizerLike {
  const paramGroups: { hypers: Record<string, number> }[] = rates.map((learningRate) => ({ hypers: { learningRate } }));
  let first: string | undefined;
  return {
    groupCount: paramGroups.length,
    getHypers: () => paramGroups.map((g) => ({ ...g.hypers })),
    hyperNames: ['learningRate'],
    getHyper: () => paramGroups[0]!.hypers.learningRate,
    setHyper: (name: string, value: number | readonly number[]) => {
      paramGroups.forEach((g, i) => (g.hypers[name] = typeof value === 'number' ? value : value[i]!));
    },
    applyGradients(grads: VariableGradient[]) {
      applied.push(paramGroups.map((g) => g.hypers.learningRate!));
      first ??= grads[0]!.variable.name;
      for (const { variable, gradient } of grads) {
        const rate = paramGroups[variable.name === first ? 0 : 1]!.hypers.learningRate!;
        tf.tidy(() => variable.assign(tf.sub(variable, tf.mul(gradient, rate))));
      }
    },
    dispose() {},
  } as OptimizerLike;
}
