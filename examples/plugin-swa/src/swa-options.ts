/**
 * The SWA learning rate during the averaging phase: a number for a constant rate (`torch.optim.swa_utils.SWALR`
 * without annealing), or a cyclic rate as in Izmailov et al. (2018), eq. 2: within each cycle of `cycleSteps`
 * optimizer steps the rate falls linearly from `max` to `min`,
 * `rate(i) = (1 − t(i))·max + t(i)·min` with `t(i) = ((i mod cycleSteps) + 1) / cycleSteps`,
 * where `i` counts the steps of the averaging phase from 0; the last step of each cycle runs at `min`.
 */
export type SwaLearningRate = number | { readonly max: number; readonly min: number; readonly cycleSteps: number };

/** Options of {@link swa}. */
export interface SwaOptions {
  /** 0-based epoch of the fit from which the weights are averaged (and the SWA rate applies). Defaults to 0. */
  startEpoch?: number;
  /**
   * Average every `frequency` optimizer steps of the averaging phase instead of at the end of each epoch.
   * Defaults to the end of each epoch, or to `cycleSteps` (the end of each cycle) with a cyclic `learningRate`.
   */
  frequency?: number;
  /**
   * The learning rate during the averaging phase (see {@link SwaLearningRate}). When set, the plugin declares
   * `writes: ['hyper.learningRate']`, so the learner refuses another rate writer without distinct priorities.
   * Defaults to none: the rate is left to the optimizer and other plugins.
   */
  learningRate?: SwaLearningRate;
  /**
   * Copy the average into the model in `afterFit` (which also runs after a cancel or an error), then free it; the
   * model is left alone when nothing was averaged. Defaults to true.
   */
  swapAtEnd?: boolean;
  /**
   * Which weights to average: `'trainable'` (like `torch.optim.swa_utils.AveragedModel`, whose buffers such as
   * batch-norm statistics are not averaged) or `'all'` (also non-trainable weights). Defaults to `'trainable'`.
   */
  weights?: 'trainable' | 'all';
  /** The plugin's name. Defaults to `'swa'`. */
  name?: string;
  /** Position in each event's plugin list. Defaults to 60 (after schedulers, before checkpoints at 70). */
  order?: number;
  /** Settles a shared `hyper.learningRate` with a scheduler: the higher priority wins. Defaults to none. */
  priority?: number;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedSwaOptions {
  startEpoch: number;
  /** Steps between averages, or undefined for once per epoch. */
  frequency: number | undefined;
  learningRate: SwaLearningRate | undefined;
  swapAtEnd: boolean;
  weights: 'trainable' | 'all';
  name: string;
  order: number;
  priority: number | undefined;
}

const isNonNegativeInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;
const isPositiveInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) > 0;
const isPositive = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0;
const show = (value: unknown): string => (typeof value === 'object' ? JSON.stringify(value) : String(value));

function checkLearningRate(rate: unknown): SwaLearningRate | undefined {
  if (rate === undefined || isPositive(rate)) return rate;
  if (typeof rate !== 'object' || rate === null) {
    throw new Error(
      `learningRate must be a positive number or { max, min, cycleSteps } (received ${show(rate)})`
    );
  }
  const { max, min, cycleSteps } = rate as Record<string, unknown>;
  if (!isPositive(max)) throw new Error(`learningRate.max must be a positive number (received ${show(max)})`);
  if (typeof min !== 'number' || !Number.isFinite(min) || min < 0 || min > max) {
    throw new Error(`learningRate.min must be a number in [0, learningRate.max = ${max}] (received ${show(min)})`);
  }
  if (!isPositiveInteger(cycleSteps)) {
    throw new Error(`learningRate.cycleSteps must be a positive integer (received ${show(cycleSteps)})`);
  }
  return { max, min, cycleSteps };
}

/** Validates {@link SwaOptions}, throwing an error that names the option, the value and what was expected. */
export function resolveSwaOptions(options: SwaOptions): ResolvedSwaOptions {
  if (typeof options !== 'object' || options === null) {
    throw new Error(`options must be an object (received ${show(options)})`);
  }
  const startEpoch = options.startEpoch ?? 0;
  if (!isNonNegativeInteger(startEpoch)) {
    throw new Error(`startEpoch must be an integer ≥ 0 (received ${show(startEpoch)})`);
  }
  if (options.frequency !== undefined && !isPositiveInteger(options.frequency)) {
    throw new Error(`frequency must be a positive integer number of steps (received ${show(options.frequency)})`);
  }
  const learningRate = checkLearningRate(options.learningRate);
  const swapAtEnd = options.swapAtEnd ?? true;
  if (typeof swapAtEnd !== 'boolean') throw new Error(`swapAtEnd must be a boolean (received ${show(swapAtEnd)})`);
  const weights = options.weights ?? 'trainable';
  if (weights !== 'trainable' && weights !== 'all') {
    throw new Error(`weights must be 'trainable' or 'all' (received ${show(weights)})`);
  }
  const name = options.name ?? 'swa';
  if (typeof name !== 'string' || name === '') throw new Error(`name must be a non-empty string (received ${show(name)})`);
  const order = options.order ?? 60;
  if (!Number.isFinite(order)) throw new Error(`order must be a finite number (received ${show(order)})`);
  if (options.priority !== undefined && !Number.isFinite(options.priority)) {
    throw new Error(`priority must be a finite number (received ${show(options.priority)})`);
  }
  const cycle = typeof learningRate === 'object' ? learningRate.cycleSteps : undefined;
  return {
    startEpoch,
    frequency: options.frequency ?? cycle,
    learningRate,
    swapAtEnd,
    weights,
    name,
    order,
    priority: options.priority,
  };
}

/**
 * The SWA rate at step `phaseStep` (0-based) of the averaging phase.
 *
 * @example
 * ```ts
 * swaLearningRateAt({ max: 0.05, min: 0.01, cycleSteps: 4 }, 3); // 0.01, the end of the first cycle
 * ```
 */
export function swaLearningRateAt(rate: SwaLearningRate, phaseStep: number): number {
  if (typeof rate === 'number') return rate;
  const t = ((phaseStep % rate.cycleSteps) + 1) / rate.cycleSteps;
  return (1 - t) * rate.max + t * rate.min;
}
