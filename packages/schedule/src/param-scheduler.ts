import type { LoopContext, Plugin, WriteTarget } from '@convkit/learner';
import { hyperWriter, type HyperWriter } from './hyper-writer.js';
import { resolveParamTarget } from './schedulable.js';
import type { Schedule } from './schedules.js';
import type { IndexSchedule } from './step-schedules.js';
import { assertFinite, assertFunction, assertOneOf, assertPositiveInteger, describe } from './validate.js';

/** What one schedule index counts: optimizer steps of the fit, or its epochs. */
export type ScheduleUnit = 'step' | 'epoch';
/** What a schedule function receives: progress in [0, 1), or the 0-based index of the step/epoch. */
export type ScheduleInput = 'progress' | 'index';

/** Options of {@link paramScheduler}. */
export interface ParamSchedulerOptions {
  /** `'step'`: a new value before every optimizer step; `'epoch'`: one value per epoch. Defaults to `'step'`. */
  unit?: ScheduleUnit;
  /**
   * `'progress'`: the functions are {@link Schedule}s of `index / total` (total = steps or epochs of the fit);
   * `'index'`: they are {@link IndexSchedule}s of the 0-based step or epoch index of the fit (torch style).
   * Defaults to `'progress'`.
   */
  input?: ScheduleInput;
  /** Steps of the fit, when the training source has no `length` (unit `'step'`, input `'progress'`). Defaults to epochs × batches per epoch. */
  totalSteps?: number;
  /** Plugins searched for `param.*` targets besides the learner's own (e.g. plugins passed to one `fit`). Defaults to none. */
  plugins?: readonly Plugin[];
  /** The plugin name. Defaults to `'paramScheduler'`. */
  name?: string;
  /** The plugin order. Defaults to 10 (before monitors at 50). */
  order?: number;
  /** Settles a write shared with another plugin (the higher priority wins). Defaults to none. */
  priority?: number;
}

/** The values a scheduler wrote at one step (or epoch), keyed as in its schedules. */
export interface ScheduledValues {
  /** The learner's step count when the values were written. */
  step: number;
  /** The 0-based epoch of the fit. */
  epoch: number;
  /** The values written. */
  values: Record<string, number>;
}

/** A scheduler plugin with the values it wrote in the current (or last) fit. */
export interface ParamSchedulerPlugin extends Plugin {
  /** One entry per step (unit `'step'`) or epoch (unit `'epoch'`); cleared in `beforeFit`. */
  readonly recorded: readonly ScheduledValues[];
}

/** The internal description of a scheduler: factories resolve their schedules once the fit is known. */
export interface SchedulerSpec {
  name: string;
  order: number;
  priority?: number;
  unit: ScheduleUnit;
  /** Keys of the schedules: a hyperparameter name, `hyper.<name>` or `param.<plugin>.<name>`. */
  keys: readonly string[];
  plugins: readonly Plugin[];
  /** Builds the index schedules at `beforeFit`; `total` is the fit's steps (or epochs), when known. */
  resolve(ctx: LoopContext, total: number | undefined): Record<string, IndexSchedule>;
}

const KEY = /^(hyper\.[A-Za-z_$][\w$]*|param\.[\w$.-]+\.[\w$-]+|[A-Za-z_$][\w$]*)$/;

/** `learningRate` → `hyper.learningRate`; other keys unchanged. Throws for a malformed key. */
export function writeTargetOf(key: string): WriteTarget {
  if (typeof key !== 'string' || !KEY.test(key)) {
    throw new Error(
      `schedule key must be a hyperparameter name, "hyper.<name>" or "param.<plugin>.<name>" (received ${describe(key)})`
    );
  }
  return (key.startsWith('hyper.') || key.startsWith('param.') ? key : `hyper.${key}`) as WriteTarget;
}

type Writer = (value: number) => void;

/** Builds the plugin for a {@link SchedulerSpec}: the one place schedules are applied. */
export function createScheduler(spec: SchedulerSpec): ParamSchedulerPlugin {
  const targets = spec.keys.map(writeTargetOf);
  let recorded: ScheduledValues[] = [];
  let schedules: Record<string, IndexSchedule> = {};
  let writers: Record<string, Writer> = {};
  let lastIndex = -1;
  const makeWriter = (ctx: LoopContext, key: string, target: WriteTarget): Writer => {
    if (target.startsWith('param.')) {
      const { plugin, param } = resolveParamTarget(target, [...ctx.learner.plugins, ...spec.plugins]);
      return (value) => {
        plugin.params[param] = value;
      };
    }
    const hyper = target.slice('hyper.'.length);
    const writer: HyperWriter = hyperWriter(ctx.optimizer, hyper);
    return (value) => {
      if (value < 0) {
        throw new Error(`the schedule of ${key} must give values >= 0 (received ${value} at index ${lastIndex})`);
      }
      writer.write(value);
    };
  };
  const scheduler: ParamSchedulerPlugin = {
    name: spec.name,
    order: spec.order,
    writes: targets,
    ...(spec.priority === undefined ? {} : { priority: spec.priority }),
    get recorded() {
      return recorded;
    },
    beforeFit(ctx) {
      recorded = [];
      lastIndex = -1;
      const total = spec.unit === 'epoch' ? ctx.epochs : ctx.batchesPerEpoch === undefined ? undefined : ctx.epochs * ctx.batchesPerEpoch;
      schedules = spec.resolve(ctx, total);
      writers = Object.fromEntries(spec.keys.map((key, i) => [key, makeWriter(ctx, key, targets[i]!)]));
    },
    beforeBatch(ctx) {
      const index = spec.unit === 'epoch' ? ctx.epoch : ctx.fitStep;
      if (spec.unit === 'epoch' && index === lastIndex) return;
      lastIndex = index;
      const values: Record<string, number> = {};
      for (const key of spec.keys) {
        const value = schedules[key]!(index);
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          throw new Error(`the schedule of ${key} must give finite numbers (received ${describe(value)} at index ${index})`);
        }
        writers[key]!(value);
        values[key] = value;
      }
      recorded.push({ step: ctx.step, epoch: ctx.epoch, values });
    },
  };
  return scheduler;
}

/** Validates the common options and fills the defaults. */
export function schedulerBase(
  options: ParamSchedulerOptions,
  defaultName: string
): Omit<SchedulerSpec, 'keys' | 'resolve'> & { input: ScheduleInput; totalSteps: number | undefined } {
  if (typeof options !== 'object' || options === null) {
    throw new Error(`options must be an object (received ${describe(options)})`);
  }
  const { unit = 'step', input = 'progress', totalSteps, plugins = [], name = defaultName, order = 10, priority } = options;
  assertOneOf('unit', unit, ['step', 'epoch']);
  assertOneOf('input', input, ['progress', 'index']);
  if (totalSteps !== undefined) assertPositiveInteger('totalSteps', totalSteps);
  assertFinite('order', order);
  if (priority !== undefined) assertFinite('priority', priority);
  if (!Array.isArray(plugins)) throw new Error(`plugins must be an array of plugins (received ${describe(plugins)})`);
  if (typeof name !== 'string' || name === '') throw new Error(`name must be a non-empty string (received ${describe(name)})`);
  return { name, order, unit, plugins, input, totalSteps, ...(priority === undefined ? {} : { priority }) };
}

/** The fit length for a progress schedule, or an error saying how to give it. */
export function requireTotal(total: number | undefined, name: string): number {
  if (total === undefined) {
    throw new Error(
      `${name} needs the number of steps of the fit: give the training source a \`length\`, pass totalSteps, or use unit 'epoch'`
    );
  }
  return total;
}

/**
 * Applies schedules to any numeric parameter before each optimizer step (or epoch), and records the values: the
 * one scheduling plugin (fastai `ParamScheduler`); `oneCycle`, `cyclicLR`, `stepLR` and the other factories are
 * built on it.
 *
 * Why: any hyperparameter of the optimizer (`learningRate`, `momentum`, `beta1`, `weightDecay`, …) and any
 * parameter a plugin exposes as `params` (augmentation strength, mixup alpha, …) follows a schedule the same way.
 *
 * Keys: a hyperparameter name (`learningRate`, same as `hyper.learningRate`) or `param.<plugin>.<name>` for a
 * {@link SchedulablePlugin} among the learner's plugins (or `options.plugins`). The plugin declares each key as a
 * write target, so a second writer is refused before training. With parameter groups, every group follows a
 * hyperparameter schedule in proportion to its value at `beforeFit` (discriminative rates survive).
 *
 * Each step the scheduler computes, for the fit's step index t (unit `'step'`, T = steps of the fit) or epoch
 * index e (unit `'epoch'`, T = epochs): `value = schedule(t / T)` (input `'progress'`) or `schedule(t)` (input
 * `'index'`), and writes it in `beforeBatch`, so the step uses it (`history.steps[i].hypers` shows it). The values
 * are kept in `plugin.recorded`; the state resets in `beforeFit`.
 *
 * @param schedules - Schedule functions by key.
 * @param options - `unit` (defaults to `'step'`), `input` (defaults to `'progress'`), `totalSteps`, `plugins`,
 *   `name` (defaults to `'paramScheduler'`), `order` (defaults to 10), `priority`.
 * @returns A plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { paramScheduler, cosine, linear, combineSchedules } from '@convkit/schedule';
 * const scheduler = paramScheduler({
 *   learningRate: combineSchedules([0.1, 0.9], [linear(1e-4, 0.1), cosine(0.1, 1e-5)]),
 *   'param.augment.strength': linear(0, 1),
 * });
 * // new Learner({ …, plugins: [augmentPlugin, scheduler] })
 * ```
 */
export function paramScheduler(
  schedules: Record<string, Schedule | IndexSchedule>,
  options: ParamSchedulerOptions = {}
): ParamSchedulerPlugin {
  if (typeof schedules !== 'object' || schedules === null || Object.keys(schedules).length === 0) {
    throw new Error(`schedules must be a non-empty object of schedule functions by key (received ${describe(schedules)})`);
  }
  const base = schedulerBase(options, 'paramScheduler');
  const keys = Object.keys(schedules);
  for (const key of keys) {
    writeTargetOf(key);
    assertFunction(`schedules[${JSON.stringify(key)}]`, schedules[key]);
  }
  return createScheduler({
    ...base,
    keys,
    resolve: (_ctx, fitTotal) => {
      if (base.input === 'index') return { ...schedules };
      const total = base.unit === 'step' && base.totalSteps !== undefined ? base.totalSteps : requireTotal(fitTotal, base.name);
      return Object.fromEntries(keys.map((key) => [key, (index: number) => schedules[key]!(index / total)]));
    },
  });
}
