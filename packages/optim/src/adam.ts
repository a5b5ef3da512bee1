import * as tf from '@tensorflow/tfjs';
import type { OptimizerAlgorithm, SlotTensors } from './algorithm.js';
import { checkFlag, checkOptionNames, definedOnly } from './hypers.js';
import { Optimizer } from './optimizer.js';
import { checkFactoryHypers, type ParamGroup } from './param-groups.js';

/** Options of {@link adam} and {@link adamW}. */
export interface AdamOptions {
  /** Step size. Defaults to 1e-3. */
  learningRate?: number;
  /** Decay rate of the first-moment (mean) estimate, in [0, 1). Defaults to 0.9. */
  beta1?: number;
  /** Decay rate of the second-moment (uncentered variance) estimate, in [0, 1). Defaults to 0.999. */
  beta2?: number;
  /** Added to the denominator, outside the square root, for numerical stability. Defaults to 1e-8. */
  epsilon?: number;
  /** `adam`: L2 penalty added to the gradient; `adamW`: decoupled decay of the weights. Defaults to 0 / 1e-2. */
  weightDecay?: number;
  /** Use the maximum of past second moments (AMSGrad). Fixed at construction. Defaults to false. */
  amsgrad?: boolean;
  /** Parameter groups with their own hyperparameters. Defaults to one group holding every variable. */
  paramGroups?: readonly ParamGroup[];
}

const OPTION_NAMES = ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'amsgrad', 'paramGroups'] as const;

/**
 * The Adam / AdamW algorithm definition (PyTorch 1.13 `torch.optim.Adam` and `AdamW`), for {@link Optimizer}.
 * `decoupled: true` gives AdamW; `amsgrad` is fixed here.
 *
 * @example
 * ```ts
 * import { Optimizer, adamAlgorithm } from '@convkit/optim';
 * const optimizer = new Optimizer(adamAlgorithm({ decoupled: true }), { hypers: { learningRate: 3e-4 } });
 * ```
 */
export function adamAlgorithm(options: { amsgrad?: boolean; decoupled?: boolean } = {}): OptimizerAlgorithm {
  const amsgrad = checkFlag('amsgrad', options.amsgrad, false);
  const decoupled = options.decoupled === true;
  const update: OptimizerAlgorithm['update'] = (gradient, variable, hypers, state, step) => {
    const { learningRate, beta1, beta2, epsilon, weightDecay } = hypers as Record<string, number>;
    let weights: tf.Tensor = variable;
    let g = gradient;
    if (decoupled) weights = tf.mul(variable, 1 - learningRate! * weightDecay!);
    else if (weightDecay !== 0) g = tf.add(gradient, tf.mul(variable, weightDecay!));
    const expAvg = tf.add(tf.mul(state.expAvg!, beta1!), tf.mul(g, 1 - beta1!));
    const expAvgSq = tf.add(tf.mul(state.expAvgSq!, beta2!), tf.mul(tf.mul(g, 1 - beta2!), g));
    const biasCorrection1 = 1 - beta1! ** step;
    const biasCorrection2 = 1 - beta2! ** step;
    const stepSize = learningRate! / biasCorrection1;
    const next: SlotTensors = { expAvg, expAvgSq };
    let second = expAvgSq;
    if (amsgrad) {
      second = tf.maximum(state.maxExpAvgSq!, expAvgSq);
      next.maxExpAvgSq = second;
    }
    const denominator = tf.add(tf.div(tf.sqrt(second), Math.sqrt(biasCorrection2)), epsilon!);
    return { value: tf.add(weights, tf.div(tf.mul(expAvg, -stepSize), denominator)), state: next };
  };
  return {
    name: decoupled ? 'adamW' : 'adam',
    defaults: { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: decoupled ? 1e-2 : 0 },
    config: { amsgrad },
    limits: { beta1: { min: 0, max: 1, maxExclusive: true }, beta2: { min: 0, max: 1, maxExclusive: true } },
    fused: {
      kernel: 'ConvkitFusedAdam',
      update,
      slots: () => (amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq']),
      // The scalars exactly as update() computes them (in float64, then rounded to float32 by the kernel).
      attrs(variables) {
        const each = (scalar: (hypers: Record<string, number>, step: number) => number): number[] =>
          variables.map(({ hypers, step }) => scalar(hypers as Record<string, number>, step));
        return {
          count: variables.length,
          amsgrad,
          decoupled,
          weightScale: each((h) => 1 - h.learningRate! * h.weightDecay!),
          weightDecay: each((h) => h.weightDecay!),
          beta1: each((h) => h.beta1!),
          oneMinusBeta1: each((h) => 1 - h.beta1!),
          beta2: each((h) => h.beta2!),
          oneMinusBeta2: each((h) => 1 - h.beta2!),
          negativeStepSize: each((h, step) => -(h.learningRate! / (1 - h.beta1! ** step))),
          sqrtBiasCorrection2: each((h, step) => Math.sqrt(1 - h.beta2! ** step)),
          epsilon: each((h) => h.epsilon!),
        };
      },
    },
    initState(variable): SlotTensors {
      const state: SlotTensors = { expAvg: tf.zerosLike(variable), expAvgSq: tf.zerosLike(variable) };
      if (amsgrad) state.maxExpAvgSq = tf.zerosLike(variable);
      return state;
    },
    update,
  };
}

function make(factory: 'adam' | 'adamW', options: AdamOptions): Optimizer {
  if (options === null || typeof options !== 'object') {
    throw new Error(`options must be an object (received ${String(options)})`);
  }
  checkOptionNames(factory, options, OPTION_NAMES);
  const { amsgrad, paramGroups, ...hypers } = options;
  const algorithm = adamAlgorithm({ amsgrad, decoupled: factory === 'adamW' });
  checkFactoryHypers(algorithm, definedOnly(hypers));
  return new Optimizer(algorithm, { hypers: definedOnly(hypers), paramGroups });
}

/**
 * Adam (Kingma & Ba, 2015), with optional AMSGrad and L2 weight decay; the update rule of PyTorch 1.13's
 * `torch.optim.Adam`, step for step.
 *
 * Why: per-weight step sizes from running moments make it forgiving of the learning rate, the usual first choice
 * in the write-ups. Unlike `tf.train.adam`, betas and the rate are live, per group, and weight decay exists.
 *
 * Update at step t (per variable), with g the gradient, w the weights:
 * ```text
 * g ← g + weightDecay·w
 * m ← beta1·m + (1 − beta1)·g
 * v ← beta2·v + (1 − beta2)·g²
 * v̂ ← max(v̂, v) (amsgrad)   v̂ ← v (otherwise)
 * w ← w − learningRate/(1 − beta1^t) · m / (√v̂ / √(1 − beta2^t) + epsilon)
 * ```
 *
 * Options (PyTorch defaults): `learningRate` 1e-3, `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-8, `weightDecay` 0,
 * `amsgrad` false (fixed), `paramGroups` one group. All but `amsgrad` are live hyperparameters.
 *
 * Ownership: the returned optimizer owns its moment tensors; call its `dispose()` when done.
 *
 * @example
 * ```ts
 * import { adam } from '@convkit/optim';
 * const optimizer = adam({ learningRate: 3e-4, amsgrad: true });
 * optimizer.setHyper('beta1', 0.85);
 * ```
 */
export function adam(options: AdamOptions = {}): Optimizer {
  return make('adam', options);
}

/**
 * AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as PyTorch 1.13's `torch.optim.AdamW`.
 *
 * Why: with L2 decay inside Adam, the decay is divided by √v̂ like the gradient, so heavily-updated weights are
 * barely regularised; AdamW shrinks every weight by the same factor instead, which generalises better.
 *
 * Update at step t: first `w ← w·(1 − learningRate·weightDecay)`, then Adam's update without the L2 term.
 *
 * Options: as {@link adam}, but `weightDecay` defaults to 1e-2 (PyTorch's AdamW default).
 *
 * Ownership: the returned optimizer owns its moment tensors; call its `dispose()` when done.
 *
 * @example
 * ```ts
 * import { adamW } from '@convkit/optim';
 * const optimizer = adamW({ learningRate: 1e-3, weightDecay: 0.05 });
 * ```
 */
export function adamW(options: AdamOptions = {}): Optimizer {
  return make('adamW', options);
}
