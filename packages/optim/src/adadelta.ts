import * as tf from '@tensorflow/tfjs';
import type { OptimizerAlgorithm, SlotTensors } from './algorithm.js';
import { checkOptionNames, definedOnly } from './hypers.js';
import { Optimizer } from './optimizer.js';
import { checkFactoryHypers, type ParamGroup } from './param-groups.js';

/** Options of {@link adadelta}. */
export interface AdadeltaOptions {
  /** Scale of the update (PyTorch's `lr`; 1 is Zeiler's original rule). Defaults to 1. */
  learningRate?: number;
  /** Decay rate of both running averages, in [0, 1]. Defaults to 0.9. */
  rho?: number;
  /** Added inside both square roots. Defaults to 1e-6. */
  epsilon?: number;
  /** L2 penalty added to the gradient. Defaults to 0. */
  weightDecay?: number;
  /** Parameter groups with their own hyperparameters. Defaults to one group holding every variable. */
  paramGroups?: readonly ParamGroup[];
}

const OPTION_NAMES = ['learningRate', 'rho', 'epsilon', 'weightDecay', 'paramGroups'] as const;

/**
 * The Adadelta algorithm definition (PyTorch 1.13 `torch.optim.Adadelta`), for {@link Optimizer}.
 *
 * @example
 * ```ts
 * import { Optimizer, adadeltaAlgorithm } from '@convkit/optim';
 * const optimizer = new Optimizer(adadeltaAlgorithm(), { hypers: { rho: 0.95 } });
 * ```
 */
export function adadeltaAlgorithm(): OptimizerAlgorithm {
  const update: OptimizerAlgorithm['update'] = (gradient, variable, hypers, state) => {
    const { learningRate, rho, epsilon, weightDecay } = hypers as Record<string, number>;
    const g = weightDecay !== 0 ? tf.add(gradient, tf.mul(variable, weightDecay!)) : gradient;
    const squareAvg = tf.add(tf.mul(state.squareAvg!, rho!), tf.mul(tf.mul(g, 1 - rho!), g));
    const std = tf.sqrt(tf.add(squareAvg, epsilon!));
    const delta = tf.mul(tf.div(tf.sqrt(tf.add(state.accDelta!, epsilon!)), std), g);
    const accDelta = tf.add(tf.mul(state.accDelta!, rho!), tf.mul(tf.mul(delta, 1 - rho!), delta));
    return { value: tf.add(variable, tf.mul(delta, -learningRate!)), state: { squareAvg, accDelta } };
  };
  return {
    name: 'adadelta',
    defaults: { learningRate: 1, rho: 0.9, epsilon: 1e-6, weightDecay: 0 },
    config: {},
    limits: { rho: { min: 0, max: 1 } },
    initState: (variable): SlotTensors => ({ squareAvg: tf.zerosLike(variable), accDelta: tf.zerosLike(variable) }),
    fused: {
      kernel: 'ConvkitFusedAdadelta',
      update,
      slots: () => ['squareAvg', 'accDelta'],
      attrs: (variables) => ({
        count: variables.length,
        weightDecay: variables.map(({ hypers }) => hypers.weightDecay!),
        rho: variables.map(({ hypers }) => hypers.rho!),
        oneMinusRho: variables.map(({ hypers }) => 1 - hypers.rho!),
        epsilon: variables.map(({ hypers }) => hypers.epsilon!),
        negativeLearningRate: variables.map(({ hypers }) => -hypers.learningRate!),
      }),
    },
    update,
  };
}

/**
 * Adadelta (Zeiler, 2012): step sizes from the ratio of running RMS of past updates and of gradients; the update
 * rule of PyTorch 1.13's `torch.optim.Adadelta`, step for step.
 *
 * Why: one of the adaptive methods the write-ups compare; it needs almost no rate tuning (`learningRate` 1).
 *
 * Update, with g the gradient, w the weights:
 * ```text
 * g ← g + weightDecay·w
 * s ← rho·s + (1 − rho)·g²
 * Δ ← √(u + epsilon) / √(s + epsilon) · g
 * u ← rho·u + (1 − rho)·Δ²
 * w ← w − learningRate·Δ
 * ```
 * PyTorch (followed here) puts epsilon inside both square roots and scales by `learningRate`; Keras does too, but
 * its defaults differ (`rho` 0.95, `epsilon` 1e-7, `learning_rate` 1e-3), so pass those to reproduce a Keras run.
 *
 * Options (PyTorch defaults): `learningRate` 1, `rho` 0.9, `epsilon` 1e-6, `weightDecay` 0, `paramGroups` one
 * group. All are live hyperparameters.
 *
 * Ownership: the returned optimizer owns its accumulators; call its `dispose()` when done.
 *
 * @example
 * ```ts
 * import { adadelta } from '@convkit/optim';
 * const optimizer = adadelta({ rho: 0.95, epsilon: 1e-7 }); // Keras's rho and epsilon
 * ```
 */
export function adadelta(options: AdadeltaOptions = {}): Optimizer {
  if (options === null || typeof options !== 'object') {
    throw new Error(`options must be an object (received ${String(options)})`);
  }
  checkOptionNames('adadelta', options, OPTION_NAMES);
  const { paramGroups, ...hypers } = options;
  const algorithm = adadeltaAlgorithm();
  checkFactoryHypers(algorithm, definedOnly(hypers));
  return new Optimizer(algorithm, { hypers: definedOnly(hypers), paramGroups });
}
