import * as tf from '@tensorflow/tfjs';
import type { OptimizerAlgorithm, SlotTensors } from './algorithm.js';
import { checkFlag, checkOptionNames, definedOnly } from './hypers.js';
import { Optimizer } from './optimizer.js';
import { checkFactoryHypers, type ParamGroup } from './param-groups.js';

/** Options of {@link rmsprop}. */
export interface RmspropOptions {
  /** Step size. Defaults to 1e-2. */
  learningRate?: number;
  /** Decay rate of the squared-gradient average (Keras's `rho`), in [0, 1]. Defaults to 0.99. */
  alpha?: number;
  /** Added to the denominator, outside the square root (PyTorch's placement). Defaults to 1e-8. */
  epsilon?: number;
  /** Momentum factor of the update buffer; 0 for none. Defaults to 0. */
  momentum?: number;
  /** Divide by the estimated variance (subtract the squared mean gradient). Fixed at construction. Defaults to false. */
  centered?: boolean;
  /** L2 penalty added to the gradient. Defaults to 0. */
  weightDecay?: number;
  /** Parameter groups with their own hyperparameters. Defaults to one group holding every variable. */
  paramGroups?: readonly ParamGroup[];
}

const OPTION_NAMES = ['learningRate', 'alpha', 'epsilon', 'momentum', 'centered', 'weightDecay', 'paramGroups'] as const;

/**
 * The RMSprop algorithm definition (PyTorch 1.13 `torch.optim.RMSprop`), for {@link Optimizer}. `centered` is
 * fixed here.
 *
 * @example
 * ```ts
 * import { Optimizer, rmspropAlgorithm } from '@convkit/optim';
 * const optimizer = new Optimizer(rmspropAlgorithm({ centered: true }), { hypers: { learningRate: 1e-3 } });
 * ```
 */
export function rmspropAlgorithm(options: { centered?: boolean } = {}): OptimizerAlgorithm {
  const centered = checkFlag('centered', options.centered, false);
  const update: OptimizerAlgorithm['update'] = (gradient, variable, hypers, state) => {
    const { learningRate, alpha, epsilon, momentum, weightDecay } = hypers as Record<string, number>;
    const g = weightDecay !== 0 ? tf.add(gradient, tf.mul(variable, weightDecay!)) : gradient;
    const next: SlotTensors = { ...state };
    next.squareAvg = tf.add(tf.mul(state.squareAvg!, alpha!), tf.mul(tf.mul(g, 1 - alpha!), g));
    let average: tf.Tensor;
    if (centered) {
      next.gradAvg = tf.add(tf.mul(state.gradAvg!, alpha!), tf.mul(g, 1 - alpha!));
      average = tf.sqrt(tf.sub(next.squareAvg, tf.mul(next.gradAvg, next.gradAvg)));
    } else {
      average = tf.sqrt(next.squareAvg);
    }
    average = tf.add(average, epsilon!);
    if (momentum! > 0) {
      // The buffer starts at zero (PyTorch creates it when momentum > 0; here on first use, so momentum may be
      // switched on mid-training).
      const previous = state.momentumBuffer ?? tf.zerosLike(variable);
      next.momentumBuffer = tf.add(tf.mul(previous, momentum!), tf.div(g, average));
      return { value: tf.add(variable, tf.mul(next.momentumBuffer, -learningRate!)), state: next };
    }
    return { value: tf.add(variable, tf.div(tf.mul(g, -learningRate!), average)), state: next };
  };
  return {
    name: 'rmsprop',
    defaults: { learningRate: 1e-2, alpha: 0.99, epsilon: 1e-8, momentum: 0, weightDecay: 0 },
    config: { centered },
    limits: { alpha: { min: 0, max: 1 } },
    initState(variable): SlotTensors {
      const state: SlotTensors = { squareAvg: tf.zerosLike(variable) };
      if (centered) state.gradAvg = tf.zerosLike(variable);
      return state;
    },
    fused: {
      kernel: 'ConvkitFusedRmsprop',
      update,
      // A momentum buffer starts at zero on first use: that step runs per variable.
      slots: (hypers, state) =>
        hypers.momentum! > 0 && state.momentumBuffer === undefined
          ? undefined
          : ['squareAvg', ...(centered ? ['gradAvg'] : []), ...(hypers.momentum! > 0 ? ['momentumBuffer'] : [])],
      attrs: (variables) => ({
        count: variables.length,
        centered,
        weightDecay: variables.map(({ hypers }) => hypers.weightDecay!),
        alpha: variables.map(({ hypers }) => hypers.alpha!),
        oneMinusAlpha: variables.map(({ hypers }) => 1 - hypers.alpha!),
        epsilon: variables.map(({ hypers }) => hypers.epsilon!),
        momentum: variables.map(({ hypers }) => hypers.momentum!),
        negativeLearningRate: variables.map(({ hypers }) => -hypers.learningRate!),
      }),
    },
    update,
  };
}

/**
 * RMSprop (Hinton, 2012), plain or centered, with optional momentum and L2 weight decay; the update rule of
 * PyTorch 1.13's `torch.optim.RMSprop`, step for step.
 *
 * Why: one of the adaptive methods the write-ups compare. Unlike `tf.train.rmsprop`, the rate, decay and momentum
 * are live and kept per parameter group.
 *
 * Update, with g the gradient, w the weights:
 * ```text
 * g ← g + weightDecay·w
 * s ← alpha·s + (1 − alpha)·g²
 * a ← alpha·a + (1 − alpha)·g;  d ← √(s − a²) + epsilon       (centered)
 * d ← √s + epsilon                                             (otherwise)
 * b ← momentum·b + g/d;  w ← w − learningRate·b                (momentum > 0)
 * w ← w − learningRate·g/d                                     (otherwise)
 * ```
 * Epsilon goes outside the square root, as in PyTorch (followed here, so that our fixtures and the write-ups'
 * PyTorch runs agree); Keras and tfjs add it inside (√(s + epsilon)) and default to `rho` 0.9, `epsilon` 1e-7.
 *
 * Options (PyTorch defaults): `learningRate` 1e-2, `alpha` 0.99, `epsilon` 1e-8, `momentum` 0, `centered` false
 * (fixed), `weightDecay` 0, `paramGroups` one group.
 *
 * Ownership: the returned optimizer owns its averages and buffers; call its `dispose()` when done.
 *
 * @example
 * ```ts
 * import { rmsprop } from '@convkit/optim';
 * const optimizer = rmsprop({ learningRate: 1e-3, momentum: 0.9, centered: true });
 * ```
 */
export function rmsprop(options: RmspropOptions = {}): Optimizer {
  if (options === null || typeof options !== 'object') {
    throw new Error(`options must be an object (received ${String(options)})`);
  }
  checkOptionNames('rmsprop', options, OPTION_NAMES);
  const { centered, paramGroups, ...hypers } = options;
  const algorithm = rmspropAlgorithm({ centered });
  checkFactoryHypers(algorithm, definedOnly(hypers));
  return new Optimizer(algorithm, { hypers: definedOnly(hypers), paramGroups });
}
