import { describe, expect, it } from 'vitest';
import {
  cosine,
  cosineWarmRestarts,
  cyclic,
  exponentialDecay,
  linear,
  multiStep,
  oneCycleSchedules,
  stepDecay,
  type CyclicMode,
  type OneCycleScheduleOptions,
} from '@convkit/schedule';
import { TORCH, expectClose } from './fixtures.test-helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const cases = TORCH.cases;
const sample = (name: string, f: (t: number) => number): number[] => range(cases[name]!.learningRate.length).map(f);

describe('index schedules against torch.optim.lr_scheduler (fixtures/torch-schedules.json)', () => {
  it('stepDecay matches StepLR', () => {
    const o = cases.stepLR!.options as { base: number; stepSize: number; gamma: number };
    expectClose(sample('stepLR', stepDecay({ initial: o.base, stepSize: o.stepSize, gamma: o.gamma })), cases.stepLR!.learningRate);
  });
  it('multiStep matches MultiStepLR with milestones 300/3000', () => {
    const o = cases.multiStepLR!.options as { base: number; milestones: number[]; gamma: number };
    expectClose(sample('multiStepLR', multiStep({ initial: o.base, milestones: o.milestones, gamma: o.gamma })), cases.multiStepLR!.learningRate);
  });
  it('exponentialDecay matches ExponentialLR per step (0.9995) and per epoch (0.9)', () => {
    for (const name of ['exponentialLR', 'exponentialLRPerEpoch']) {
      const o = cases[name]!.options as { base: number; gamma: number };
      expectClose(sample(name, exponentialDecay({ initial: o.base, gamma: o.gamma })), cases[name]!.learningRate, name);
    }
  });
  it('cosine(base, min) at t / period matches CosineAnnealingLR, past the period too', () => {
    const o = cases.cosineAnnealingLR!.options as { base: number; period: number; minimum: number };
    const f = cosine(o.base, o.minimum);
    expectClose(sample('cosineAnnealingLR', (t) => f(t / o.period)), cases.cosineAnnealingLR!.learningRate);
  });
  it('cosineWarmRestarts matches CosineAnnealingWarmRestarts (T_mult 2 and 1)', () => {
    for (const name of ['cosineAnnealingWarmRestarts', 'cosineAnnealingWarmRestartsConstantPeriod']) {
      const o = cases[name]!.options as { base: number; period: number; periodMultiplier: number; minimum: number };
      const f = cosineWarmRestarts({ initial: o.base, minimum: o.minimum, period: o.period, periodMultiplier: o.periodMultiplier });
      expectClose(sample(name, f), cases[name]!.learningRate, name);
    }
  });
  it('linear warmup matches LinearLR', () => {
    const o = cases.linearLR!.options as { base: number; startFactor: number; endFactor: number; steps: number };
    const factor = linear(o.startFactor, o.endFactor);
    expectClose(sample('linearLR', (t) => o.base * factor(Math.min(t, o.steps) / o.steps)), cases.linearLR!.learningRate);
  });
  it('oneCycleSchedules matches OneCycleLR: rate and momentum (SGD), beta1 (Adam), linear annealing', () => {
    for (const name of ['oneCycleLR', 'oneCycleLRAdam', 'oneCycleLRLinear']) {
      const c = cases[name]!;
      const curves = oneCycleSchedules(c.options as unknown as OneCycleScheduleOptions);
      expectClose(sample(name, curves.learningRate), c.learningRate, `${name} learningRate`);
      expectClose(sample(name, curves.momentum), (c.momentum ?? c.beta1)!, `${name} momentum`);
    }
  });
  it('cyclic matches CyclicLR in triangular, triangular2 and exp_range, momentum inverted', () => {
    for (const mode of ['triangular', 'triangular2', 'exp_range']) {
      const c = cases[`cyclicLR_${mode}`]!;
      const o = c.options as {
        baseLearningRate: number; maxLearningRate: number; stepSizeUp: number; stepSizeDown: number;
        mode: CyclicMode; gamma: number; baseMomentum: number; maxMomentum: number;
      };
      const shape = { stepSizeUp: o.stepSizeUp, stepSizeDown: o.stepSizeDown, mode: o.mode, gamma: o.gamma };
      expectClose(sample(`cyclicLR_${mode}`, cyclic({ low: o.baseLearningRate, high: o.maxLearningRate, ...shape })), c.learningRate, mode);
      expectClose(sample(`cyclicLR_${mode}`, cyclic({ low: o.maxMomentum, high: o.baseMomentum, ...shape })), c.momentum!, `${mode} momentum`);
    }
  });
  it('rejects bad arguments with the argument named', () => {
    expect(() => stepDecay({ initial: 0.1, stepSize: 0 })).toThrow('stepSize must be a positive integer (received 0)');
    expect(() => multiStep({ initial: 0.1, milestones: [300, 30] })).toThrow('milestones must be increasing (received [300, 30])');
    expect(() => cyclic({ low: 0, high: 1, mode: 'sawtooth' as CyclicMode })).toThrow(
      "mode must be one of 'triangular', 'triangular2', 'expRange' (received \"sawtooth\")"
    );
    expect(() => oneCycleSchedules({ maxLearningRate: -0.1, totalSteps: 10 })).toThrow('maxLearningRate must be a finite number > 0 (received -0.1)');
    expect(() => exponentialDecay({ initial: NaN, gamma: 0.9 })).toThrow('initial must be a finite number (received NaN)');
  });
});
