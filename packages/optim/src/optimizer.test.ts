import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Optimizer,
  adadelta,
  adadeltaAlgorithm,
  adagrad,
  adagradAlgorithm,
  adam,
  adamAlgorithm,
  adamW,
  rmsprop,
  rmspropAlgorithm,
  sgd,
  sgdAlgorithm,
  type OptimizerAlgorithm,
} from './index.js';
import { stepAll, stepWith, variableOf } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('sgd', () => {
  it('takes w ← w − lr·g, and a learningRate set between steps is used by the next step', async () => {
    await expectNoLeak(async () => {
      const w = variableOf([1, 2]);
      const optimizer = sgd({ learningRate: 0.1 });
      expect(await stepWith(optimizer, w, [1, -2])).toEqual([expect.closeTo(0.9, 6), expect.closeTo(2.2, 6)]);
      optimizer.setHyper('learningRate', 0.5);
      expect(await stepWith(optimizer, w, [1, -2])).toEqual([expect.closeTo(0.4, 6), expect.closeTo(3.2, 6)]);
      optimizer.dispose();
      w.dispose();
    });
  });

  it('momentum: the buffer starts at the first gradient, then b ← μ·b + (1 − τ)·g', async () => {
    await expectNoLeak(async () => {
      const w = variableOf([0]);
      const optimizer = sgd({ learningRate: 0.1, momentum: 0.9, dampening: 0.5 });
      expect((await stepWith(optimizer, w, [1]))[0]).toBeCloseTo(-0.1, 6); // b = 1
      expect((await stepWith(optimizer, w, [1]))[0]).toBeCloseTo(-0.1 - 0.1 * (0.9 + 0.5), 6); // b = 1.4
      optimizer.dispose();
      w.dispose();
    });
  });

  it('nesterov: steps along g + μ·b', async () => {
    await expectNoLeak(async () => {
      const w = variableOf([0]);
      const optimizer = sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true });
      expect((await stepWith(optimizer, w, [1]))[0]).toBeCloseTo(-0.19, 6); // b = 1, d = 1 + 0.9
      expect((await stepWith(optimizer, w, [1]))[0]).toBeCloseTo(-0.19 - 0.1 * (1 + 0.9 * 1.9), 6); // b = 1.9
      optimizer.dispose();
      w.dispose();
    });
  });

  it('requires learningRate, and nesterov needs momentum > 0 and dampening 0', () => {
    expect(() => sgd({} as never)).toThrow('learningRate is required for sgd (received undefined)');
    expect(() => sgd({ learningRate: 0.1, nesterov: true })).toThrow(
      'hypers: nesterov needs momentum > 0 and dampening = 0 (received momentum 0, dampening 0)'
    );
  });
});

describe('optimizer factories', () => {
  it('default to the PyTorch 1.13 hyperparameters and name them in full words', () => {
    const cases: [Optimizer, Record<string, number>][] = [
      [sgd({ learningRate: 0.1 }), { learningRate: 0.1, momentum: 0, dampening: 0, weightDecay: 0 }],
      [adam(), { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }],
      [adamW(), { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-2 }],
      [adadelta(), { learningRate: 1, rho: 0.9, epsilon: 1e-6, weightDecay: 0 }],
      [adagrad(), { learningRate: 1e-2, learningRateDecay: 0, epsilon: 1e-10, weightDecay: 0 }],
      [rmsprop(), { learningRate: 1e-2, alpha: 0.99, epsilon: 1e-8, momentum: 0, weightDecay: 0 }],
    ];
    for (const [optimizer, expected] of cases) {
      expect(optimizer.getHypers()).toEqual([expected]);
      expect(optimizer.hyperNames).toEqual(Object.keys(expected));
      for (const [name, value] of Object.entries(expected)) expect(optimizer.getHyper(name)).toBe(value);
    }
    expect([adam().config, adagrad().config, rmsprop().config, sgd({ learningRate: 1 }).config]).toEqual([
      { amsgrad: false },
      { initialAccumulatorValue: 0 },
      { centered: false },
      { nesterov: false },
    ]);
  });

  it('reject unknown or abbreviated options, naming them', () => {
    expect(() => adam({ lr: 0.1 } as never)).toThrow(
      'adam: unknown option "lr" (expected one of: learningRate, beta1, beta2, epsilon, weightDecay, amsgrad, paramGroups)'
    );
    expect(() => rmsprop({ centered: 'yes' } as never)).toThrow('centered must be a boolean (received "yes")');
  });

  it('reject a negative or NaN rate and out-of-range betas, naming the factory, the option and the value', () => {
    expect(() => sgd({ learningRate: -0.1 })).toThrow('sgd: learningRate must be a finite number >= 0 (received -0.1)');
    expect(() => adam({ learningRate: Number.NaN })).toThrow('adam: learningRate must be a finite number >= 0 (received NaN)');
    expect(() => adam({ beta1: 1 })).toThrow('adam: beta1 must be a number in [0, 1) (received 1)');
    expect(() => adagrad({ initialAccumulatorValue: -1 })).toThrow('initialAccumulatorValue must be a finite number >= 0 (received -1)');
  });

  const factories: [string, (learningRate: number) => Optimizer, () => OptimizerAlgorithm][] = [
    ['sgd', (learningRate) => sgd({ learningRate }), () => sgdAlgorithm()],
    ['adam', (learningRate) => adam({ learningRate }), () => adamAlgorithm()],
    ['adamW', (learningRate) => adamW({ learningRate }), () => adamAlgorithm({ decoupled: true })],
    ['adadelta', (learningRate) => adadelta({ learningRate }), () => adadeltaAlgorithm()],
    ['adagrad', (learningRate) => adagrad({ learningRate }), () => adagradAlgorithm()],
    ['rmsprop', (learningRate) => rmsprop({ learningRate }), () => rmspropAlgorithm()],
  ];
  it.each(factories)('%s refuses a NaN, infinite or negative learningRate at construction, in options, hypers and groups', (name, make, algorithmOf) => {
    for (const bad of [Number.NaN, Infinity, -Infinity, -1e-3]) {
      expect(() => make(bad)).toThrow(`${name}: learningRate must be a finite number >= 0 (received ${bad})`);
      const algorithm = algorithmOf();
      expect(() => new Optimizer(algorithm, { hypers: { learningRate: bad } })).toThrow(
        `hypers.learningRate must be a finite number >= 0 (received ${bad})`
      );
      expect(() => new Optimizer(algorithm, { paramGroups: [{ hypers: { learningRate: bad } }] })).toThrow(
        `paramGroups[0].hypers.learningRate must be a finite number >= 0 (received ${bad})`
      );
      expect(() => make(0.1).setHyper('learningRate', bad)).toThrow(`learningRate must be a finite number >= 0 (received ${bad})`);
    }
    expect(() => make('0.1' as never)).toThrow(`${name}: learningRate must be a finite number >= 0 (received "0.1")`);
    expect(make(0).getHyper('learningRate')).toBe(0);
  });
});

describe('Optimizer hyperparameters', () => {
  it('setHyper validates the name and the value and leaves the old value on error', () => {
    const optimizer = adam();
    expect(() => optimizer.setHyper('lr', 0.1)).toThrow(
      'name must be a hyperparameter name, one of learningRate, beta1, beta2, epsilon, weightDecay (received "lr")'
    );
    expect(() => optimizer.getHyper('momentum')).toThrow('(received "momentum")');
    expect(() => optimizer.setHyper('learningRate', -1)).toThrow('learningRate must be a finite number >= 0 (received -1)');
    expect(() => optimizer.setHyper('learningRate', Number.NaN)).toThrow('(received NaN)');
    expect(() => optimizer.setHyper('beta2', 1.5)).toThrow('beta2 must be a number in [0, 1) (received 1.5)');
    expect(optimizer.getHyper('learningRate')).toBe(1e-3);
    optimizer.setHyper('epsilon', 1e-6);
    expect(optimizer.getHyper('epsilon')).toBe(1e-6);
  });

  it('rmsprop: momentum switched on mid-training starts a zero buffer (b = g/d)', async () => {
    await expectNoLeak(async () => {
      const w = variableOf([0]);
      const optimizer = rmsprop({ learningRate: 0.1, alpha: 0, epsilon: 0 });
      expect((await stepWith(optimizer, w, [2]))[0]).toBeCloseTo(-0.1, 6); // s = 4, g/√s = 1
      optimizer.setHyper('momentum', 0.5);
      expect((await stepWith(optimizer, w, [2]))[0]).toBeCloseTo(-0.2, 6); // b = 0.5·0 + 1
      expect((await stepWith(optimizer, w, [2]))[0]).toBeCloseTo(-0.35, 6); // b = 0.5·1 + 1
      optimizer.dispose();
      w.dispose();
    });
  });
});

describe('Optimizer parameter groups', () => {
  it('give each group its own hyperparameters; unlisted variables go to the catch-all group', async () => {
    await expectNoLeak(async () => {
      const backbone = variableOf([1]);
      const head = variableOf([1]);
      const optimizer = sgd({
        learningRate: 0.1,
        paramGroups: [{ variables: [backbone], hypers: { learningRate: 0.01 } }, {}],
      });
      expect(optimizer.groupCount).toBe(2);
      expect(optimizer.getHypers().map((group) => group.learningRate)).toEqual([0.01, 0.1]);
      const gradients = [tf.tensor1d([1]), tf.tensor1d([1])];
      optimizer.applyGradients([
        { variable: backbone, gradient: gradients[0]! },
        { variable: head, gradient: gradients[1]! },
      ]);
      expect(backbone.dataSync()[0]).toBeCloseTo(0.99, 6);
      expect(head.dataSync()[0]).toBeCloseTo(0.9, 6);
      // one value for every group, one group, or one value per group
      optimizer.setHyper('momentum', 0.9);
      expect(optimizer.getHypers().map((group) => group.momentum)).toEqual([0.9, 0.9]);
      optimizer.setHyper('learningRate', 0.5, { group: 1 });
      expect([optimizer.getHyper('learningRate'), optimizer.getHyper('learningRate', { group: 1 })]).toEqual([0.01, 0.5]);
      optimizer.setHyper('learningRate', [0.02, 0.2]);
      expect(optimizer.getHypers().map((group) => group.learningRate)).toEqual([0.02, 0.2]);
      expect(() => optimizer.setHyper('learningRate', [0.1])).toThrow(
        'learningRate needs one value per parameter group (2) (received 1 values)'
      );
      expect(() => optimizer.setHyper('learningRate', [0.1, -1])).toThrow('learningRate[1] must be a finite number >= 0 (received -1)');
      expect(() => optimizer.getHyper('learningRate', { group: 2 })).toThrow('group must be an integer in [0, 1] (received 2)');
      tf.dispose([...gradients, backbone, head]);
      optimizer.dispose();
    });
  });

  it('reject an empty group, a variable in two groups, two catch-all groups and unknown hyperparameters', async () => {
    await expectNoLeak(async () => {
      const a = variableOf([1], 'groupsA');
      const b = variableOf([1], 'groupsB');
      expect(() => sgd({ learningRate: 0.1, paramGroups: [] })).toThrow('paramGroups must be a non-empty array');
      expect(() => sgd({ learningRate: 0.1, paramGroups: [{ variables: [] }] })).toThrow(
        'paramGroups[0].variables must be a non-empty array of tf.Variable (received [])'
      );
      expect(() => sgd({ learningRate: 0.1, paramGroups: [{ variables: [a, b] }, { variables: [b] }] })).toThrow(
        'variable "groupsB" is in both paramGroups[0] and paramGroups[1]'
      );
      expect(() => sgd({ learningRate: 0.1, paramGroups: [{ variables: [a, a] }] })).toThrow(
        'variable "groupsA" is twice in paramGroups[0]'
      );
      expect(() => sgd({ learningRate: 0.1, paramGroups: [{}, {}] })).toThrow(
        'paramGroups[1].variables is missing, but paramGroups[0] is already the catch-all group'
      );
      expect(() => adam({ paramGroups: [{ variables: [a], hypers: { lr: 0.1 } }] })).toThrow(
        'paramGroups[0].hypers key must be a hyperparameter name, one of learningRate, beta1, beta2, epsilon, weightDecay (received "lr")'
      );
      expect(() => adam({ paramGroups: [{ variables: [a], hypers: { learningRate: -2 } }] })).toThrow(
        'paramGroups[0].hypers.learningRate must be a finite number >= 0 (received -2)'
      );
      const optimizer = sgd({ learningRate: 0.1, paramGroups: [{ variables: [a] }] });
      const gradient = tf.tensor1d([1]);
      expect(() => optimizer.applyGradients([{ variable: b, gradient }])).toThrow(
        'variable "groupsB" is in no parameter group (list it in one, or add a group without `variables` to catch the rest)'
      );
      tf.dispose([gradient, a, b]);
      optimizer.dispose();
    });
  });
});

describe('Optimizer.applyGradients', () => {
  it('checks gradient shapes and duplicates before changing anything, and does not dispose the gradients', async () => {
    await expectNoLeak(async () => {
      const w = variableOf([1, 2], 'shapeCheck');
      const optimizer = sgd({ learningRate: 0.1 });
      const bad = tf.tensor1d([1, 2, 3]);
      const good = tf.tensor1d([1, 1]);
      expect(() => optimizer.applyGradients([{ variable: w, gradient: bad }])).toThrow(
        'grads[0].gradient must be a tensor of shape [2] like variable "shapeCheck" (received shape [3])'
      );
      expect(() => optimizer.applyGradients([{ variable: w, gradient: good }, { variable: w, gradient: good }])).toThrow(
        'grads[1]: variable "shapeCheck" appears twice'
      );
      expect(Array.from(w.dataSync())).toEqual([1, 2]);
      optimizer.applyGradients([{ variable: w, gradient: good }]);
      expect(good.isDisposed).toBe(false);
      tf.dispose([bad, good, w]);
      optimizer.dispose();
    });
  });

  it('matches state by variable identity: a variable first seen at step 2 gets its own first (bias-corrected) Adam step', async () => {
    await expectNoLeak(async () => {
      const early = variableOf([0]);
      const late = variableOf([0]);
      const optimizer = adam({ learningRate: 0.1 });
      await stepWith(optimizer, early, [1]);
      await stepWith(optimizer, early, [1]);
      // Adam's first step moves by lr·g/(|g| + ε') ≈ lr, whatever the other variable's step count
      expect((await stepWith(optimizer, late, [5]))[0]).toBeCloseTo(-0.1, 5);
      expect(optimizer.iterations).toBe(3);
      tf.dispose([early, late]);
      optimizer.dispose();
    });
  });

  it('keeps tf.memory() flat across steps for every optimizer, and dispose() frees every slot', async () => {
    const optimizers = [
      sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }),
      adam({ amsgrad: true, weightDecay: 0.1 }),
      adamW({ amsgrad: true }),
      adadelta({ weightDecay: 0.1 }),
      adagrad({ learningRateDecay: 0.1, initialAccumulatorValue: 0.1, weightDecay: 0.1 }),
      rmsprop({ momentum: 0.9, centered: true, weightDecay: 0.1 }),
    ];
    for (const optimizer of optimizers) {
      await expectNoLeak(() => {
        const variables = [variableOf([[1, 2], [3, 4]]), variableOf([0.5])];
        stepAll(optimizer, variables);
        const afterFirst = tf.memory().numTensors;
        for (let i = 0; i < 5; i++) stepAll(optimizer, variables);
        expect(tf.memory().numTensors, optimizer.name).toBe(afterFirst);
        optimizer.dispose();
        tf.dispose(variables);
      });
    }
  });
});
