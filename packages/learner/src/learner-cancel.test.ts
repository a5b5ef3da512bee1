import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { PluginHookError } from './dispatcher.js';
import { plugin } from './plugin.js';
import { CancelBatch, CancelEpoch, CancelFit, CancelStep, CancelValidate } from './signals.js';
import { tinyLearner, traceFit } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const BATCH = ['beforeBatch', 'afterPred', 'afterLoss', 'afterBackward', 'beforeStep', 'afterStep', 'afterBatch'];
const VALIDATE = ['beforeValidate', 'afterValidate'];

/** Runs a 1-epoch fit of 2 batches (+1 validation batch) with `hooks` and returns the trace. */
async function traceWith(hooks: Parameters<typeof plugin>[1], epochs = 1) {
  const tiny = tinyLearner({ batches: 2, validBatches: 1, plugins: [plugin('canceller', hooks)] });
  const trace = await traceFit(tiny.learner, epochs);
  const weights = tiny.variables.map((v) => Array.from(v.dataSync()));
  tiny.dispose();
  return { ...trace, weights };
}

describe('cancel signals in a fit', () => {
  it('CancelBatch in beforeBatch skips that batch only', async () => {
    await expectNoLeak(async () => {
      const { names, history, error } = await traceWith({
        beforeBatch(ctx) {
          if (ctx.batchIndex === 0) throw new CancelBatch();
        },
      });
      expect(error).toBeUndefined();
      expect(names).toEqual([
        'beforeFit',
        'beforeEpoch',
        'beforeBatch',
        'afterCancelBatch',
        'afterBatch',
        ...BATCH,
        ...VALIDATE,
        'afterEpoch',
        'afterFit',
      ]);
      expect(history.steps.map((s) => s.batch)).toEqual([1]);
    });
  });

  it('CancelBatch in afterLoss (inside the tape) skips the step without leaking', async () => {
    await expectNoLeak(async () => {
      const { names, history, weights } = await traceWith({
        afterLoss() {
          throw new CancelBatch();
        },
      });
      expect(names.slice(2, 6)).toEqual(['beforeBatch', 'afterPred', 'afterLoss', 'afterCancelBatch']);
      expect(history.steps).toEqual([]);
      expect(weights.flat().every((v) => v === 0)).toBe(true);
    });
  });

  it('CancelStep skips only the optimizer step: the batch still counts in the loss', async () => {
    await expectNoLeak(async () => {
      const { names, history, weights } = await traceWith({
        beforeStep() {
          throw new CancelStep();
        },
      });
      const expectedBatch = [
        'beforeBatch',
        'afterPred',
        'afterLoss',
        'afterBackward',
        'beforeStep',
        'afterCancelStep',
        'afterStep',
        'afterBatch',
      ];
      expect(names).toEqual([
        'beforeFit',
        'beforeEpoch',
        ...expectedBatch,
        ...expectedBatch,
        ...VALIDATE,
        'afterEpoch',
        'afterFit',
      ]);
      expect(weights.flat().every((v) => v === 0)).toBe(true);
      expect(history.steps).toEqual([]);
      // zero weights → uniform softmax over 2 classes → loss ln 2
      expect(history.epochs[0]!.train.loss).toBeCloseTo(Math.LN2, 6);
      expect(history.epochs[0]!.step).toBe(0);
    });
  });

  it('CancelEpoch in afterBatch ends the epoch, skips validation and still records the epoch', async () => {
    await expectNoLeak(async () => {
      const { names, history } = await traceWith(
        {
          afterBatch() {
            throw new CancelEpoch();
          },
        },
        2
      );
      const epoch = ['beforeEpoch', ...BATCH, 'afterCancelEpoch', 'afterEpoch'];
      expect(names).toEqual(['beforeFit', ...epoch, ...epoch, 'afterFit']);
      expect(history.epochs.map((e) => [e.epoch, e.step, Object.keys(e.valid).length])).toEqual([
        [0, 1, 0],
        [1, 2, 0],
      ]);
      expect(history.epochs[0]!.train.loss).toBeCloseTo(Math.LN2, 6);
    });
  });

  it('CancelEpoch in beforeEpoch records an empty epoch, not the previous one', async () => {
    await expectNoLeak(async () => {
      const { names, history } = await traceWith(
        {
          beforeEpoch(ctx) {
            if (ctx.epoch === 1) throw new CancelEpoch('skip');
          },
        },
        2
      );
      expect(names.slice(-4)).toEqual(['beforeEpoch', 'afterCancelEpoch', 'afterEpoch', 'afterFit']);
      expect(history.epochs[1]!.train.loss).toBeNaN();
      expect(history.epochs[1]!.train.accuracy).toBeNaN();
      expect(history.epochs[1]!.valid).toEqual({});
      expect(history.epochs[0]!.train.loss).toBeGreaterThan(0);
    });
  });

  it('CancelValidate skips the validation only', async () => {
    await expectNoLeak(async () => {
      const { names, history } = await traceWith({
        beforeValidate() {
          throw new CancelValidate();
        },
      });
      expect(names.slice(-5)).toEqual([
        'beforeValidate',
        'afterCancelValidate',
        'afterValidate',
        'afterEpoch',
        'afterFit',
      ]);
      expect(history.epochs[0]!.valid).toEqual({});
      expect(Object.keys(history.epochs[0]!.train)).toEqual(['loss', 'accuracy']);
    });
  });

  it('CancelFit in afterBatch ends the fit with afterCancelFit then afterFit, and says why', async () => {
    await expectNoLeak(async () => {
      const { names, history, error } = await traceWith(
        {
          afterBatch() {
            throw new CancelFit('enough');
          },
        },
        3
      );
      expect(error).toBeUndefined();
      expect(names).toEqual(['beforeFit', 'beforeEpoch', ...BATCH, 'afterCancelFit', 'afterFit']);
      expect(history.stopReason).toBe('cancelled by plugin "canceller" in afterBatch: enough');
      expect(history.epochs).toEqual([]);
      expect(history.steps.map((s) => s.step)).toEqual([0]);
    });
  });

  it('a real error still runs afterFit, then rejects naming the plugin and event', async () => {
    await expectNoLeak(async () => {
      const { names, history, error } = await traceWith({
        afterStep() {
          throw new Error('kaboom');
        },
      });
      expect(error).toBeInstanceOf(PluginHookError);
      expect((error as Error).message).toBe('plugin "canceller" threw in afterStep: kaboom');
      expect(names.slice(-2)).toEqual(['afterStep', 'afterFit']);
      expect(history.stopReason).toBe('error: plugin "canceller" threw in afterStep: kaboom');
    });
  });

  it('refuses a signal thrown where its level cannot be cancelled', async () => {
    await expectNoLeak(async () => {
      const late = await traceWith({
        afterBatch() {
          throw new CancelBatch();
        },
      });
      expect((late.error as Error).message).toBe(
        'plugin "canceller" threw CancelBatch in afterBatch, where no batch can be cancelled; ' +
          'throw it between beforeBatch and the work before afterBatch, or throw a signal of an outer level'
      );
      const early = await traceWith({
        afterBackward() {
          throw new CancelStep();
        },
      });
      expect((early.error as Error).message).toMatch(
        /threw CancelStep in afterBackward, where no step can be cancelled/
      );
    });
  });

  it('refuses an asynchronous afterPred hook', async () => {
    await expectNoLeak(async () => {
      const { error } = await traceWith({ afterPred: (async () => undefined) as unknown as () => void });
      expect((error as Error).message).toMatch(/afterPred hooks run inside the gradient tape and must be synchronous/);
    });
  });
});
