/**
 * The loop's events, in the order a fit fires them, as data.
 *
 * Everything that needs the event list — the {@link Plugin} type, the dispatcher, `learner.describeLoop()` and the
 * README tables — derives from this tuple, so a misspelt hook name is a type error rather than a silent no-op
 * (fastai's `_events` idea). The nesting is:
 *
 * ```text
 * beforeFit
 *   (beforeEpoch
 *     (beforeBatch → afterPred → afterLoss → afterBackward → beforeStep → afterStep → afterBatch)*
 *     beforeValidate → afterValidate
 *   afterEpoch)*
 * afterFit
 * ```
 *
 * @example
 * ```ts
 * import { LOOP_EVENTS } from '@convkit/learner';
 * console.log(LOOP_EVENTS.join(' → '));
 * ```
 */
export const LOOP_EVENTS = [
  'beforeFit',
  'beforeEpoch',
  'beforeBatch',
  'afterPred',
  'afterLoss',
  'afterBackward',
  'beforeStep',
  'afterStep',
  'afterBatch',
  'beforeValidate',
  'afterValidate',
  'afterEpoch',
  'afterFit',
] as const;

/**
 * The events fired when a level is cancelled by its typed signal (see `CancelBatch` and friends), each just before
 * the level's own `after<Level>` event.
 *
 * @example
 * ```ts
 * import { CANCEL_EVENTS } from '@convkit/learner';
 * console.log(CANCEL_EVENTS); // ['afterCancelFit', 'afterCancelEpoch', …]
 * ```
 */
export const CANCEL_EVENTS = [
  'afterCancelFit',
  'afterCancelEpoch',
  'afterCancelBatch',
  'afterCancelStep',
  'afterCancelValidate',
] as const;

/** One of {@link LOOP_EVENTS}. */
export type LoopEvent = (typeof LOOP_EVENTS)[number];

/** One of {@link CANCEL_EVENTS}. */
export type CancelEvent = (typeof CANCEL_EVENTS)[number];

/** Every event a plugin can hook: the loop events and the cancel events. */
export type PluginEvent = LoopEvent | CancelEvent;

/**
 * The events whose hooks run inside the gradient tape (`tf.variableGrads`), and therefore must be synchronous:
 * tfjs records the forward pass only while the taped function runs, and an `await` would end it.
 *
 * @example
 * ```ts
 * import { SYNC_EVENTS } from '@convkit/learner';
 * console.log(SYNC_EVENTS); // ['afterPred', 'afterLoss']
 * ```
 */
export const SYNC_EVENTS = ['afterPred', 'afterLoss'] as const;

/** One of {@link SYNC_EVENTS}. */
export type SyncEvent = (typeof SYNC_EVENTS)[number];

/**
 * Every plugin event, loop events first, then cancel events.
 *
 * @example
 * ```ts
 * import { PLUGIN_EVENTS } from '@convkit/learner';
 * console.log(PLUGIN_EVENTS.length); // 18
 * ```
 */
export const PLUGIN_EVENTS: readonly PluginEvent[] = [...LOOP_EVENTS, ...CANCEL_EVENTS];

/** Whether `name` is an event a plugin can hook. */
export function isPluginEvent(name: string): name is PluginEvent {
  return (PLUGIN_EVENTS as readonly string[]).includes(name);
}
