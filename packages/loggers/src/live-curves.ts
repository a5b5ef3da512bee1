import type { LoopContext, Plugin } from '@convkit/learner';
import { display, learningCurves, type DisplayTarget, type LearningCurvesOptions } from '@convkit/plot';

/** Options of {@link liveLearningCurves}. */
export interface LiveLearningCurvesOptions {
  /**
   * Where to draw: a function that makes a display updated in place, called once per fit (tslab's
   * `newDisplay`: `import * as tslab from 'tslab'`), or one such display. tslab's plain `display` object would
   * add a new image each time instead of replacing it.
   */
  readonly target: DisplayTarget | (() => DisplayTarget);
  /** Redraw every this many epochs (and always after the last). Defaults to 1. */
  readonly every?: number;
  /** 'png' or 'svg'. Defaults to 'png' (kept by every notebook viewer). */
  readonly format?: 'png' | 'svg';
  /** The PNG scale. Defaults to 1. */
  readonly scale?: number;
  /** Passed to `learningCurves` (`metrics`, `title`, `width`, `height`, `logScale`). Defaults to none. */
  readonly curves?: LearningCurvesOptions;
}

/**
 * A plugin that draws the learning curves in a notebook while `fit` runs and redraws them in place after each
 * epoch, as fastai's `ShowGraphCallback` does: one chart per fit that grows, not one image per epoch.
 *
 * Why: a curve seen during training (validation loss turning up, a plateau) is what makes you stop or change a
 * run early; a PNG at the end comes too late.
 *
 * How: tslab's `newDisplay()` gives a display with a Jupyter `display_id`; each draw after the first sends
 * `update_display_data`, which replaces the image in the same output area (no clear-output is needed, and tslab
 * has none). The saved notebook keeps the last image.
 *
 * @param options - `target` (required: `tslab.newDisplay` or a display), `every` (epochs, defaults to 1),
 *   `format` (defaults to 'png'), `scale` (defaults to 1), `curves` (the chart's options).
 *
 * @example
 * ```ts
 * import * as tslab from 'tslab';
 * import { liveLearningCurves } from '@convkit/loggers';
 * const plugins = [liveLearningCurves({ target: tslab.newDisplay })];
 * ```
 */
export function liveLearningCurves(options: LiveLearningCurvesOptions): Plugin {
  const { target, every = 1, format = 'png', scale = 1, curves = {} } = options ?? ({} as LiveLearningCurvesOptions);
  const isDisplay = (value: unknown): value is DisplayTarget =>
    typeof value === 'object' && value !== null && (typeof (value as DisplayTarget).png === 'function' || typeof (value as DisplayTarget).svg === 'function');
  if (typeof target !== 'function' && !isDisplay(target)) {
    throw new Error(`target must be tslab.newDisplay or a display with png() or svg() (received ${target === null ? 'null' : typeof target})`);
  }
  if (!Number.isInteger(every) || every < 1) throw new Error(`every must be a positive integer (received ${JSON.stringify(every)})`);
  let shown: DisplayTarget | undefined;
  let drawnEpochs = 0;
  const draw = async (ctx: LoopContext): Promise<void> => {
    if (ctx.history.epochs.length === 0 || ctx.history.epochs.length === drawnEpochs) return;
    drawnEpochs = ctx.history.epochs.length;
    if (shown === undefined) {
      const made = typeof target === 'function' ? target() : target;
      if (!isDisplay(made)) throw new Error(`target() must return a display with png() or svg() (received ${typeof made})`);
      shown = made;
    }
    await display(learningCurves(ctx.history, curves), shown, { format, scale });
  };
  return {
    name: 'liveLearningCurves',
    order: 90,
    beforeFit() {
      shown = undefined;
      drawnEpochs = 0;
    },
    async afterEpoch(ctx) {
      if ((ctx.epoch + 1) % every === 0) await draw(ctx);
    },
    async afterFit(ctx) {
      await draw(ctx);
    },
  };
}
