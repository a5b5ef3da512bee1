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
  /** The values written: `key` (group 0's with one schedule per group), and `key/1`, `key/2`, … for the other groups. */
  values: Record<string, number>;
}

/** A scheduler plugin with the values it wrote in the current (or last) fit. */
export interface ParamSchedulerPlugin extends Plugin {
  /** One entry per step (unit `'step'`) or epoch (unit `'epoch'`); cleared in `beforeFit`. */
  readonly recorded: readonly ScheduledValues[];
}

/**
 * What a scheduler applies to one key: one schedule (the value every parameter group gets) or one schedule per
 * parameter group, in group order (torch's per-group `base_lrs`, fastai's `slice(lo, hi)`).
 */
export type GroupSchedules = IndexSchedule | readonly IndexSchedule[];

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
  resolve(ctx: LoopContext, total: number | undefined): Record<string, GroupSchedules>;
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

type Writer = (value: number | readonly number[]) => void;

/** Builds the plugin for a {@link SchedulerSpec}: the one place schedules are applied. */
export function createScheduler(spec: SchedulerSpec): ParamSchedulerPlugin {
  const targets = spec.keys.map(writeTargetOf);
  let recorded: ScheduledValues[] = [];
  let schedules: Record<string, GroupSchedules> = {};
  let writers: Record<string, Writer> = {};
  let lastIndex = -1;
  const makeWriter = (ctx: LoopContext, key: string, target: WriteTarget, schedule: GroupSchedules): Writer => {
    if (target.startsWith('param.')) {
      if (Array.isArray(schedule)) {
        throw new Error(`${key} is a plugin parameter: give it one schedule (received ${schedule.length}, one per group)`);
      }
      const { plugin, param } = resolveParamTarget(target, [...ctx.learner.plugins, ...spec.plugins]);
      return (value) => {
        plugin.params[param] = value as number;
      };
    }
    const writer: HyperWriter = hyperWriter(ctx.optimizer, target.slice('hyper.'.length));
    if (Array.isArray(schedule) && schedule.length !== writer.groupCount) {
      throw new Error(
        `${key} has ${schedule.length} schedules (one per group) but the optimizer has ${writer.groupCount} ` +
          `parameter group${writer.groupCount === 1 ? '' : 's'}`
      );
    }
    return (value) => {
      const values = typeof value === 'number' ? [value] : value;
      values.forEach((entry, group) => {
        if (entry < 0) {
          const label = typeof value === 'number' ? key : `${key}[${group}]`;
          throw new Error(`the schedule of ${label} must give values >= 0 (received ${entry} at index ${lastIndex})`);
        }
      });
      writer.write(value);
    };
  };
  const evaluate = (key: string, index: number): number | number[] => {
    const schedule = schedules[key]!;
    const check = (value: unknown, label: string): number => {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new Error(`the schedule of ${label} must give finite numbers (received ${describe(value)} at index ${index})`);
      }
      return value;
    };
    return Array.isArray(schedule)
      ? schedule.map((f: IndexSchedule, group) => check(f(index), `${key}[${group}]`))
      : check((schedule as IndexSchedule)(index), key);
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
      writers = Object.fromEntries(spec.keys.map((key, i) => [key, makeWriter(ctx, key, targets[i]!, schedules[key]!)]));
    },
    // Also before the epoch, so what a data source reads once per epoch when it starts (a sampler's balance) has
    // the epoch's value; the epoch's first beforeBatch then finds the value written.
    beforeEpoch(ctx) {
      scheduler.beforeBatch!(ctx);
    },
    beforeBatch(ctx) {
      const index = spec.unit === 'epoch' ? ctx.epoch : ctx.fitStep;
      if (index === lastIndex) return;
      lastIndex = index;
      const values: Record<string, number> = {};
      for (const key of spec.keys) {
        const value = evaluate(key, index);
        writers[key]!(value);
        if (typeof value === 'number') values[key] = value;
        else value.forEach((entry, group) => (values[group === 0 ? key : `${key}/${group}`] = entry));
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
 * write target, so a second writer is refused before training.
 *
 * Parameter groups (as fastai's `ParamScheduler`): one schedule writes its value into every group; an array of
 * schedules, one per group, gives each group its own curve (discriminative rates: `learningRate: [cosine(1e-4, 0),
 * cosine(1e-3, 0)]`). Values are absolute, never scaled from another group; for torch `LambdaLR`-style factors on
 * each group's own base rate use `lambdaLR`. `history.steps[i].hypers` records every group (`learningRate`
 * for group 0, `learningRate/1`, … for the others).
 *
 * Each step the scheduler computes, for the fit's step index t (unit `'step'`, T = steps of the fit) or epoch
 * index e (unit `'epoch'`, T = epochs): `value = schedule(t / T)` (input `'progress'`) or `schedule(t)` (input
 * `'index'`), and writes it in `beforeBatch`, so the step uses it (`history.steps[i].hypers` shows it). The values
 * are kept in `plugin.recorded`; the state resets in `beforeFit`.
 *
 * @param schedules - Schedule functions by key: one function, or one per parameter group.
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
  schedules: Record<string, Schedule | IndexSchedule | readonly (Schedule | IndexSchedule)[]>,
  options: ParamSchedulerOptions = {}
): ParamSchedulerPlugin {
  if (typeof schedules !== 'object' || schedules === null || Object.keys(schedules).length === 0) {
    throw new Error(`schedules must be a non-empty object of schedule functions by key (received ${describe(schedules)})`);
  }
  const base = schedulerBase(options, 'paramScheduler');
  const keys = Object.keys(schedules);
  for (const key of keys) {
    writeTargetOf(key);
    const entry = schedules[key];
    const label = `schedules[${JSON.stringify(key)}]`;
    if (Array.isArray(entry)) {
      if (entry.length === 0) throw new Error(`${label} must be a schedule or a non-empty array of them, one per group (received [])`);
      entry.forEach((f, group) => assertFunction(`${label}[${group}]`, f));
    } else assertFunction(label, entry);
  }
  return createScheduler({
    ...base,
    keys,
    resolve: (_ctx, fitTotal) => {
      if (base.input === 'index') return { ...schedules } as Record<string, GroupSchedules>;
      const total = base.unit === 'step' && base.totalSteps !== undefined ? base.totalSteps : requireTotal(fitTotal, base.name);
      const atIndex = (f: Schedule) => (index: number) => f(index / total);
      return Object.fromEntries(
        keys.map((key) => {
          const entry = schedules[key]!;
          return [key, Array.isArray(entry) ? entry.map(atIndex) : atIndex(entry as Schedule)];
        })
      );
    },
  });
}
