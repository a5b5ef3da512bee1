import { describe, expect, it } from 'vitest';
import {
  CancelBatch,
  CancelEpoch,
  CancelFit,
  CancelSignal,
  CancelStep,
  CancelValidate,
  withEvents,
  type CancelLevel,
  type EventRuntime,
} from './signals.js';

/** A runtime that logs events and throws `throwAt[event]` when that event fires. */
function fakeRuntime(throwAt: Record<string, unknown> = {}): EventRuntime & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    activeLevels: new Set<CancelLevel>(),
    fire: async (event) => {
      log.push(event);
      if (event in throwAt) throw throwAt[event];
    },
  };
}

describe('withEvents', () => {
  it('runs before, body and after; a matching signal runs afterCancel then after', async () => {
    const runtime = fakeRuntime();
    await withEvents('batch', () => void runtime.log.push('body'), runtime);
    await withEvents(
      'batch',
      () => {
        throw new CancelBatch();
      },
      runtime
    );
    expect(runtime.log).toEqual(['beforeBatch', 'body', 'afterBatch', 'beforeBatch', 'afterCancelBatch', 'afterBatch']);
  });

  it('lets an outer signal pass through inner levels to the level it names', async () => {
    const runtime = fakeRuntime({ afterStep: new CancelFit('stop') });
    await withEvents(
      'fit',
      () =>
        withEvents(
          'epoch',
          () => withEvents('batch', () => withEvents('step', () => undefined, runtime), runtime),
          runtime
        ),
      runtime
    );
    expect(runtime.log).toEqual([
      'beforeFit',
      'beforeEpoch',
      'beforeBatch',
      'beforeStep',
      'afterStep',
      'afterCancelFit',
      'afterFit',
    ]);
  });

  it('runs afterFit on errors, rethrows the original, and keeps it over an afterFit error', async () => {
    const runtime = fakeRuntime({ afterFit: new Error('afterFit failed') });
    const failure = new Error('body failed');
    await expect(
      withEvents(
        'fit',
        () => {
          throw failure;
        },
        runtime
      )
    ).rejects.toBe(failure);
    expect(runtime.log).toEqual(['beforeFit', 'afterFit']);
    await expect(withEvents('fit', () => undefined, runtime)).rejects.toThrow('afterFit failed');
  });

  it('skips after<Level> of inner levels on errors, and settles only on success or own cancel', async () => {
    const runtime = fakeRuntime();
    const settled: string[] = [];
    await expect(
      withEvents(
        'epoch',
        () => {
          throw new Error('x');
        },
        runtime,
        { settle: () => void settled.push('error') }
      )
    ).rejects.toThrow('x');
    await withEvents(
      'epoch',
      () => {
        throw new CancelEpoch();
      },
      runtime,
      { settle: () => void settled.push('cancel') }
    );
    expect(runtime.log).toEqual(['beforeEpoch', 'beforeEpoch', 'afterCancelEpoch', 'afterEpoch']);
    expect(settled).toEqual(['cancel']);
  });

  it('gives each signal its level and reason', () => {
    const signals = [
      new CancelBatch('a'),
      new CancelStep(),
      new CancelEpoch(),
      new CancelValidate(),
      new CancelFit('z'),
    ];
    expect(signals.map((s) => [s.name, s.level, s.reason, s instanceof CancelSignal && s instanceof Error])).toEqual([
      ['CancelBatch', 'batch', 'a', true],
      ['CancelStep', 'step', undefined, true],
      ['CancelEpoch', 'epoch', undefined, true],
      ['CancelValidate', 'validate', undefined, true],
      ['CancelFit', 'fit', 'z', true],
    ]);
  });
});
