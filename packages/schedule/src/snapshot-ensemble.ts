import * as tf from '@tensorflow/tfjs';
import { createScheduler, requireTotal, schedulerBase, type ParamSchedulerPlugin } from './param-scheduler.js';
import { rememberedRate } from './lr-schedulers.js';
import { cosine } from './schedules.js';
import { assertNonNegative, assertOneOf, assertPositiveInteger, describe } from './validate.js';
import { copyWeights, disposeWeights, restoreWeights } from './weights.js';
import type { LoopContext } from '@convkit/learner';

/** Options of {@link snapshotEnsemble}. */
export interface SnapshotEnsembleOptions {
  /** Cosine cycles in the fit; the fit's epochs must be a multiple. */
  cycles: number;
  /**
   * The rate at the start of each cycle: one number for every parameter group, or one per group. Defaults to each
   * group's own rate at the first fit.
   */
  maxLearningRate?: number | readonly number[];
  /** The rate at the end of each cycle. Defaults to 0. */
  minLearningRate?: number;
  /** What the model outputs: `'logits'` (softmax applied before averaging) or `'probabilities'`. Defaults to `'logits'`. */
  output?: 'logits' | 'probabilities';
  /** The plugin name. Defaults to `'snapshotEnsemble'`. */
  name?: string;
  /** The plugin order. Defaults to 10. */
  order?: number;
}

/** A snapshot-ensemble plugin: schedules the cycles, keeps the snapshots, predicts with their average. */
export interface SnapshotEnsemblePlugin extends ParamSchedulerPlugin {
  /** Snapshots taken in the current (or last) fit. */
  readonly snapshotCount: number;
  /**
   * The mean of the snapshots' softmax probabilities for `x` (each snapshot is loaded into the model in turn; the
   * model's weights are put back after). Returns a new tensor that the caller disposes; does not dispose `x`.
   */
  predict(x: tf.Tensor): Promise<tf.Tensor>;
  /** Disposes the snapshots. */
  dispose(): void;
  /** The snapshots' values (one list of `{ shape, values }` per snapshot), JSON-serialisable, for checkpoints. */
  getState(): SnapshotEnsembleState;
  /** Replaces the snapshots with those of a state from `getState` (a resumed fit calls it after `beforeFit`). */
  setState(state: unknown): void;
}

/** The checkpointed state of a {@link snapshotEnsemble} plugin: every snapshot's weights as plain numbers. */
export interface SnapshotEnsembleState {
  snapshots: { shape: number[]; values: number[] }[][];
}

/**
 * Snapshot ensembles (Huang et al. 2017, "Train 1, get M for free"): the fit is split into `cycles` cosine cycles,
 * `lr(t) = min + (max − min) · (1 + cos(π · (t mod L) / L)) / 2` with L = steps per cycle, and the weights are
 * copied at the end of each cycle (`afterEpoch`). `predict` averages the snapshots' softmax probabilities.
 *
 * Ownership: the snapshots are tensors owned by the plugin: a new fit replaces them (disposing the old ones), and
 * `dispose()` frees them.
 *
 * @param options - `cycles`; `maxLearningRate` (the optimizer's rate), `minLearningRate` (0), `output`
 *   (`'logits'`), `name`, `order` (10).
 * @returns A plugin with `predict` and `dispose`.
 *
 * @example
 * ```ts
 * import { snapshotEnsemble } from '@convkit/schedule';
 * const ensemble = snapshotEnsemble({ cycles: 3, maxLearningRate: 0.1 });
 * // await new Learner({ …, plugins: [ensemble] }).fit(15);
 * // const probabilities = await ensemble.predict(xTest); … probabilities.dispose(); ensemble.dispose();
 * ```
 */
export function snapshotEnsemble(options: SnapshotEnsembleOptions): SnapshotEnsemblePlugin {
  const { cycles, minLearningRate = 0, output = 'logits', name = 'snapshotEnsemble', order = 10 } = options;
  assertPositiveInteger('cycles', cycles);
  assertNonNegative('minLearningRate', minLearningRate);
  assertOneOf('output', output, ['logits', 'probabilities']);
  const base = rememberedRate(options.maxLearningRate, 'learningRate', 'maxLearningRate');
  let cycleEpochs = 1;
  let snapshots: tf.Tensor[][] = [];
  // Each snapshot's values, read once when it is taken (afterEpoch may await), so that getState needs no sync read.
  let saved: SnapshotEnsembleState['snapshots'] = [];
  let learner: LoopContext['learner'] | undefined;
  const scheduler = createScheduler({
    ...schedulerBase({ name, order }, 'snapshotEnsemble'),
    keys: ['learningRate'],
    resolve: (ctx, total) => {
      if (ctx.epochs % cycles !== 0) {
        throw new Error(`the fit's epochs must be a multiple of cycles (received ${ctx.epochs} epochs for ${describe(cycles)} cycles)`);
      }
      cycleEpochs = ctx.epochs / cycles;
      const length = requireTotal(total, name) / cycles;
      return {
        learningRate: base(ctx).map((rate) => {
          const curve = cosine(rate, minLearningRate);
          return (t: number) => curve((t % length) / length);
        }),
      };
    },
  });
  const dispose = (): void => {
    for (const snapshot of snapshots) disposeWeights(snapshot);
    snapshots = [];
    saved = [];
  };
  return {
    name: scheduler.name,
    order: scheduler.order!,
    writes: scheduler.writes!,
    get recorded() {
      return scheduler.recorded;
    },
    beforeFit(ctx) {
      dispose();
      learner = ctx.learner;
      scheduler.beforeFit!(ctx);
    },
    beforeBatch: (ctx) => scheduler.beforeBatch!(ctx),
    async afterEpoch(ctx) {
      if ((ctx.epoch + 1) % cycleEpochs !== 0) return;
      const snapshot = copyWeights(ctx.model);
      snapshots.push(snapshot);
      saved.push(await Promise.all(snapshot.map(async (t) => ({ shape: [...t.shape], values: Array.from(await t.data()) }))));
    },
    get snapshotCount() {
      return snapshots.length;
    },
    dispose,
    getState: () => ({ snapshots: structuredClone(saved) }),
    setState(state) {
      const given = (state as Partial<SnapshotEnsembleState> | null)?.snapshots;
      const valid = (w: { shape?: unknown; values?: unknown }): boolean =>
        Array.isArray(w?.shape) && Array.isArray(w.values) && w.values.length === (w.shape as number[]).reduce((a, b) => a * b, 1);
      if (!Array.isArray(given) || !given.every((s) => Array.isArray(s) && s.every(valid))) {
        throw new Error(`state must be { snapshots } from getState (received ${describe(state)})`);
      }
      dispose();
      saved = structuredClone(given);
      snapshots = given.map((snapshot) => snapshot.map((w) => tf.keep(tf.tensor(w.values, w.shape))));
    },
    async predict(x: tf.Tensor): Promise<tf.Tensor> {
      if (learner === undefined || snapshots.length === 0) throw new Error('snapshotEnsemble has no snapshots yet: fit first');
      const current = copyWeights(learner.model);
      let sum: tf.Tensor | undefined;
      try {
        for (const snapshot of snapshots) {
          restoreWeights(learner.model, snapshot);
          const out = await learner.predict(x);
          const probabilities = output === 'logits' ? tf.tidy(() => tf.softmax(out)) : out;
          if (output === 'logits') out.dispose();
          const next: tf.Tensor = sum === undefined ? probabilities : tf.tidy(() => tf.add(sum!, probabilities));
          if (sum !== undefined) {
            sum.dispose();
            probabilities.dispose();
          }
          sum = next;
        }
        const mean = tf.tidy(() => tf.div(sum!, snapshots.length));
        sum!.dispose();
        return mean;
      } finally {
        restoreWeights(learner.model, current);
        disposeWeights(current);
      }
    },
  };
}
