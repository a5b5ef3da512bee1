import type { LoopContext } from './context.js';
import { isPluginEvent, PLUGIN_EVENTS, type PluginEvent } from './events.js';

/**
 * What a plugin may change, declared so that two plugins fighting over one thing are caught before training:
 * `'batch'` (beforeBatch), `'pred'` (afterPred), `'loss'` (afterLoss), `'grads'` (afterBackward),
 * `` `hyper.${name}` `` (an optimizer hyperparameter such as `hyper.learningRate`) and `` `param.${name}` `` (a
 * schedulable parameter in a plugin's own namespace, e.g. `param.augment.strength`).
 */
export type WriteTarget = 'batch' | 'pred' | 'loss' | 'grads' | `hyper.${string}` | `param.${string}`;

/**
 * The hooks of a plugin, one optional function per event of {@link PLUGIN_EVENTS}.
 *
 * `afterPred` and `afterLoss` are synchronous on purpose: they run inside the gradient tape (`tf.variableGrads`),
 * which records only while the taped function runs, so an `await` would cut the recording and the loss would
 * lose its gradient. Every other hook may return a promise, which the loop awaits.
 */
export interface PluginHooks {
  /** Once, before the first epoch. Plugins reset their own state here; may set `ctx.hypers`. */
  beforeFit?(ctx: LoopContext): void | Promise<void>;
  /** Before each epoch's first batch; may set `ctx.hypers`. */
  beforeEpoch?(ctx: LoopContext): void | Promise<void>;
  /** With `ctx.batch` from the training source; may replace it (write target `'batch'`): the replaced tensors are disposed unless reused. */
  beforeBatch?(ctx: LoopContext): void | Promise<void>;
  /** After the forward pass, inside the gradient tape, so synchronous; may replace `ctx.pred` (`'pred'`). */
  afterPred?(ctx: LoopContext): void;
  /** After the loss, inside the gradient tape, so synchronous; may replace `ctx.loss` (`'loss'`), e.g. to scale or regularise it. */
  afterLoss?(ctx: LoopContext): void;
  /** With `ctx.grads` (`{ variable, gradient }[]`); may replace or drop gradients (`'grads'`), which the learner then disposes. */
  afterBackward?(ctx: LoopContext): void | Promise<void>;
  /** Just before `optimizer.applyGradients`; hyperparameters set here (`'hyper.<name>'`) are used by this very step. Throw `CancelStep` to skip it. */
  beforeStep?(ctx: LoopContext): void | Promise<void>;
  /** After the optimizer update. */
  afterStep?(ctx: LoopContext): void | Promise<void>;
  /** After each batch, also a cancelled one; `await ctx.lossValue()` reads this batch's loss. */
  afterBatch?(ctx: LoopContext): void | Promise<void>;
  /** After the training phase, with `ctx.lastMetrics.train` set and `ctx.training` false. */
  beforeValidate?(ctx: LoopContext): void | Promise<void>;
  /** With `ctx.lastMetrics.valid` set. */
  afterValidate?(ctx: LoopContext): void | Promise<void>;
  /** After the epoch is recorded in `ctx.history.epochs`; may set `ctx.hypers`, or throw `CancelFit` to stop early. */
  afterEpoch?(ctx: LoopContext): void | Promise<void>;
  /** Always, also after a cancel or an error; free long-lived tensors here. */
  afterFit?(ctx: LoopContext): void | Promise<void>;
  /** When the fit was cancelled by `CancelFit`, just before `afterFit`. */
  afterCancelFit?(ctx: LoopContext): void | Promise<void>;
  /** When an epoch was cancelled by `CancelEpoch`, just before `afterEpoch`. */
  afterCancelEpoch?(ctx: LoopContext): void | Promise<void>;
  /** When a batch was cancelled by `CancelBatch`, just before `afterBatch`. */
  afterCancelBatch?(ctx: LoopContext): void | Promise<void>;
  /** When a step was cancelled by `CancelStep`, just before `afterStep`. */
  afterCancelStep?(ctx: LoopContext): void | Promise<void>;
  /** When the validation was cancelled by `CancelValidate`, just before `afterValidate`. */
  afterCancelValidate?(ctx: LoopContext): void | Promise<void>;
}

/** Compile-time proof that {@link PluginHooks} has exactly one hook per {@link PluginEvent}, no more, no less. */
type HooksMatchEvents = [keyof PluginHooks] extends [PluginEvent]
  ? [PluginEvent] extends [keyof PluginHooks]
    ? true
    : never
  : never;
const hooksMatchEvents: HooksMatchEvents = true;
void hooksMatchEvents;

/**
 * A plugin: a plain object with a name, optional ordering and write declarations, optional state for
 * checkpoints, and optional hooks (see {@link PluginHooks}). No base class; factories return plugins.
 *
 * - `order`: plugins run in a stable sort by `order`, lower first. Defaults to 0. The README has the table of the
 *   built-in plugins' orders.
 * - `writes`: what the plugin changes (see {@link WriteTarget}). `fit` refuses two plugins that write the same
 *   target unless both give distinct `priority` values. Defaults to none.
 * - `priority`: settles a shared write target: the higher-priority plugin's hooks run after the other's in every
 *   event they share, so its value wins — even where `order` says otherwise (for that pair only).
 * - `getState`/`setState`: JSON-serialisable state for checkpoints and resume. `learner.saveCheckpoint` (and the
 *   `checkpoint` plugin) stores each plugin's `getState()` under its name; `fit(epochs, { resume })` calls
 *   `setState(saved)` after `beforeFit` (so the plugin first resets itself, then takes the saved state). A plugin
 *   that draws random numbers or counts anything across batches must keep that here (e.g. its `Rng` state), or a
 *   resumed run will differ from an uninterrupted one.
 *
 * A plugin resets its own state in `beforeFit`, so one object can serve several fits.
 *
 * @example
 * ```ts
 * import type { Plugin } from '@convkit/learner';
 * const halveEveryEpoch: Plugin = {
 *   name: 'halveEveryEpoch',
 *   order: 10,
 *   writes: ['hyper.learningRate'],
 *   afterEpoch(ctx) { ctx.hypers.learningRate = ctx.hypers.learningRate / 2; },
 * };
 * ```
 */
export interface Plugin extends PluginHooks {
  /** Unique among the learner's plugins; used in messages and `describeLoop()`. */
  readonly name: string;
  /** Position in each event's hook list, lower first. Defaults to 0. */
  readonly order?: number;
  /** What the plugin changes. Defaults to none. */
  readonly writes?: readonly WriteTarget[];
  /** Settles shared write targets: the higher priority runs last and wins. */
  readonly priority?: number;
  /** Returns the plugin's JSON-serialisable state (saved in checkpoints under the plugin's name). */
  getState?(): unknown;
  /** Restores a state returned by `getState` (called on resume, after `beforeFit`); throws on a state it cannot take. */
  setState?(state: unknown): void;
}

/** The non-hook fields accepted by {@link plugin}. */
export interface PluginOptions {
  /** Defaults to 0. */
  order?: number;
  /** Defaults to none. */
  writes?: readonly WriteTarget[];
  /** Defaults to none. */
  priority?: number;
}

/**
 * Builds a plugin from plain functions, like fastai's `Callback(before_batch=f)`, checking the hook names.
 *
 * @param name - The plugin's name.
 * @param hooks - Hook functions keyed by event name; an unknown key is an error that lists the events.
 * @param options - `order`, `writes` and `priority` (see {@link Plugin}).
 * @returns A new plugin object.
 *
 * @example
 * ```ts
 * import { plugin } from '@convkit/learner';
 * const logger = plugin('logger', { afterEpoch(ctx) { console.log(ctx.epoch, ctx.lastMetrics.train.loss); } }, { order: 90 });
 * ```
 */
export function plugin(name: string, hooks: PluginHooks, options: PluginOptions = {}): Plugin {
  for (const key of Object.keys(hooks)) {
    if (!isPluginEvent(key)) {
      throw new Error(`hooks has an unknown event "${key}" (expected one of: ${PLUGIN_EVENTS.join(', ')})`);
    }
  }
  const built: Plugin = { ...hooks, name, ...options };
  validatePlugin(built);
  return built;
}

const PLUGIN_FIELDS = new Set(['name', 'order', 'writes', 'priority', 'getState', 'setState']);
const WRITE_TARGET = /^(batch|pred|loss|grads|hyper\.[A-Za-z_$][\w$]*|param\.[\w$.-]+)$/;

/** Checks a plugin's shape and throws an error naming the plugin and the bad field. */
export function validatePlugin(candidate: Plugin): void {
  if (typeof candidate !== 'object' || candidate === null) {
    throw new Error(`plugin must be an object with a name (received ${String(candidate)})`);
  }
  if (typeof candidate.name !== 'string' || candidate.name === '') {
    throw new Error(`plugin.name must be a non-empty string (received ${JSON.stringify(candidate.name)})`);
  }
  const label = `plugin "${candidate.name}"`;
  if (candidate.order !== undefined && !Number.isFinite(candidate.order)) {
    throw new Error(`${label}: order must be a finite number (received ${String(candidate.order)})`);
  }
  if (candidate.priority !== undefined && !Number.isFinite(candidate.priority)) {
    throw new Error(`${label}: priority must be a finite number (received ${String(candidate.priority)})`);
  }
  if (candidate.writes !== undefined) {
    if (!Array.isArray(candidate.writes)) {
      throw new Error(`${label}: writes must be an array of write targets (received ${String(candidate.writes)})`);
    }
    for (const target of candidate.writes) {
      if (typeof target !== 'string' || !WRITE_TARGET.test(target)) {
        throw new Error(
          `${label}: writes has an invalid target ${JSON.stringify(target)} ` +
            '(expected "batch", "pred", "loss", "grads", "hyper.<name>" or "param.<name>")'
        );
      }
    }
  }
  for (const [key, value] of Object.entries(candidate)) {
    if (isPluginEvent(key)) {
      if (typeof value !== 'function' && value !== undefined) {
        throw new Error(`${label}: hook ${key} must be a function (received ${typeof value})`);
      }
    } else if (!PLUGIN_FIELDS.has(key) && /^(before|after)[A-Z]/.test(key)) {
      throw new Error(`${label} has an unknown event "${key}" (expected one of: ${PLUGIN_EVENTS.join(', ')})`);
    }
  }
}

/**
 * Thrown by `fit` before the first step when two plugins declare the same write target without distinct
 * priorities, or when the priorities cannot be satisfied together.
 */
export class PluginConflictError extends Error {
  /** The plugins involved. */
  readonly plugins: readonly string[];
  /** The contested write target, if one. */
  readonly target: string | undefined;

  constructor(message: string, plugins: readonly string[], target?: string) {
    super(message);
    this.name = 'PluginConflictError';
    this.plugins = plugins;
    this.target = target;
  }
}

interface PriorityEdge {
  readonly first: Plugin;
  readonly last: Plugin;
}

/**
 * Checks the plugins' declared writes: a `hyper.*` target must be one of the optimizer's hyperparameters, and two
 * plugins writing one target need distinct priorities. Returns the ordering constraints the priorities imply
 * (lower priority first).
 */
export function checkWrites(plugins: readonly Plugin[], hyperNames: readonly string[]): PriorityEdge[] {
  const writers = new Map<string, Plugin[]>();
  for (const candidate of plugins) {
    for (const target of new Set(candidate.writes ?? [])) {
      if (target.startsWith('hyper.') && !hyperNames.includes(target.slice('hyper.'.length))) {
        throw new Error(
          `plugin "${candidate.name}" writes "${target}", but the optimizer has no hyperparameter ` +
            `"${target.slice('hyper.'.length)}" (available: ${hyperNames.join(', ') || 'none'})`
        );
      }
      writers.set(target, [...(writers.get(target) ?? []), candidate]);
    }
  }
  const edges: PriorityEdge[] = [];
  for (const [target, group] of writers) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = group[i]!;
        const b = group[j]!;
        if (a.priority === undefined || b.priority === undefined || a.priority === b.priority) {
          throw new PluginConflictError(
            `plugins "${a.name}" and "${b.name}" both write "${target}"; give them distinct \`priority\` values ` +
              '(the higher one runs last and wins) or remove one',
            [a.name, b.name],
            target
          );
        }
        edges.push(a.priority < b.priority ? { first: a, last: b } : { first: b, last: a });
      }
    }
  }
  return edges;
}

/**
 * Orders plugins: a stable sort by `order`, except that for each priority edge the lower-priority plugin comes
 * before the higher-priority one. Deterministic (a topological sort that always takes the ready plugin with the
 * lowest `order`, then the earliest registered). Throws {@link PluginConflictError} if the priorities form a cycle.
 */
export function orderPlugins(plugins: readonly Plugin[], edges: readonly PriorityEdge[] = []): Plugin[] {
  const indegree = new Map<Plugin, number>(plugins.map((p) => [p, 0]));
  const successors = new Map<Plugin, Plugin[]>(plugins.map((p) => [p, []]));
  for (const { first, last } of edges) {
    successors.get(first)!.push(last);
    indegree.set(last, indegree.get(last)! + 1);
  }
  const rank = (p: Plugin): [number, number] => [p.order ?? 0, plugins.indexOf(p)];
  const ready = plugins.filter((p) => indegree.get(p) === 0);
  const result: Plugin[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => rank(a)[0] - rank(b)[0] || rank(a)[1] - rank(b)[1]);
    const next = ready.shift()!;
    result.push(next);
    for (const after of successors.get(next)!) {
      indegree.set(after, indegree.get(after)! - 1);
      if (indegree.get(after) === 0) ready.push(after);
    }
  }
  if (result.length < plugins.length) {
    const stuck = plugins.filter((p) => !result.includes(p)).map((p) => p.name);
    throw new PluginConflictError(
      `the priorities of plugins ${stuck.map((n) => `"${n}"`).join(', ')} contradict each other across their ` +
        'write targets (a cycle); give them consistent `priority` values',
      stuck
    );
  }
  return result;
}
