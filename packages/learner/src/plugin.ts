import { isPluginEvent, PLUGIN_EVENTS, type PluginEvent } from './events.js';
import type { Plugin, PluginHooks, WriteTarget } from './loop-types.js';

export type { Plugin, PluginHooks, WriteTarget } from './loop-types.js';

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

/**
 * Thrown in checked mode (`new Learner({ checkWrites: true })`) when a plugin changed something it did not declare
 * in `writes` — today, an optimizer hyperparameter (`ctx.hypers.learningRate = …` or `ctx.optimizer.setHyper`)
 * without `'hyper.<name>'` — which would slip past the write-conflict check.
 */
export class UndeclaredWriteError extends Error {
  /** The plugin that wrote. */
  readonly plugin: string;
  /** The event whose hook wrote. */
  readonly event: string;
  /** The undeclared write target, e.g. `'hyper.learningRate'`. */
  readonly target: WriteTarget;

  constructor(plugin: string, event: string, target: WriteTarget, before: number, after: number) {
    super(
      `plugin "${plugin}" changed ${target} in ${event} (${before} → ${after}) without declaring it; add ` +
        `'${target}' to the plugin's writes so that a conflict with another writer is caught before training`
    );
    this.name = 'UndeclaredWriteError';
    this.plugin = plugin;
    this.event = event;
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
