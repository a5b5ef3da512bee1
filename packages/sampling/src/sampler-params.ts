import { balanceOf } from './sampler.js';
import type { Sampler } from './sampler.js';
import { describe } from './validate.js';

/**
 * A plugin (structurally a `@convkit/learner` `Plugin` and a `@convkit/schedule` `SchedulablePlugin`) that exposes a
 * sampler's `balance` as the schedulable parameter `param.<name>.balance`. It has no hooks: writing
 * `params.balance` sets the sampler's `balance`, which the loader reads when the next epoch starts.
 */
export interface SamplerParamsPlugin {
  /** The plugin's name, the middle of the write target `param.<name>.balance`. */
  readonly name: string;
  /** `balance` reads and writes the sampler's. */
  readonly params: Record<string, number>;
  /** `{ balance }`, for checkpoints. */
  getState(): { balance: number };
  /** Restores `{ balance }`. */
  setState(state: unknown): void;
}

/**
 * Makes a sampler's `balance` schedulable: add the returned plugin to the learner and schedule
 * `param.<name>.balance` with `@convkit/schedule`'s `paramScheduler`.
 *
 * Why: a common recipe trains on balanced batches first and moves to the natural class frequencies later (so the
 * network's priors end up calibrated to the data); `balance` goes from 1 to 0 over the fit.
 *
 * @param sampler - A sampler with a `balance` (e.g. `BalancedBatchSampler`, `WeightedRandomSampler`).
 * @param options - `name`: the plugin's name. Defaults to `'sampler'`.
 * @returns A new plugin object without hooks; it holds no tensors.
 * @throws if `sampler` has no numeric `balance`, or `name` is empty.
 *
 * @example
 * ```ts
 * import { paramScheduler, linear } from '@convkit/schedule';
 * import { DataLoader } from '@convkit/data';
 * import { BalancedBatchSampler, samplerParams } from '@convkit/sampling';
 * const sampler = new BalancedBatchSampler({ labels: train.labels, batchSize: 64 });
 * const learner = new Learner({
 *   model, loss: 'softmaxCrossEntropy', optimizer,
 *   train: new DataLoader(train, { batchSize: 64, sampler, seed: 0 }),
 *   plugins: [samplerParams(sampler), paramScheduler({ 'param.sampler.balance': linear(1, 0) })],
 * });
 * ```
 */
export function samplerParams(sampler: Sampler, options: { name?: string } = {}): SamplerParamsPlugin {
  if (!sampler || typeof sampler.balance !== 'number') {
    throw new Error(`sampler must have a numeric balance, e.g. a BalancedBatchSampler (received ${describe(sampler)})`);
  }
  const { name = 'sampler' } = options;
  if (typeof name !== 'string' || name === '' || name.includes('.')) {
    throw new Error(`name must be a non-empty string without dots (received ${describe(name)})`);
  }
  const params = {
    get balance(): number {
      return sampler.balance as number;
    },
    set balance(value: number) {
      sampler.balance = value;
    },
  };
  return {
    name,
    params,
    getState: () => ({ balance: sampler.balance as number }),
    setState: (state: unknown) => {
      sampler.balance = balanceOf(state);
    },
  };
}
