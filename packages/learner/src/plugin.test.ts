import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_EVENTS, LOOP_EVENTS, PLUGIN_EVENTS, isPluginEvent } from './events.js';
import { checkWrites, orderPlugins, plugin, PluginConflictError, type Plugin } from './plugin.js';
import { tinyLearner } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('LOOP_EVENTS', () => {
  it('lists the loop events in firing order, with one cancel event per level', () => {
    expect(LOOP_EVENTS.join(' ')).toBe(
      'beforeFit beforeEpoch beforeBatch afterPred afterLoss afterBackward beforeStep afterStep afterBatch ' +
        'beforeValidate afterValidate afterEpoch afterFit'
    );
    expect(
      CANCEL_EVENTS.map((e) => e.replace('afterCancel', 'after')).every((e) => LOOP_EVENTS.includes(e as never))
    ).toBe(true);
    expect(PLUGIN_EVENTS).toHaveLength(18);
    expect([isPluginEvent('afterCancelStep'), isPluginEvent('afterbatch')]).toEqual([true, false]);
  });
});

describe('plugin', () => {
  it('builds a plugin from functions and options', () => {
    const hook = (): void => undefined;
    const built = plugin('p', { beforeBatch: hook }, { order: 3, writes: ['batch'], priority: 1 });
    expect(built).toEqual({ name: 'p', beforeBatch: hook, order: 3, writes: ['batch'], priority: 1 });
  });

  it('rejects unknown events, bad names and bad write targets with the value received', () => {
    expect(() => plugin('p', { beforeBach: () => undefined } as never)).toThrow(
      /^hooks has an unknown event "beforeBach" \(expected one of: beforeFit, beforeEpoch/
    );
    expect(() => plugin('', {})).toThrow('plugin.name must be a non-empty string (received "")');
    expect(() => plugin('p', {}, { order: Number.NaN })).toThrow(
      'plugin "p": order must be a finite number (received NaN)'
    );
    expect(() => plugin('p', {}, { writes: ['weights' as never] })).toThrow(
      'plugin "p": writes has an invalid target "weights"'
    );
  });
});

describe('orderPlugins', () => {
  const named = (name: string, fields: Partial<Plugin> = {}): Plugin => ({ name, ...fields });

  it('is a stable sort by order', () => {
    const list = [
      named('a', { order: 1 }),
      named('b'),
      named('c', { order: -1 }),
      named('d'),
      named('e', { order: 1 }),
    ];
    expect(orderPlugins(list).map((p) => p.name)).toEqual(['c', 'b', 'd', 'a', 'e']);
  });

  it('puts the higher priority after the lower one when they share a write target, whatever their order', () => {
    const finder = named('lrFinder', { order: 50, writes: ['hyper.learningRate'], priority: 2 });
    const cycle = named('oneCycle', { order: 60, writes: ['hyper.learningRate'], priority: 1 });
    const other = named('other', { order: 55 });
    const list = [finder, cycle, other];
    expect(orderPlugins(list, checkWrites(list, ['learningRate'])).map((p) => p.name)).toEqual([
      'other',
      'oneCycle',
      'lrFinder',
    ]);
  });
});

describe('checkWrites', () => {
  const a = { name: 'lrFinder', writes: ['hyper.learningRate'] } satisfies Plugin;
  const b = { name: 'oneCycle', writes: ['hyper.learningRate'] } satisfies Plugin;

  it('refuses two writers of one target without distinct priorities, naming both', () => {
    const message =
      'plugins "lrFinder" and "oneCycle" both write "hyper.learningRate"; give them distinct `priority` values ' +
      '(the higher one runs last and wins) or remove one';
    expect(() => checkWrites([a, b], ['learningRate'])).toThrow(message);
    expect(() =>
      checkWrites(
        [
          { ...a, priority: 1 },
          { ...b, priority: 1 },
        ],
        ['learningRate']
      )
    ).toThrow(PluginConflictError);
    expect(
      checkWrites(
        [
          { ...a, priority: 1 },
          { ...b, priority: 2 },
        ],
        ['learningRate']
      )
    ).toHaveLength(1);
  });

  it('refuses a hyper the optimizer does not have, listing the available ones', () => {
    expect(() => checkWrites([{ name: 'mom', writes: ['hyper.momentum'] }], ['learningRate'])).toThrow(
      'plugin "mom" writes "hyper.momentum", but the optimizer has no hyperparameter "momentum" (available: learningRate)'
    );
  });

  it('chains priority constraints across targets', () => {
    const x = { name: 'x', writes: ['param.a', 'param.b'], priority: 1 } satisfies Plugin;
    const y = { name: 'y', writes: ['param.a'], priority: 2 } satisfies Plugin;
    const z = { name: 'z', writes: ['param.b'], priority: 0 } satisfies Plugin;
    // y after x (param.a), x after z (param.b): consistent
    const list = [y, x, z];
    expect(orderPlugins(list, checkWrites(list, [])).map((p) => p.name)).toEqual(['z', 'x', 'y']);
  });
});

describe('Learner.fit write conflicts', () => {
  it('refuses conflicting plugins before the first step, and runs them by priority once given', async () => {
    await expectNoLeak(async () => {
      const calls: string[] = [];
      const writer = (name: string, priority?: number): Plugin =>
        plugin(
          name,
          {
            beforeBatch(ctx) {
              calls.push(name);
              ctx.hypers.learningRate = priority ?? 0;
            },
          },
          {
            writes: ['hyper.learningRate'],
            ...(priority === undefined ? {} : { priority }),
          }
        );
      const tiny = tinyLearner({ batches: 1, validBatches: 0 });
      await expect(tiny.learner.fit(1, { plugins: [writer('lrFinder'), writer('oneCycle')] })).rejects.toThrow(
        'plugins "lrFinder" and "oneCycle" both write "hyper.learningRate"'
      );
      expect(calls).toEqual([]);
      expect(tiny.learner.stepCount).toBe(0);
      const history = await tiny.learner.fit(1, { plugins: [writer('lrFinder', 0.5), writer('oneCycle', 0.25)] });
      expect(calls).toEqual(['oneCycle', 'lrFinder']);
      expect(history.steps[0]!.hypers.learningRate).toBe(0.5);
      await expect(tiny.learner.fit(1, { plugins: [plugin('m', {}, { writes: ['hyper.momentum'] })] })).rejects.toThrow(
        'plugin "m" writes "hyper.momentum", but the optimizer has no hyperparameter "momentum" (available: learningRate)'
      );
      tiny.dispose();
    });
  });
});
