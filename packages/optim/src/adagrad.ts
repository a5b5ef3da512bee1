import * as tf from '@tensorflow/tfjs';
import type { OptimizerAlgorithm, SlotTensors } from './algorithm.js';
import { checkHyperValue, checkOptionNames, definedOnly } from './hypers.js';
import { Optimizer } from './optimizer.js';
import { checkFactoryHypers, type ParamGroup } from './param-groups.js';

/** Options of {@link adagrad}. */
export interface AdagradOptions {
  /** Step size. Defaults to 1e-2. */
  learningRate?: number;
  /** Rate decay: step t uses `learningRate / (1 + (t − 1)·learningRateDecay)`. Defaults to 0. */
  learningRateDecay?: number;
  /** Starting value of the squared-gradient sum. Fixed at construction. Defaults to 0. */
  initialAccumulatorValue?: number;
  /** Added to the denominator, outside the square root. Defaults to 1e-10. */
  epsilon?: number;
  /** L2 penalty added to the gradient. Defaults to 0. */
  weightDecay?: number;
  /** Parameter groups with their own hyperparameters. Defaults to one group holding every variable. */
  paramGroups?: readonly ParamGroup[];
}

const OPTION_NAMES = [
  'learningRate',
  'learningRateDecay',
  'initialAccumulatorValue',
  'epsilon',
  'weightDecay',
  'paramGroups',
] as const;

/**
 * The Adagrad algorithm definition (PyTorch 1.13 `torch.optim.Adagrad`), for {@link Optimizer}.
 * `initialAccumulatorValue` is fixed here (it only sets the accumulator's start).
 *
 * @example
 * ```ts
 * import { Optimizer, adagradAlgorithm } from '@convkit/optim';
 * const optimizer = new Optimizer(adagradAlgorithm({ initialAccumulatorValue: 0.1 }), { hypers: { learningRate: 0.05 } });
 * ```
 */
export function adagradAlgorithm(options: { initialAccumulatorValue?: number } = {}): OptimizerAlgorithm {
  const initial = checkHyperValue('initialAccumulatorValue', options.initialAccumulatorValue ?? 0);
  const update: OptimizerAlgorithm['update'] = (gradient, variable, hypers, state, step) => {
    const { learningRate, learningRateDecay, epsilon, weightDecay } = hypers as Record<string, number>;
    const g = weightDecay !== 0 ? tf.add(gradient, tf.mul(variable, weightDecay!)) : gradient;
    const rate = learningRate! / (1 + (step - 1) * learningRateDecay!);
    const sum = tf.add(state.sum!, tf.mul(g, g));
    const std = tf.add(tf.sqrt(sum), epsilon!);
    return { value: tf.add(variable, tf.div(tf.mul(g, -rate), std)), state: { sum } };
  };
  return {
    name: 'adagrad',
    defaults: { learningRate: 1e-2, learningRateDecay: 0, epsilon: 1e-10, weightDecay: 0 },
    config: { initialAccumulatorValue: initial },
    initState: (variable): SlotTensors => ({ sum: tf.fill(variable.shape, initial, 'float32') }),
    fused: {
      kernel: 'ConvkitFusedAdagrad',
      update,
      slots: () => ['sum'],
      attrs: (variables) => ({
        count: variables.length,
        weightDecay: variables.map(({ hypers }) => hypers.weightDecay!),
        negativeRate: variables.map(({ hypers, step }) => -(hypers.learningRate! / (1 + (step - 1) * hypers.learningRateDecay!))),
        epsilon: variables.map(({ hypers }) => hypers.epsilon!),
      }),
    },
    update,
  };
}

/**
 * Adagrad (Duchi et al., 2011): per-weight step sizes shrinking with the sum of past squared gradients; the update
 * rule of PyTorch 1.13's `torch.optim.Adagrad`, step for step.
 *
 * Why: one of the adaptive methods the write-ups compare; good for sparse features, but its rates only shrink.
 *
 * Update at step t (per variable), with g the gradient, w the weights:
 * ```text
 * g ← g + weightDecay·w
 * s ← s + g²                                      (s starts at initialAccumulatorValue)
 * w ← w − learningRate/(1 + (t − 1)·learningRateDecay) · g / (√s + epsilon)
 * ```
 * Keras's Adagrad starts `s` at 0.1 and puts its epsilon (1e-7) the same way; pass `initialAccumulatorValue: 0.1`
 * to match it.
 *
 * Options (PyTorch defaults): `learningRate` 1e-2, `learningRateDecay` 0, `initialAccumulatorValue` 0 (fixed),
 * `epsilon` 1e-10, `weightDecay` 0, `paramGroups` one group.
 *
 * Ownership: the returned optimizer owns its accumulators; call its `dispose()` when done.
 *
 * @example
 * ```ts
 * import { adagrad } from '@convkit/optim';
 * const optimizer = adagrad({ learningRate: 0.05, initialAccumulatorValue: 0.1 });
 * ```
 */
export function adagrad(options: AdagradOptions = {}): Optimizer {
  if (options === null || typeof options !== 'object') {
    throw new Error(`options must be an object (received ${String(options)})`);
  }
  checkOptionNames('adagrad', options, OPTION_NAMES);
  const { initialAccumulatorValue, paramGroups, ...hypers } = options;
  const algorithm = adagradAlgorithm({ initialAccumulatorValue });
  checkFactoryHypers(algorithm, definedOnly(hypers));
  return new Optimizer(algorithm, { hypers: definedOnly(hypers), paramGroups });
}
