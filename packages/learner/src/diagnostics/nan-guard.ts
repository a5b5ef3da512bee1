import * as tf from '@tensorflow/tfjs';
import type { LoopContext } from '../context.js';
import type { Plugin } from '../plugin.js';
import { CancelFit } from '../signals.js';
import { layerOutputs, variableLayers } from './layer-outputs.js';

/** Why {@link nanGuard} stopped a fit. */
export type NonFiniteKind = 'non-finite-input' | 'non-finite-loss' | 'non-finite-gradient';

/** What {@link nanGuard} found, also carried by the {@link NonFiniteError} it throws. */
export interface NonFiniteReport {
  /** The first thing found non-finite, in this order: the batch input, the loss, a gradient. */
  kind: NonFiniteKind;
  /** The step (`ctx.step`), epoch and batch index where it happened. */
  step: number;
  epoch: number;
  batch: number;
  /** The batch loss (NaN or ±Infinity when `kind` is `'non-finite-loss'`). */
  loss: number;
  /** The first layer, in model order, whose output on the batch (training mode) has a non-finite value; undefined if none (or a `FunctionModel`). */
  firstLayer: string | undefined;
  /** Names of the variables whose gradient has a non-finite value, in model order. */
  nonFiniteGradients: string[];
  /** The layer owning the first of `nonFiniteGradients`. */
  firstGradientLayer: string | undefined;
  /** One line for people. */
  message: string;
}

/** The `CancelFit` signal thrown by {@link nanGuard}: `history.stopReason` holds its message, `report` the details. */
export class NonFiniteError extends CancelFit {
  /** What was found. */
  readonly report: NonFiniteReport;

  constructor(report: NonFiniteReport) {
    super(report.message);
    this.name = 'NonFiniteError';
    this.report = report;
  }
}

/** Options of {@link nanGuard}. */
export interface NanGuardOptions {
  /** Check every this many steps (each check is one device read). Defaults to 1. */
  every?: number;
  /** Also check gradients (not only the loss). Defaults to true. */
  gradients?: boolean;
}

/** The plugin returned by {@link nanGuard}. */
export interface NanGuardPlugin extends Plugin {
  /** The report of the last stop, or undefined if the guard has not fired since `beforeFit`. */
  readonly report: NonFiniteReport | undefined;
}

function describe(report: Omit<NonFiniteReport, 'message'>): string {
  const what =
    report.kind === 'non-finite-input'
      ? 'the batch input has non-finite values'
      : report.kind === 'non-finite-loss'
        ? `the loss is ${report.loss}`
        : `gradients are non-finite (${report.nonFiniteGradients.join(', ')})`;
  const layer =
    report.firstLayer !== undefined
      ? `; first non-finite layer output: "${report.firstLayer}"`
      : report.firstGradientLayer !== undefined
        ? `; first non-finite gradient in layer "${report.firstGradientLayer}"`
        : '';
  return `${what} at step ${report.step} (epoch ${report.epoch}, batch ${report.batch})${layer}`;
}

async function firstNonFiniteLayer(ctx: LoopContext): Promise<string | undefined> {
  const outputs = layerOutputs(ctx.model, ctx.batch!.x, true);
  try {
    const flags = tf.tidy(() =>
      outputs.length === 0 ? tf.zeros([0]) : tf.stack(outputs.map(({ output }) => tf.all(tf.isFinite(output))))
    );
    const finite = await flags.data();
    flags.dispose();
    const index = Array.from(finite).findIndex((value) => value === 0);
    return index < 0 ? undefined : outputs[index]!.layer;
  } finally {
    tf.dispose(outputs.map(({ output }) => output));
  }
}

/**
 * A plugin that stops the fit as soon as the loss or a gradient is NaN or ±Infinity, and says where it started:
 * the first layer (in model order) whose output on the offending batch is non-finite — found by a diagnostic
 * forward pass layer by layer, in training mode — or else the variables whose gradients are non-finite.
 *
 * Why: a NaN spreads to every weight within a step, after which the run is wasted and the cause is hidden; E3.2's
 * regression net produced NaN from a bad initialisation behind batch norm. Stopping at once keeps the weights of the
 * last good step and names the culprit.
 *
 * It checks in `afterBackward` (order −100, before plugins that change gradients) with one device read per check,
 * then throws a {@link NonFiniteError} (a `CancelFit`): the step is not applied, the fit ends normally with
 * `history.stopReason` = `cancelled by plugin "nanGuard" in afterBackward: the loss is NaN at step …; first
 * non-finite layer output: "dense_Dense2"`, and `plugin.report` holds the typed {@link NonFiniteReport}.
 *
 * Options: `every` — check every N steps (defaults to 1); `gradients` — also check gradients (defaults to true).
 *
 * @example
 * ```ts
 * import { Learner, nanGuard } from '@convkit/learner';
 * const guard = nanGuard();
 * const history = await new Learner({ model, loss: 'meanSquaredError', optimizer, train, plugins: [guard] }).fit(10);
 * if (guard.report) console.log(guard.report.kind, guard.report.firstLayer);
 * ```
 */
export function nanGuard(options: NanGuardOptions = {}): NanGuardPlugin {
  const every = options.every ?? 1;
  if (!Number.isInteger(every) || every < 1) {
    throw new Error(`options.every must be a positive integer (received ${String(options.every)})`);
  }
  const checkGradients = options.gradients ?? true;
  let report: NonFiniteReport | undefined;
  return {
    name: 'nanGuard',
    order: -100,
    get report(): NonFiniteReport | undefined {
      return report;
    },
    beforeFit(): void {
      report = undefined;
    },
    async afterBackward(ctx: LoopContext): Promise<void> {
      if (ctx.fitStep % every !== 0) return;
      const grads = checkGradients ? (ctx.grads ?? []) : [];
      const flags = tf.tidy(() =>
        tf.stack([
          tf.all(tf.isFinite(ctx.batch!.x)),
          tf.isFinite(ctx.loss!),
          ...grads.map(({ gradient }) => tf.all(tf.isFinite(gradient))),
        ])
      );
      const values = await flags.data();
      flags.dispose();
      if (Array.from(values).every((value) => value === 1)) return;
      const lossValue = await ctx.lossValue();
      const order = variableLayers(ctx.model);
      const rank = [...order.keys()];
      const nonFiniteGradients = grads
        .filter((_, index) => values[index + 2] === 0)
        .map(({ variable }) => variable.name)
        .sort((a, b) => rank.indexOf(a) - rank.indexOf(b));
      const kind: NonFiniteKind =
        values[0] === 0 ? 'non-finite-input' : values[1] === 0 ? 'non-finite-loss' : 'non-finite-gradient';
      const firstLayer = kind === 'non-finite-input' ? undefined : await firstNonFiniteLayer(ctx);
      const firstGradient = nonFiniteGradients[0];
      const found = {
        kind,
        step: ctx.step,
        epoch: ctx.epoch,
        batch: ctx.batchIndex,
        loss: lossValue,
        firstLayer,
        nonFiniteGradients,
        firstGradientLayer: firstGradient === undefined ? undefined : order.get(firstGradient),
      };
      report = { ...found, message: describe(found) };
      throw new NonFiniteError(report);
    },
  };
}
