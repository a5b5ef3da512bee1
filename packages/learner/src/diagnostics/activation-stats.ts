import * as tf from '@tensorflow/tfjs';
import type { LoopContext } from '../context.js';
import type { Plugin } from '../plugin.js';
import { layerOutputs, variableLayers } from './layer-outputs.js';
import { checkStatsOptions, valueStats, type TensorStats, type TensorStatsOptions } from './tensor-stats.js';

/** One layer's statistics at one step (see {@link activationStats}). */
export interface ActivationRecord extends TensorStats {
  /** `ctx.step` when recorded (before that step's update). */
  step: number;
  /** 0-based epoch within the fit. */
  epoch: number;
  /** `'activation'`: the layer's output on the batch; `'gradient'`: the gradient of one of its variables. */
  kind: 'activation' | 'gradient';
  /** The layer's name (for a `FunctionModel`, gradients only, the variable's name). */
  layer: string;
  /** The variable, for `'gradient'` records. */
  variable?: string;
}

/** Options of {@link activationStats}. */
export interface ActivationStatsOptions extends TensorStatsOptions {
  /** Record every this many steps of the fit (step 0 included). Defaults to 10. */
  every?: number;
  /** Layers to record, by layer name or class name (e.g. `['Conv2D', 'dense_Dense1']`). Defaults to every layer. */
  layers?: readonly string[];
  /** Record gradient statistics (per trainable variable) too. Defaults to true. */
  gradients?: boolean;
  /** Run the diagnostic forward pass in training mode (dropout on). Defaults to true. */
  training?: boolean;
}

/** The plugin returned by {@link activationStats}. */
export interface ActivationStatsPlugin extends Plugin {
  /** Every record of the current (or last) fit, in step order, then layer order. */
  readonly records: readonly ActivationRecord[];
}

/**
 * A plugin that records, every `every` steps, per-layer statistics of the activations (each layer's output on the
 * current training batch) and of the gradients (each trainable variable's): mean, standard deviation, extremes,
 * fraction of exact zeros (dead ReLUs), fraction saturated (|v| ≥ `saturation`), non-finite count and a histogram,
 * as flat {@link ActivationRecord}s that a chart can draw over time.
 *
 * Why: E4.3 — a 4-layer ConvNet initialised too large has exploding activations (cost ~15083), one initialised ×0.01
 * has activations that shrink to nothing layer after layer (cost stuck at ln 10 = 2.3026); per-layer histograms
 * show both at a glance, and show variance scaling keeping them at a steady spread.
 *
 * The activations come from a diagnostic forward pass over the layers (see {@link layerOutputs}), so recording
 * costs about one extra forward pass and one device read per layer; gradients are read from `ctx.grads` in
 * `afterBackward` (order −90: before plugins that clip or accumulate them). No tensors are kept.
 *
 * Options: `every` (defaults to 10), `layers` (defaults to all), `gradients` (defaults to true), `training`
 * (defaults to true), and the histogram options `bins` (defaults to 20), `range` (defaults to each record's
 * [min, max]) and `saturation` (defaults to 0.99).
 *
 * @example
 * ```ts
 * import { Learner, activationStats } from '@convkit/learner';
 * const stats = activationStats({ every: 50, bins: 30 });
 * await new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train, plugins: [stats] }).fit(1);
 * console.table(stats.records.filter((r) => r.kind === 'activation').map(({ step, layer, mean, std }) => ({ step, layer, mean, std })));
 * ```
 */
export function activationStats(options: ActivationStatsOptions = {}): ActivationStatsPlugin {
  const every = options.every ?? 10;
  if (!Number.isInteger(every) || every < 1) {
    throw new Error(`options.every must be a positive integer (received ${String(options.every)})`);
  }
  checkStatsOptions(options);
  const statsOptions: TensorStatsOptions = {
    ...(options.bins === undefined ? {} : { bins: options.bins }),
    ...(options.range === undefined ? {} : { range: options.range }),
    ...(options.saturation === undefined ? {} : { saturation: options.saturation }),
  };
  const wanted = options.layers === undefined ? undefined : new Set(options.layers);
  const keep = (layer: string, className?: string): boolean =>
    wanted === undefined || wanted.has(layer) || (className !== undefined && wanted.has(className));
  let records: ActivationRecord[] = [];
  return {
    name: 'activationStats',
    order: -90,
    get records(): readonly ActivationRecord[] {
      return records;
    },
    beforeFit(): void {
      records = [];
    },
    async afterBackward(ctx: LoopContext): Promise<void> {
      if (ctx.fitStep % every !== 0) return;
      const at = { step: ctx.step, epoch: ctx.epoch };
      const outputs = layerOutputs(ctx.model, ctx.batch!.x, options.training ?? true).filter(({ layer, className }) =>
        keep(layer, className)
      );
      try {
        for (const { layer, output } of outputs) {
          records.push({ ...at, kind: 'activation', layer, ...valueStats(await output.data(), statsOptions) });
        }
      } finally {
        tf.dispose(outputs.map(({ output }) => output));
      }
      if (options.gradients === false) return;
      const owners = variableLayers(ctx.model);
      const classes = new Map(
        ctx.model instanceof tf.LayersModel ? ctx.model.layers.map((l) => [l.name, l.getClassName()] as const) : []
      );
      for (const { variable, gradient } of ctx.grads ?? []) {
        const layer = owners.get(variable.name) ?? variable.name;
        if (!keep(layer, classes.get(layer))) continue;
        records.push({
          ...at,
          kind: 'gradient',
          layer,
          variable: variable.name,
          ...valueStats(await gradient.data(), statsOptions),
        });
      }
    },
  };
}
