import type { Plugin } from '@convkit/learner';
import { describe } from './validate.js';

/**
 * A plugin with parameters that other plugins may schedule: its numeric `params` (e.g. augmentation strength,
 * mixup alpha, a sampler's balance), read by the plugin at every use and written by a scheduler through the write
 * target `param.<plugin name>.<param name>`.
 *
 * Why a plain record: the plugin stays the only owner of its behaviour and reads `this.params.strength` when it
 * needs it; a scheduler only needs the name. The learner's write-conflict check covers `param.*` targets, so two
 * schedulers of one parameter are caught before training.
 *
 * @example
 * ```ts
 * import type { SchedulablePlugin } from '@convkit/schedule';
 * const noise: SchedulablePlugin = {
 *   name: 'noise',
 *   params: { strength: 0 },
 *   beforeBatch(ctx) { console.log('noise strength', this.params.strength); },
 * };
 * // paramScheduler({ 'param.noise.strength': linear(0, 0.5) }) raises it over the fit.
 * ```
 */
export interface SchedulablePlugin extends Plugin {
  /** The schedulable parameters, by name; schedulers overwrite the values. */
  readonly params: Record<string, number>;
}

/** A resolved `param.<plugin>.<name>` target. */
export interface ParamTarget {
  readonly plugin: SchedulablePlugin;
  readonly param: string;
}

/**
 * Finds the plugin and parameter a `param.<plugin>.<name>` target names among `plugins` (the plugin name may
 * contain dots; the last segment is the parameter). Throws an error naming the target and listing what exists.
 */
export function resolveParamTarget(target: string, plugins: readonly Plugin[]): ParamTarget {
  const path = target.slice('param.'.length);
  const dot = path.lastIndexOf('.');
  if (!target.startsWith('param.') || dot <= 0 || dot === path.length - 1) {
    throw new Error(`schedule target must look like "param.<plugin>.<name>" (received ${describe(target)})`);
  }
  const pluginName = path.slice(0, dot);
  const param = path.slice(dot + 1);
  const schedulable = plugins.filter(
    (p): p is SchedulablePlugin => typeof (p as Partial<SchedulablePlugin>).params === 'object' && (p as SchedulablePlugin).params !== null
  );
  const found = schedulable.find((p) => p.name === pluginName);
  if (found === undefined) {
    const available = schedulable.flatMap((p) => Object.keys(p.params).map((k) => `param.${p.name}.${k}`));
    throw new Error(
      `schedule target ${describe(target)} names no plugin with params "${pluginName}" ` +
        `(schedulable: ${available.join(', ') || 'none'})`
    );
  }
  if (typeof found.params[param] !== 'number') {
    throw new Error(
      `schedule target ${describe(target)}: plugin "${pluginName}" has no numeric param "${param}" ` +
        `(params: ${Object.keys(found.params).join(', ') || 'none'})`
    );
  }
  return { plugin: found, param };
}
