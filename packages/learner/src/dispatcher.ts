import * as tf from '@tensorflow/tfjs';
import type { LoopContext } from './context.js';
import { LOOP_EVENTS, CANCEL_EVENTS, type PluginEvent, type SyncEvent } from './events.js';
import type { LeakGuard } from './leak-guard.js';
import type { Plugin } from './plugin.js';
import { CancelSignal, LEVEL_EVENTS, type CancelLevel, type EventRuntime } from './signals.js';

/** Wraps an error thrown by a hook, naming the plugin and event; the original is the `cause`. */
export class PluginHookError extends Error {
  /** The plugin whose hook threw. */
  readonly plugin: string;
  /** The event. */
  readonly event: string;

  constructor(plugin: string, event: string, cause: unknown) {
    super(`plugin "${plugin}" threw in ${event}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PluginHookError';
    this.plugin = plugin;
    this.event = event;
  }
}

type Settle = (plugin: Plugin) => void;

/**
 * Calls the plugins' hooks. Each event's hook list is built once (only plugins that define the hook), so an
 * event nobody hooks costs one map lookup. Cancel signals are checked against the running levels, errors are
 * wrapped with the plugin's name, and with a leak guard each hook's tensor change is recorded.
 */
export class Dispatcher implements EventRuntime {
  readonly activeLevels: Set<CancelLevel> = new Set();
  private readonly lists = new Map<PluginEvent, Plugin[]>();

  constructor(
    plugins: readonly Plugin[],
    private readonly ctx: LoopContext,
    private readonly leakGuard: LeakGuard | undefined
  ) {
    for (const event of [...LOOP_EVENTS, ...CANCEL_EVENTS]) {
      const hooked = plugins.filter((p) => typeof p[event] === 'function');
      if (hooked.length > 0) this.lists.set(event, hooked);
    }
  }

  /** The plugins hooking `event`, in call order. */
  pluginsFor(event: PluginEvent): readonly Plugin[] {
    return this.lists.get(event) ?? [];
  }

  /** Runs `event`'s hooks in order, awaiting each; `settle` runs after each hook (ownership bookkeeping). */
  async fire(event: PluginEvent, settle?: Settle): Promise<void> {
    const list = this.lists.get(event);
    if (list === undefined) return;
    for (const p of list) {
      const before = this.leakGuard ? tf.memory().numTensors : 0;
      try {
        await (p[event] as (ctx: LoopContext) => unknown).call(p, this.ctx);
      } catch (error) {
        throw this.translate(error, p, event);
      } finally {
        settle?.(p);
      }
      this.leakGuard?.record(p.name, event, tf.memory().numTensors - before);
    }
  }

  /** Runs a synchronous event's hooks (inside the gradient tape); a hook that returns a promise is an error. */
  fireSync(event: SyncEvent, settle?: Settle): void {
    const list = this.lists.get(event);
    if (list === undefined) return;
    for (const p of list) {
      let result: unknown;
      try {
        result = (p[event] as (ctx: LoopContext) => unknown).call(p, this.ctx);
      } catch (error) {
        throw this.translate(error, p, event);
      } finally {
        settle?.(p);
      }
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
        throw new Error(
          `plugin "${p.name}": ${event} hooks run inside the gradient tape and must be synchronous ` +
            '(the hook returned a promise); move async work to afterBackward or later'
        );
      }
    }
  }

  private translate(error: unknown, p: Plugin, event: PluginEvent): unknown {
    if (error instanceof CancelSignal) {
      error.plugin ??= p.name;
      error.event ??= event;
      if (!this.activeLevels.has(error.level)) {
        const { before, after } = LEVEL_EVENTS[error.level];
        return new Error(
          `plugin "${p.name}" threw ${error.name} in ${event}, where no ${error.level} can be cancelled; ` +
            `throw it between ${before} and the work before ${after}, or throw a signal of an outer level`,
          { cause: error }
        );
      }
      return error;
    }
    return new PluginHookError(p.name, event, error);
  }
}
