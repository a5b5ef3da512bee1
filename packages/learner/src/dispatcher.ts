import * as tf from '@tensorflow/tfjs';
import { readHypers, type LoopContext } from './context.js';
import { LOOP_EVENTS, CANCEL_EVENTS, type PluginEvent, type SyncEvent } from './events.js';
import type { LeakGuard } from './leak-guard.js';
import type { OptimizerLike } from './optimizer.js';
import { UndeclaredWriteError, type Plugin } from './plugin.js';
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

  /**
   * @param checked - In checked mode (`checkWrites`), the optimizer whose hyperparameters are compared before and
   *   after every hook: a change by a plugin that did not declare `hyper.<name>` throws {@link UndeclaredWriteError}.
   */
  constructor(
    plugins: readonly Plugin[],
    private readonly ctx: LoopContext,
    private readonly leakGuard: LeakGuard | undefined,
    private readonly checked: OptimizerLike | undefined = undefined
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
      const hypers = this.checked === undefined ? undefined : readHypers(this.checked);
      try {
        await (p[event] as (ctx: LoopContext) => unknown).call(p, this.ctx);
      } catch (error) {
        throw this.translate(error, p, event);
      } finally {
        settle?.(p);
      }
      this.leakGuard?.record(p.name, event, tf.memory().numTensors - before);
      if (hypers !== undefined) this.checkHypers(p, event, hypers);
    }
  }

  /** Checked mode: throws if `p` changed a hyperparameter it did not declare in `writes`. */
  private checkHypers(p: Plugin, event: PluginEvent, before: Record<string, number>): void {
    const after = readHypers(this.checked!);
    for (const [name, value] of Object.entries(before)) {
      const hyper = name.replace(/\/\d+$/, ''); // `learningRate/1` (group 1) is declared as `hyper.learningRate`
      if (Object.is(after[name], value) || (p.writes ?? []).includes(`hyper.${hyper}`)) continue;
      throw new UndeclaredWriteError(p.name, event, `hyper.${hyper}`, value, after[name]!);
    }
  }

  /** Runs a synchronous event's hooks (inside the gradient tape); a hook that returns a promise is an error. */
  fireSync(event: SyncEvent, settle?: Settle): void {
    const list = this.lists.get(event);
    if (list === undefined) return;
    for (const p of list) {
      const hypers = this.checked === undefined ? undefined : readHypers(this.checked);
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
      if (hypers !== undefined) this.checkHypers(p, event, hypers);
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
