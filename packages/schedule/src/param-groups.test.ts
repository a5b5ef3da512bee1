import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { sgd } from '@convkit/optim';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { Learner, type History, type Plugin } from '@convkit/learner';
import {
  constant,
  cosineAnnealing,
  cyclicLR,
  lambdaLR,
  lrFind,
  oneCycle,
  paramScheduler,
  reduceLROnPlateau,
  stepLR,
  type ParamSchedulerPlugin,
} from '@convkit/schedule';
import { expectClose } from './fixtures.test-helpers.js';

await tf.setBackend('cpu');

/** One case of fixtures/torch-group-schedules.json: per group, the values torch used before each step. */
interface GroupCase {
  bases: number[];
  options: Record<string, unknown>;
  learningRate: number[][];
  momentum?: number[][];
}

const TORCH_GROUPS: { cases: Record<string, GroupCase> } = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/torch-group-schedules.json', import.meta.url)), 'utf8')
);

const BATCHES = 4;

/**
 * Fits y = w·x + b with `sgd` over two parameter groups (w in group 0, b in group 1) at `rates`, for `epochs` × 4
 * batches, with `plugins`; returns the history and every group's rates after the fit. Frees all it makes.
 */
async function fitTwoGroups(
  plugins: Plugin[],
  {
    rates = [0.01, 0.1],
    momentum = 0,
    epochs = 6,
    saveTo,
    resume,
  }: { rates?: number[]; momentum?: number; epochs?: number; saveTo?: string; resume?: string } = {}
): Promise<{ history: History; after: number[] }> {
  const w = tf.tidy(() => tf.variable(tf.zeros([1, 1]), true, 'groups_w'));
  const b = tf.tidy(() => tf.variable(tf.zeros([1]), true, 'groups_b'));
  const optimizer = sgd({
    learningRate: rates[0]!,
    momentum,
    paramGroups: [{ variables: [w] }, { variables: [b], hypers: { learningRate: rates[1]! } }],
  });
  const learner = new Learner({
    model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
    loss: 'meanSquaredError',
    optimizer,
    train: {
      length: BATCHES,
      *[Symbol.iterator]() {
        for (let i = 0; i < BATCHES; i++) yield { x: tf.ones([2, 1]), y: tf.fill([2, 1], 0.5) };
      },
    },
    plugins,
  });
  try {
    const history = await learner.fit(epochs, resume === undefined ? {} : { resume });
    if (saveTo !== undefined) await learner.saveCheckpoint(saveTo);
    return { history, after: optimizer.getHypers().map((h) => h.learningRate!) };
  } finally {
    optimizer.dispose();
    w.dispose();
    b.dispose();
  }
}

const column = (history: History, key: string): number[] => history.steps.map((s) => s.hypers[key]!);

/** Asserts both groups' per-step values in the history equal torch's. */
function expectGroups(history: History, key: string, expected: number[][], label: string): void {
  expectClose(column(history, key), expected[0]!, `${label} group 0`);
  expectClose(column(history, `${key}/1`), expected[1]!, `${label} group 1`);
}

describe('schedules over two parameter groups match torch (fixtures/torch-group-schedules.json)', () => {
  const cases = TORCH_GROUPS.cases;

  it('oneCycle with maxLearningRate per group equals OneCycleLR(max_lr=[0.02, 0.3]), rates and momenta', async () => {
    await expectNoLeak(async () => {
      const c = cases.oneCycleLR!;
      const { history } = await fitTwoGroups([oneCycle({ maxLearningRate: [0.02, 0.3] })], { momentum: 0.9 });
      expectGroups(history, 'learningRate', c.learningRate, 'learningRate');
      expectGroups(history, 'momentum', c.momentum!, 'momentum');
    });
  });

  it('oneCycle with one maxLearningRate gives every group the same curve, as OneCycleLR(max_lr=0.1)', async () => {
    const c = cases.oneCycleLRScalar!;
    const { history } = await fitTwoGroups([oneCycle({ maxLearningRate: 0.1 })], { momentum: 0.9 });
    expectGroups(history, 'learningRate', c.learningRate, 'learningRate');
    expect(Math.max(...column(history, 'learningRate/1'))).toBeLessThanOrEqual(0.1 + 1e-12);
  });

  it('lambdaLR multiplies each group base, as LambdaLR with one lambda per group', async () => {
    await expectNoLeak(async () => {
      const c = cases.lambdaLR!;
      const factor = [(t: number) => 0.9 ** t, (t: number) => 1 / (1 + t)];
      const { history } = await fitTwoGroups([lambdaLR({ factor })]);
      expectGroups(history, 'learningRate', c.learningRate, 'learningRate');
    });
  });

  it('stepLR and cosineAnnealing start each group from its own base, as StepLR and CosineAnnealingLR', async () => {
    const step = await fitTwoGroups([stepLR({ stepSize: 5, gamma: 0.5 })]);
    expectGroups(step.history, 'learningRate', cases.stepLR!.learningRate, 'stepLR');
    const cosine = await fitTwoGroups([cosineAnnealing({ period: 24, minLearningRate: 0.001 })]);
    expectGroups(cosine.history, 'learningRate', cases.cosineAnnealingLR!.learningRate, 'cosineAnnealing');
  });

  it('cyclicLR with bounds per group equals CyclicLR(base_lr=[…], max_lr=[…]), rates and momenta', async () => {
    const c = cases.cyclicLR!;
    const o = c.options as { baseLearningRate: number[]; maxLearningRate: number[]; stepSizeUp: number; baseMomentum: number[]; maxMomentum: number[] };
    const { history } = await fitTwoGroups([cyclicLR(o)], { momentum: 0.9 });
    expectGroups(history, 'learningRate', c.learningRate, 'learningRate');
    expectGroups(history, 'momentum', c.momentum!, 'momentum');
  });
});

describe('paramScheduler with parameter groups', () => {
  it('writes one schedule as an absolute value into every group (constant(0.1) gives the head 0.1, not 1.0)', async () => {
    const { history, after } = await fitTwoGroups([paramScheduler({ learningRate: constant(0.1) })], { epochs: 1 });
    expect(column(history, 'learningRate')).toEqual([0.1, 0.1, 0.1, 0.1]);
    expect(column(history, 'learningRate/1')).toEqual([0.1, 0.1, 0.1, 0.1]);
    expect(after).toEqual([0.1, 0.1]);
  });

  it('gives each group its own curve from an array of schedules, and records both', async () => {
    const scheduler = paramScheduler({ learningRate: [(p: number) => 0.01 * (1 - p), (p: number) => 0.1 * (1 - p)] });
    const { history } = await fitTwoGroups([scheduler], { epochs: 1 });
    expectClose(column(history, 'learningRate'), [0.01, 0.0075, 0.005, 0.0025]);
    expectClose(column(history, 'learningRate/1'), [0.1, 0.075, 0.05, 0.025]);
    expectClose(scheduler.recorded.map((r) => r.values['learningRate/1']!), [0.1, 0.075, 0.05, 0.025]);
  });

  it('refuses a schedule array whose length is not the number of groups, naming both', async () => {
    const scheduler: ParamSchedulerPlugin = paramScheduler({ learningRate: [constant(0.1), constant(0.1), constant(0.1)] });
    await expect(fitTwoGroups([scheduler], { epochs: 1 })).rejects.toThrow(
      'learningRate has 3 schedules (one per group) but the optimizer has 2 parameter groups'
    );
    await expect(fitTwoGroups([oneCycle({ maxLearningRate: [0.1, 0.2, 0.3] })], { epochs: 1 })).rejects.toThrow(
      'maxLearningRate has 3 values but the optimizer has 2 parameter groups'
    );
    expect(() => oneCycle({ maxLearningRate: [0.1, -1] })).toThrow('maxLearningRate[1] must be a finite number > 0 (received -1)');
    expect(() => stepLR({ stepSize: 2, learningRate: [] })).toThrow('learningRate must be a number or a non-empty array');
  });
});

describe('live writes and history with parameter groups', () => {
  it("ctx.hypers['learningRate/1'] writes group 1 only; ctx.hypers.learningRate writes every group", async () => {
    const seen: Record<string, number>[] = [];
    const writer: Plugin = {
      name: 'writer',
      writes: ['hyper.learningRate'],
      beforeBatch(ctx) {
        if (ctx.fitStep === 1) ctx.hypers['learningRate/1'] = 0.05;
        if (ctx.fitStep === 2) ctx.hypers.learningRate = 0.02;
        if (ctx.fitStep === 3) ctx.hypers['learningRate/0'] = 0.03;
        seen.push({ ...ctx.hypers });
      },
    };
    const { history } = await fitTwoGroups([writer], { epochs: 1 });
    expect(column(history, 'learningRate')).toEqual([0.01, 0.01, 0.02, 0.03]);
    expect(column(history, 'learningRate/1')).toEqual([0.1, 0.05, 0.02, 0.02]);
    expect(Object.keys(seen[0]!)).toEqual(['learningRate', 'learningRate/1', 'momentum', 'momentum/1', 'dampening', 'dampening/1', 'weightDecay', 'weightDecay/1']);
    expect(history.epochs[0]!.hypers['learningRate/1']).toBe(0.02);
  });

  it('a checkpoint keeps every group: a resumed fit continues both rates as the uninterrupted fit does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'convkit-groups-'));
    try {
      await expectNoLeak(async () => {
        const straight = await fitTwoGroups([stepLR({ stepSize: 3, gamma: 0.5 })], { epochs: 4 });
        await fitTwoGroups([stepLR({ stepSize: 3, gamma: 0.5 })], { epochs: 2, saveTo: join(dir, 'after-2') });
        const resumed = await fitTwoGroups([stepLR({ stepSize: 3, gamma: 0.5 })], { epochs: 4, resume: join(dir, 'after-2') });
        expect(column(resumed.history, 'learningRate/1')).toEqual(column(straight.history, 'learningRate/1'));
        expect(column(resumed.history, 'learningRate')).toEqual(column(straight.history, 'learningRate'));
        expect(resumed.after).toEqual(straight.after);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a group that does not exist, listing the keys', async () => {
    const writer: Plugin = {
      name: 'writer',
      writes: ['hyper.learningRate'],
      beforeBatch(ctx) {
        ctx.hypers['learningRate/2'] = 0.05;
      },
    };
    await expect(fitTwoGroups([writer], { epochs: 1 })).rejects.toThrow(
      '"learningRate/2" is not a hyperparameter of the optimizer (available: learningRate, learningRate/1,'
    );
  });

  it('reduceLROnPlateau lowers each group from its own rate', async () => {
    // threshold 10 (relative): no epoch counts as an improvement, so with patience 0 every epoch reduces.
    const { history, after } = await fitTwoGroups([reduceLROnPlateau({ monitor: 'train.loss', patience: 0, factor: 0.5, threshold: 10 })], { epochs: 3 });
    expect(history.epochs.map((e) => [e.hypers.learningRate, e.hypers['learningRate/1']])).toEqual([
      [0.01, 0.1],
      [0.005, 0.05],
      [0.0025, 0.025],
    ]);
    expect(after).toEqual([0.00125, 0.0125]);
  });

  it('lrFind sweeps group 0 with group 1 in proportion, and puts both rates back', async () => {
    const w = tf.tidy(() => tf.variable(tf.zeros([1, 1]), true, 'finder_w'));
    const b = tf.tidy(() => tf.variable(tf.zeros([1]), true, 'finder_b'));
    const optimizer = sgd({ learningRate: 0.01, paramGroups: [{ variables: [w] }, { variables: [b], hypers: { learningRate: 0.1 } }] });
    const learner = new Learner({
      model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
      loss: 'meanSquaredError',
      optimizer,
      train: { length: 2, *[Symbol.iterator]() { for (let i = 0; i < 2; i++) yield { x: tf.ones([2, 1]), y: tf.fill([2, 1], 0.5) }; } },
    });
    const found = await lrFind(learner, { steps: 6, startLearningRate: 1e-4, endLearningRate: 1e-2, stopOnDivergence: false });
    const steps = learner.history.steps;
    expectClose(column(learner.history, 'learningRate'), found.learningRates);
    expectClose(column(learner.history, 'learningRate/1'), found.learningRates.map((r) => r * 10));
    expect(steps).toHaveLength(6);
    expect(optimizer.getHypers().map((h) => h.learningRate)).toEqual([0.01, 0.1]);
    optimizer.dispose();
    w.dispose();
    b.dispose();
  });
});
