import type * as tf from '@tensorflow/tfjs';

/** A variable and its gradient, as the learner hands them to `applyGradients` (the learner's `VariableGradient`). */
export interface GradientPair {
  variable: tf.Variable;
  gradient: tf.Tensor;
}

/** Per-variable optimizer state: named slot tensors (moments, accumulators, momentum buffers). */
export type SlotTensors = Record<string, tf.Tensor>;

/** What {@link OptimizerAlgorithm.update} returns: the variable's new value and its new slots. */
export interface UpdateResult {
  /** The variable's value after the step. */
  value: tf.Tensor;
  /** The slots after the step. May add slots (created lazily) or keep unchanged ones as they were. */
  state: SlotTensors;
}

/**
 * A backend kernel that runs one step of an algorithm for many variables in one call (the wasm backend's
 * `ConvkitFusedAdam` and `ConvkitFusedSgd`, declared by `@convkit/core`'s `registerWasmOptimizerKernels`). The
 * optimizer calls it where the active backend has `kernel` and every variable can take it; otherwise it runs
 * {@link OptimizerAlgorithm.update} per variable. The kernel must give bit-identical results to `update`.
 *
 * The kernel gets `variable{i}`, `gradient{i}` and each slot `{name}{i}` that `slots` lists, and returns, per
 * variable in order, the new value and then those slots' new values.
 */
export interface FusedUpdate {
  /** The tfjs kernel name. */
  readonly kernel: string;
  /**
   * The `update` this kernel reproduces. The optimizer uses the kernel only while the algorithm's `update` is this
   * very function, so a variant that spreads a built-in definition and replaces `update` runs its own rule.
   */
  readonly update: OptimizerAlgorithm['update'];
  /**
   * The slots the kernel reads and returns for one variable, in order; undefined when this variable cannot take the
   * kernel this step (e.g. SGD's momentum buffer before it exists), which sends the whole step to `update`.
   */
  slots(hypers: Readonly<Record<string, number>>, state: Readonly<SlotTensors>): readonly string[] | undefined;
  /** The kernel's attributes for the variables of one step, given each one's group hyperparameters and step. */
  attrs(variables: readonly { hypers: Readonly<Record<string, number>>; step: number }[]): tf.NamedAttrMap;
}

/** Allowed range of one hyperparameter. Defaults to `[0, ∞)`. */
export interface HyperLimit {
  /** Smallest allowed value. Defaults to 0. */
  min?: number;
  /** Largest allowed value. Defaults to `Infinity`. */
  max?: number;
  /** Whether `max` itself is excluded (as for Adam's betas, in [0, 1)). Defaults to false. */
  maxExclusive?: boolean;
}

/**
 * The definition of one optimization algorithm: everything {@link Optimizer} needs besides the generic bookkeeping
 * (parameter groups, live hyperparameters, state save/restore, memory).
 *
 * Why: a new optimizer is then a few lines of pure tensor math, and every optimizer gets groups, schedulable
 * hyperparameters and checkpoints for free (the fastai and Keras design; see STYLE.md (b) 12).
 *
 * - `defaults` names every hyperparameter and gives its value when neither the options nor a group set it. The
 *   names are full words (`learningRate`, `beta1`, `weightDecay`) and are the optimizer's `hyperNames`.
 * - `config` holds the structural choices fixed at construction (`nesterov`, `amsgrad`, `centered`, …); they are
 *   recorded in the saved state, and restoring a state into an optimizer with another config is refused.
 * - `initState(variable)` returns the variable's initial slots (e.g. zero moments). It runs inside `tf.tidy`.
 * - `update(gradient, variable, hypers, state, step)` returns the new value and new slots. It runs inside
 *   `tf.tidy`: intermediate tensors are freed, the returned ones kept; the optimizer assigns the value, keeps the
 *   new slots and disposes the replaced ones. It must not dispose its arguments. `hypers` are the variable's group's
 *   current values; `step` is how many updates this variable has had, this one included (1 on the first).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { Optimizer, type OptimizerAlgorithm } from '@convkit/optim';
 * // Sign descent: w ← w − learningRate · sign(g)
 * const signDescent: OptimizerAlgorithm = {
 *   name: 'signDescent',
 *   defaults: { learningRate: 0.01 },
 *   config: {},
 *   initState: () => ({}),
 *   update: (gradient, variable, hypers, state) => ({
 *     value: tf.sub(variable, tf.mul(tf.sign(gradient), hypers.learningRate!)),
 *     state,
 *   }),
 * };
 * const optimizer = new Optimizer(signDescent);
 * ```
 */
export interface OptimizerAlgorithm {
  /** Short name, recorded in the saved state (e.g. `'adam'`). */
  readonly name: string;
  /** Every hyperparameter with its default value. */
  readonly defaults: Readonly<Record<string, number>>;
  /** Structural options fixed at construction. */
  readonly config: Readonly<Record<string, number | boolean>>;
  /** Allowed ranges of hyperparameters that are not simply `[0, ∞)`. */
  readonly limits?: Readonly<Record<string, HyperLimit>>;
  /** Checks one group's hyperparameters together at construction; returns a problem description or undefined. */
  checkGroup?(hypers: Readonly<Record<string, number>>): string | undefined;
  /** The same update for all variables of a step in one backend kernel, where the backend has it. */
  readonly fused?: FusedUpdate;
  /** Initial slots of a variable (runs in `tf.tidy`). */
  initState(variable: tf.Variable): SlotTensors;
  /** One update of one variable: pure tensor math (runs in `tf.tidy`). */
  update(
    gradient: tf.Tensor,
    variable: tf.Variable,
    hypers: Readonly<Record<string, number>>,
    state: Readonly<SlotTensors>,
    step: number
  ): UpdateResult;
}
