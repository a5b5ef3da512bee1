import * as tf from '@tensorflow/tfjs';
import type { OptimizerAlgorithm, SlotTensors } from './algorithm.js';
import { checkFlag, checkOptionNames, definedOnly } from './hypers.js';
import { Optimizer } from './optimizer.js';
import { checkFactoryHypers, type ParamGroup } from './param-groups.js';

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Step size. Required (as in PyTorch). */
  learningRate: number;
  /** Momentum factor μ; 0 is plain SGD. Defaults to 0. */
  momentum?: number;
  /** Dampening τ of the gradient added to the momentum buffer. Defaults to 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Fixed at construction. Defaults to false. */
  nesterov?: boolean;
  /** L2 penalty λ added to the gradient (`g + λ·w`). Defaults to 0. */
  weightDecay?: number;
  /** Parameter groups with their own hyperparameters. Defaults to one group holding every variable. */
  paramGroups?: readonly ParamGroup[];
}

const OPTION_NAMES = ['learningRate', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'paramGroups'] as const;

/**
 * The SGD algorithm definition (PyTorch 1.13 `torch.optim.SGD`), for building an {@link Optimizer} directly or
 * deriving a variant from it. `nesterov` is fixed here; the hyperparameters are the optimizer's.
 *
 * @example
 * ```ts
 * import { Optimizer, sgdAlgorithm } from '@convkit/optim';
 * const optimizer = new Optimizer(sgdAlgorithm({ nesterov: true }), { hypers: { learningRate: 0.1, momentum: 0.9 } });
 * ```
 */
export function sgdAlgorithm(options: { nesterov?: boolean } = {}): OptimizerAlgorithm {
  const nesterov = checkFlag('nesterov', options.nesterov, false);
  const update: OptimizerAlgorithm['update'] = (gradient, variable, hypers, state) => {
    const { learningRate, momentum, dampening, weightDecay } = hypers as Record<string, number>;
    let direction = weightDecay !== 0 ? tf.add(gradient, tf.mul(variable, weightDecay!)) : gradient;
    const next: SlotTensors = { ...state };
    if (momentum !== 0) {
      const previous = state.momentumBuffer;
      const buffer =
        previous === undefined ? direction : tf.add(tf.mul(previous, momentum!), tf.mul(direction, 1 - dampening!));
      next.momentumBuffer = buffer;
      direction = nesterov ? tf.add(direction, tf.mul(buffer, momentum!)) : buffer;
    }
    return { value: tf.add(variable, tf.mul(direction, -learningRate!)), state: next };
  };
  return {
    name: 'sgd',
    defaults: { learningRate: 0.01, momentum: 0, dampening: 0, weightDecay: 0 },
    config: { nesterov },
    limits: { dampening: { min: 0, max: 1 } },
    checkGroup: (hypers) =>
      nesterov && (hypers.momentum! <= 0 || hypers.dampening !== 0)
        ? `nesterov needs momentum > 0 and dampening = 0 (received momentum ${hypers.momentum}, dampening ${hypers.dampening})`
        : undefined,
    fused: {
      kernel: 'ConvkitFusedSgd',
      update,
      // The first momentum step seeds the buffer with the gradient: that step runs per variable.
      slots: (hypers, state) => (hypers.momentum === 0 ? [] : state.momentumBuffer === undefined ? undefined : ['momentumBuffer']),
      attrs: (variables) => ({
        count: variables.length,
        nesterov,
        weightDecay: variables.map(({ hypers }) => hypers.weightDecay!),
        momentum: variables.map(({ hypers }) => hypers.momentum!),
        oneMinusDampening: variables.map(({ hypers }) => 1 - hypers.dampening!),
        negativeLearningRate: variables.map(({ hypers }) => -hypers.learningRate!),
      }),
    },
    initState: (): SlotTensors => ({}),
    update,
  };
}

/**
 * Stochastic gradient descent, with optional momentum, Nesterov momentum and L2 weight decay; the update rule of
 * PyTorch 1.13's `torch.optim.SGD`, step for step.
 *
 * Why: the baseline of every comparison in the write-ups, and with momentum still the strongest choice for many
 * CNNs. Unlike `tf.train.sgd`/`momentum`, every hyperparameter is live and kept per parameter group.
 *
 * Update, with g the gradient, w the weights, b the momentum buffer:
 * ```text
 * g ← g + weightDecay·w
 * b ← g (first step)   b ← momentum·b + (1 − dampening)·g (later steps)      (when momentum ≠ 0)
 * g ← g + momentum·b (nesterov)   g ← b (otherwise)                          (when momentum ≠ 0)
 * w ← w − learningRate·g
 * ```
 *
 * Options: `learningRate` (required), `momentum` (defaults to 0), `dampening` (defaults to 0), `nesterov` (fixed;
 * defaults to false), `weightDecay` (defaults to 0), `paramGroups` (defaults to one group). Hyperparameters:
 * `learningRate`, `momentum`, `dampening`, `weightDecay`.
 *
 * Ownership: the returned optimizer owns its momentum buffers; call its `dispose()` when done.
 *
 * @example
 * ```ts
 * import { sgd } from '@convkit/optim';
 * const optimizer = sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 * optimizer.setHyper('learningRate', 0.01); // e.g. from a scheduler
 * ```
 */
export function sgd(options: SgdOptions): Optimizer {
  if (options === null || typeof options !== 'object') {
    throw new Error(`options must be an object with at least learningRate (received ${String(options)})`);
  }
  checkOptionNames('sgd', options, OPTION_NAMES);
  if (options.learningRate === undefined) {
    throw new Error('learningRate is required for sgd (received undefined); e.g. sgd({ learningRate: 0.1 })');
  }
  const { nesterov, paramGroups, ...hypers } = options;
  const algorithm = sgdAlgorithm({ nesterov });
  checkFactoryHypers(algorithm, definedOnly(hypers));
  return new Optimizer(algorithm, { hypers: definedOnly(hypers), paramGroups });
}
