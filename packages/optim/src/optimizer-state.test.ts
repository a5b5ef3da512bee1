import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { adadelta, adagrad, adam, adamW, rmsprop, sgd } from './index.js';
import type { Optimizer, ParamGroup } from './index.js';
import { stepAll, variableOf } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const INITIAL = [[[0.3, -1.2], [2, 0.05]], [[-0.7]]] as const;


const CASES: [string, (variables: tf.Variable[]) => Optimizer][] = [
  ['sgd nesterov', () => sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ['adam amsgrad, two groups', (v) => adam({ learningRate: 0.05, amsgrad: true, paramGroups: [{ variables: [v[1]!], hypers: { learningRate: 0.01 } }, {}] })],
  ['adamW', () => adamW({ learningRate: 0.05 })],
  ['adadelta', () => adadelta({ weightDecay: 0.01 })],
  ['adagrad', () => adagrad({ learningRate: 0.1, learningRateDecay: 0.05, initialAccumulatorValue: 0.1 })],
  ['rmsprop centered momentum', () => rmsprop({ learningRate: 0.01, momentum: 0.9, centered: true })],
];

function makeVariables(values: readonly (readonly (readonly number[])[])[] = INITIAL): tf.Variable[] {
  return values.map((rows) => variableOf(rows.map((row) => [...row])));
}

async function read(variables: tf.Variable[]): Promise<number[][]> {
  return Promise.all(variables.map(async (variable) => Array.from(await variable.data())));
}

describe('Optimizer.getState / setState', () => {
  it.each(CASES)('%s: resuming from a JSON checkpoint continues the very same trajectory (exact on cpu)', async (_name, make) => {
    await expectNoLeak(async () => {
      const variables = makeVariables();
      const optimizer = make(variables);
      for (let i = 0; i < 10; i++) stepAll(optimizer, variables);
      const checkpoint = JSON.stringify({ optimizer: await optimizer.getState(), weights: await read(variables) });
      optimizer.setHyper('learningRate', optimizer.getHyper('learningRate') * 0.5, { group: 0 }); // a live change
      const hypersAfterChange = optimizer.getHypers();
      for (let i = 0; i < 10; i++) stepAll(optimizer, variables);
      const straight = await read(variables);

      // A fresh process: new variables (new names) from the saved weights, a fresh optimizer, the saved state.
      const saved = JSON.parse(checkpoint) as { optimizer: unknown; weights: number[][] };
      const restoredVariables = variables.map((variable, index) =>
        tf.tidy(() => tf.variable(tf.tensor(saved.weights[index]!, variable.shape)))
      );
      const restored = make(restoredVariables);
      await restored.setState(saved.optimizer);
      expect(restored.iterations).toBe(10);
      restored.setHyper('learningRate', restored.getHyper('learningRate') * 0.5, { group: 0 });
      expect(restored.getHypers()).toEqual(hypersAfterChange);
      for (let i = 0; i < 10; i++) stepAll(restored, restoredVariables);
      expect(await read(restoredVariables)).toEqual(straight);
      expect(restored.iterations).toBe(20);

      // Without the saved state, the trajectory differs (the state matters, so the test can fail).
      const fresh = make(restoredVariables);
      restoredVariables.forEach((variable, index) => tf.tidy(() => variable.assign(tf.tensor(saved.weights[index]!, variable.shape))));
      for (let i = 0; i < 10; i++) stepAll(fresh, restoredVariables);
      expect(await read(restoredVariables)).not.toEqual(straight);

      for (const item of [optimizer, restored, fresh]) item.dispose();
      tf.dispose([...variables, ...restoredVariables]);
    });
  });

  it('holds plain numbers: format, algorithm, config, iterations, hypers per group, slots by position', async () => {
    await expectNoLeak(async () => {
      const variables = makeVariables();
      const optimizer = sgd({ learningRate: 0.1, momentum: 0.5 });
      stepAll(optimizer, variables);
      const state = await optimizer.getState();
      expect(state).toMatchObject({
        format: 'convkit-optim-state',
        version: 1,
        algorithm: 'sgd',
        config: { nesterov: false },
        iterations: 1,
        groups: [{ learningRate: 0.1, momentum: 0.5, dampening: 0, weightDecay: 0 }],
      });
      expect(state.variables.map(({ position, group, shape, step }) => ({ position, group, shape, step }))).toEqual([
        { position: 0, group: 0, shape: [2, 2], step: 1 },
        { position: 1, group: 0, shape: [1, 1], step: 1 },
      ]);
      // the first momentum buffer is the first gradient: 0.5·(w − 1) + 0.2·sin(3w) at w = −0.7
      expect(state.variables[1]!.slots.momentumBuffer![0]).toBeCloseTo(0.5 * -1.7 + 0.2 * Math.sin(-2.1), 6);
      expect(JSON.parse(JSON.stringify(state))).toEqual(state);
      optimizer.dispose();
      tf.dispose(variables);
    });
  });

  it('a state restored before any step survives getState unchanged', async () => {
    await expectNoLeak(async () => {
      const variables = makeVariables();
      const optimizer = adam();
      stepAll(optimizer, variables);
      const state = await optimizer.getState();
      const other = adam();
      await other.setState(JSON.parse(JSON.stringify(state)));
      expect(await other.getState()).toEqual(state);
      other.dispose();
      optimizer.dispose();
      tf.dispose(variables);
    });
  });

  it('refuses a state of another algorithm, config or group count, and names the first mismatched variable', async () => {
    await expectNoLeak(async () => {
      const variables = makeVariables();
      const optimizer = adam();
      stepAll(optimizer, variables);
      const state = await optimizer.getState();
      await expect(sgd({ learningRate: 1 }).setState(state)).rejects.toThrow('state is for optimizer "adam", not "sgd"');
      await expect(adamW().setState(state)).rejects.toThrow('state is for optimizer "adam", not "adamW"');
      await expect(adam({ amsgrad: true }).setState(state)).rejects.toThrow(
        'state.config.amsgrad is false, but this optimizer has amsgrad = true'
      );
      await expect(adam({ paramGroups: [{ variables: [variables[0]!] }, {}] }).setState(state)).rejects.toThrow(
        'state.groups must have one entry per parameter group (2) (received 1 groups)'
      );
      await expect(adam().setState({ weights: [] })).rejects.toThrow(
        'state must be an object returned by Optimizer.getState() with format "convkit-optim-state" (received format undefined)'
      );
      const broken = JSON.parse(JSON.stringify(state)) as typeof state;
      broken.variables[0]!.slots.expAvg = [1, 2];
      await expect(adam().setState(broken)).rejects.toThrow('state.variables[0].slots.expAvg must hold 4 numbers for shape [2,2] (received 2 values)');
      broken.variables[0]!.slots.expAvg = [1, 2, 3, 4];
      broken.groups[0]!.learningRate = -1;
      await expect(adam().setState(broken)).rejects.toThrow('state.groups[0].learningRate must be a finite number >= 0 (received -1)');

      // slots are matched by position; a variable of another shape at that position is named (on its first step
      // for a fresh optimizer, at once for one that has seen the variables)
      const swapped = [variableOf([[1]], 'swappedSmall'), variableOf([[1, 2], [3, 4]], 'swappedBig')];
      const fresh = adam();
      await fresh.setState(state);
      expect(() => stepAll(fresh, swapped)).toThrow(
        /state.variables position 0 \(saved as ".*", shape \[2,2\], group 0\) does not match variable "swappedSmall" \(shape \[1,1\], group 0\)/
      );
      const seen = adam();
      stepAll(seen, swapped);
      await expect(seen.setState(state)).rejects.toThrow('does not match variable "swappedSmall" (shape [1,1], group 0)');
      for (const item of [optimizer, fresh, seen]) item.dispose();
      tf.dispose([...variables, ...swapped]);
    });
  });
});
