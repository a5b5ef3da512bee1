import * as tf from '@tensorflow/tfjs';
import type { GradientPair, OptimizerAlgorithm, SlotTensors } from './algorithm.js';
import { fusedStep } from './fused-step.js';
import { checkHyperName, checkHyperValue } from './hypers.js';
import { checkHypers, resolveGroups, type GroupSelector, type OptimizerOptions, type ResolvedGroup } from './param-groups.js';
import { parseOptimizerState, type OptimizerState, type SavedVariableState } from './optimizer-state.js';

interface VariableSlots {
  position: number;
  group: number;
  step: number;
  state: SlotTensors;
}

/**
 * A gradient-descent optimizer built from an {@link OptimizerAlgorithm}: the generic part shared by `sgd`, `adam`,
 * `adamW`, `adadelta`, `adagrad` and `rmsprop`. Implements the learner's `OptimizerLike`.
 *
 * Why: tfjs's optimizers take positional numbers, cannot change most rates mid-training, and have no parameter
 * groups and no weight decay. Here every hyperparameter is named, kept per parameter group, and can be read and set
 * between steps (`setHyper('learningRate', 0.01)`), so any of them can be scheduled; the state saves to plain JSON
 * and restores so that a resumed run continues the very same trajectory.
 *
 * - Groups: `getHyper(name)` reads group 0 (the learner records that value in its history); `getHypers()` returns
 *   every group's; `setHyper(name, value)` sets every group, `setHyper(name, value, { group })` one, and
 *   `setHyper(name, [v0, v1, …])` one value per group.
 * - Variables are matched to their slots by identity (a `Map` keyed by the `tf.Variable`), never by global name.
 *   A variable gets its slots on its first gradient; its position is the order of those first gradients.
 * - `getState()` returns the hyperparameters and slots as plain numbers; `setState(state)` restores them, matching
 *   saved slots to variables by position (the learner always passes a model's variables in the same order) and
 *   refusing a shape or group mismatch with an error naming the variable.
 *
 * - Fused step: when the algorithm has a `fused` kernel and the active backend has it (wasm, through
 *   `@convkit/core`'s `initBackend`), `applyGradients` updates every variable in that one kernel call, bit-identical
 *   to the per-variable `update`; otherwise (other backends, a slot not there yet) it runs `update` per variable.
 *
 * Ownership: the slots are the optimizer's; `dispose()` frees them (the optimizer may be used again afterwards and
 * starts from fresh slots). `applyGradients` updates the variables in place and does not dispose the gradients.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { adam } from '@convkit/optim';
 * const w = tf.variable(tf.tensor1d([1, -1]));
 * const optimizer = adam({ learningRate: 0.1 });
 * const gradient = tf.tensor1d([0.5, -2]);
 * optimizer.applyGradients([{ variable: w, gradient }]);
 * optimizer.setHyper('learningRate', 0.01); // used by the next step
 * console.log(await w.data()); // ≈ [0.9, -0.9]
 * gradient.dispose();
 * optimizer.dispose();
 * ```
 */
export class Optimizer {
  /** The algorithm's name, e.g. `'adam'`. */
  readonly name: string;
  /** Names of the hyperparameters, in the algorithm's order. */
  readonly hyperNames: readonly string[];
  /** The structural options fixed at construction (`nesterov`, `amsgrad`, `centered`, …). */
  readonly config: Readonly<Record<string, number | boolean>>;
  private readonly algorithm: OptimizerAlgorithm;
  private readonly groups: ResolvedGroup[];
  private readonly membership: Map<tf.Variable, number>;
  private readonly catchAll: number | null;
  private readonly slots = new Map<tf.Variable, VariableSlots>();
  private readonly pending = new Map<number, SavedVariableState>();
  private readonly positions = new Map<tf.Variable, number>();
  private iterationCount = 0;

  /**
   * Builds an optimizer from an algorithm definition. `options.hypers` override the algorithm's defaults for every
   * group; `options.paramGroups` (defaults to one group holding every variable) override them per group. Throws for
   * an unknown hyperparameter name, a value out of range, an empty group or a variable in two groups.
   */
  constructor(algorithm: OptimizerAlgorithm, options: OptimizerOptions = {}) {
    this.algorithm = algorithm;
    this.name = algorithm.name;
    this.hyperNames = Object.freeze(Object.keys(algorithm.defaults));
    this.config = Object.freeze({ ...algorithm.config });
    const base = checkHypers(algorithm, 'hypers', { ...algorithm.defaults, ...(options.hypers ?? {}) });
    const resolved = resolveGroups(algorithm, base, options.paramGroups);
    this.groups = resolved.groups;
    this.membership = resolved.membership;
    this.catchAll = resolved.catchAll;
  }

  /** Number of parameter groups (1 without `paramGroups`). */
  get groupCount(): number {
    return this.groups.length;
  }

  /** Number of `applyGradients` calls so far (restored by `setState`). */
  get iterations(): number {
    return this.iterationCount;
  }

  /** Current value of a hyperparameter in group `options.group` (defaults to group 0). Throws for an unknown name. */
  getHyper(name: string, options: GroupSelector = {}): number {
    checkHyperName('name', name, this.hyperNames);
    return this.groups[this.groupIndex(options.group ?? 0)]!.hypers[name]!;
  }

  /** Every group's hyperparameters, as copies: `[{ learningRate: 0.01, … }, { learningRate: 0.1, … }]`. */
  getHypers(): Record<string, number>[] {
    return this.groups.map((group) => ({ ...group.hypers }));
  }

  /**
   * Sets a hyperparameter; the next `applyGradients` uses it. `value` is one number for every group (or for
   * `options.group`), or an array with one value per group. Throws for an unknown name, a value out of range (e.g. a
   * negative or NaN rate) or an unknown group.
   */
  setHyper(name: string, value: number | readonly number[], options: GroupSelector = {}): void {
    checkHyperName('name', name, this.hyperNames);
    const limit = this.algorithm.limits?.[name];
    if (Array.isArray(value)) {
      if (options.group !== undefined) {
        throw new Error(`value must be a single number when options.group is given (received ${value.length} values)`);
      }
      if (value.length !== this.groups.length) {
        throw new Error(
          `${name} needs one value per parameter group (${this.groups.length}) (received ${value.length} values)`
        );
      }
      const checked = value.map((entry, index) => checkHyperValue(`${name}[${index}]`, entry, limit));
      checked.forEach((entry, index) => (this.groups[index]!.hypers[name] = entry));
      return;
    }
    const checked = checkHyperValue(name, value, limit);
    if (options.group !== undefined) this.groups[this.groupIndex(options.group)]!.hypers[name] = checked;
    else for (const group of this.groups) group.hypers[name] = checked;
  }

  /**
   * One update step: each variable moves by the algorithm's rule with its group's hyperparameters. Updates the
   * variables in place; does not dispose the gradients. Throws (before changing anything) when a gradient's shape
   * differs from its variable's, a variable appears twice, or a variable is in no group.
   */
  applyGradients(grads: readonly GradientPair[]): void {
    if (!Array.isArray(grads)) throw new Error(`grads must be an array of { variable, gradient } (received ${typeof grads})`);
    const seen = new Set<tf.Variable>();
    grads.forEach(({ variable, gradient }, index) => {
      if (!(variable instanceof tf.Variable)) {
        throw new Error(`grads[${index}].variable must be a tf.Variable (received ${typeof variable})`);
      }
      if (!(gradient instanceof tf.Tensor) || !tf.util.arraysEqual(gradient.shape, variable.shape)) {
        const received = gradient instanceof tf.Tensor ? `shape [${String(gradient.shape)}]` : typeof gradient;
        throw new Error(
          `grads[${index}].gradient must be a tensor of shape [${String(variable.shape)}] like variable ` +
            `"${variable.name}" (received ${received})`
        );
      }
      if (seen.has(variable)) throw new Error(`grads[${index}]: variable "${variable.name}" appears twice`);
      seen.add(variable);
      this.groupOf(variable);
    });
    const entries = grads.map(({ variable }) => this.slotsOf(variable));
    const items = grads.map(({ variable, gradient }, index) => {
      const entry = entries[index]!;
      return { variable, gradient, hypers: this.groups[entry.group]!.hypers, state: entry.state, step: entry.step + 1 };
    });
    const fused = fusedStep(this.algorithm, items);
    if (fused === undefined) grads.forEach(({ variable, gradient }, index) => this.updateOne(variable, gradient, entries[index]!));
    else fused.forEach((state, index) => this.replaceSlots(entries[index]!, state));
    this.iterationCount += 1;
  }

  /**
   * The complete state as plain JSON-serialisable data: iterations, every group's hyperparameters, and each
   * variable's step count and slots. Reads the slots from the device (hence async); creates no lasting tensors.
   */
  async getState(): Promise<OptimizerState> {
    const variables: SavedVariableState[] = [...this.pending.values()].map((entry) => ({ ...entry }));
    for (const [variable, entry] of this.slots) {
      const slots: Record<string, number[]> = {};
      for (const [name, tensor] of Object.entries(entry.state)) slots[name] = Array.from(await tensor.data());
      variables.push({
        position: entry.position,
        name: variable.name,
        group: entry.group,
        shape: [...variable.shape],
        step: entry.step,
        slots,
      });
    }
    variables.sort((a, b) => a.position - b.position);
    return {
      format: 'convkit-optim-state',
      version: 1,
      algorithm: this.name,
      config: { ...this.config },
      iterations: this.iterationCount,
      groups: this.getHypers(),
      variables,
    };
  }

  /**
   * Restores a state returned by `getState` (also after a JSON round trip): hyperparameters, iterations and slots.
   * Slots are matched to variables by position: variables this optimizer has already seen at once, the others on
   * their first gradient. Throws, naming the first mismatched variable, when a shape or group differs, and when the
   * algorithm, its config or the number of groups differ.
   */
  async setState(state: unknown): Promise<void> {
    const parsed = parseOptimizerState(state, this.algorithm, this.groups.length);
    const byPosition = new Map(parsed.variables.map((entry) => [entry.position, entry]));
    for (const [variable, entry] of this.slots) {
      const saved = byPosition.get(entry.position);
      if (saved !== undefined) this.checkMatch(variable, entry.group, saved);
    }
    this.clearSlots();
    parsed.groups.forEach((hypers, index) => Object.assign(this.groups[index]!.hypers, hypers));
    this.iterationCount = parsed.iterations;
    for (const entry of parsed.variables) this.pending.set(entry.position, entry);
  }

  /**
   * Frees every slot tensor and forgets the variables. The optimizer stays usable: variables get fresh slots (and
   * new positions) on their next gradient.
   */
  dispose(): void {
    this.clearSlots();
    this.positions.clear();
  }

  private clearSlots(): void {
    for (const entry of this.slots.values()) {
      for (const tensor of Object.values(entry.state)) tensor.dispose();
    }
    this.slots.clear();
    this.pending.clear();
  }

  private groupIndex(group: number): number {
    if (!Number.isInteger(group) || group < 0 || group >= this.groups.length) {
      throw new Error(`group must be an integer in [0, ${this.groups.length - 1}] (received ${group})`);
    }
    return group;
  }

  private groupOf(variable: tf.Variable): number {
    const group = this.membership.get(variable) ?? this.catchAll;
    if (group === null) {
      throw new Error(
        `variable "${variable.name}" is in no parameter group (list it in one, or add a group without ` +
          '`variables` to catch the rest)'
      );
    }
    return group;
  }

  private checkMatch(variable: tf.Variable, group: number, saved: SavedVariableState): void {
    if (!tf.util.arraysEqual(saved.shape, variable.shape) || saved.group !== group) {
      throw new Error(
        `state.variables position ${saved.position} (saved as "${saved.name}", shape [${String(saved.shape)}], ` +
          `group ${saved.group}) does not match variable "${variable.name}" (shape [${String(variable.shape)}], ` +
          `group ${group})`
      );
    }
  }

  private slotsOf(variable: tf.Variable): VariableSlots {
    const known = this.slots.get(variable);
    if (known !== undefined) return known;
    const group = this.groupOf(variable);
    const position = this.positionFor(variable);
    const saved = this.pending.get(position);
    let entry: VariableSlots;
    if (saved !== undefined) {
      this.checkMatch(variable, group, saved);
      const state: SlotTensors = {};
      for (const [name, values] of Object.entries(saved.slots)) state[name] = tf.tensor(values, saved.shape, 'float32');
      entry = { position, group, step: saved.step, state };
      this.pending.delete(position);
    } else {
      entry = { position, group, step: 0, state: tf.tidy(() => this.algorithm.initState(variable)) };
    }
    this.slots.set(variable, entry);
    return entry;
  }

  /** A variable's position: the order of first gradients, kept for the optimizer's life (until `dispose`). */
  private positionFor(variable: tf.Variable): number {
    let position = this.positions.get(variable);
    if (position === undefined) {
      position = this.positions.size;
      this.positions.set(variable, position);
    }
    return position;
  }

  private updateOne(variable: tf.Variable, gradient: tf.Tensor, entry: VariableSlots): void {
    const step = entry.step + 1;
    const hypers = this.groups[entry.group]!.hypers;
    const old = entry.state;
    const result = tf.tidy(() => {
      const { value, state } = this.algorithm.update(gradient, variable, hypers, old, step);
      const kept: SlotTensors = {};
      const used = new Set<tf.Tensor>();
      for (const [name, tensor] of Object.entries(state)) {
        // A slot must own its tensor: never the gradient (the learner disposes it), the variable, or a shared one.
        const alias = tensor === gradient || tensor === variable || used.has(tensor);
        kept[name] = alias ? tf.clone(tensor) : tensor;
        used.add(kept[name]);
      }
      if (value !== variable) variable.assign(value);
      return kept;
    });
    this.replaceSlots(entry, result);
  }

  /** Takes a variable's slots after its update (counting the step) and frees the ones replaced. */
  private replaceSlots(entry: VariableSlots, next: SlotTensors): void {
    const keptTensors = new Set(Object.values(next));
    for (const tensor of Object.values(entry.state)) if (!keptTensors.has(tensor)) tensor.dispose();
    entry.state = next;
    entry.step += 1;
  }
}
