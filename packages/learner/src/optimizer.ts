import * as tf from '@tensorflow/tfjs';

/** A variable and its gradient, as the loop hands them to the optimizer. */
export interface VariableGradient {
  variable: tf.Variable;
  gradient: tf.Tensor;
}

/**
 * The optimizer interface the learner drives. Hyperparameters are named and public, so any plugin can schedule any
 * of them (`ctx.hypers.momentum = 0.9`); `@convkit/optim` implements it natively, and {@link fromTfOptimizer}
 * adapts the stock tfjs optimizers.
 *
 * `applyGradients` updates the variables in place; it does not dispose the gradients (the learner does).
 * `dispose` frees the optimizer's own tensors (moments, accumulators); the learner never calls it, the code that
 * created the optimizer does.
 */
export interface OptimizerLike {
  /** Names of the hyperparameters `getHyper`/`setHyper` accept, e.g. `['learningRate', 'momentum']`. */
  readonly hyperNames: readonly string[];
  /** Current value of a hyperparameter; throws for an unknown name. */
  getHyper(name: string): number;
  /** Sets a hyperparameter; the next `applyGradients` uses it. Throws for an unknown name or a non-finite value. */
  setHyper(name: string, value: number): void;
  /** One update step. Does not dispose the gradients. */
  applyGradients(grads: VariableGradient[]): void;
  /** JSON-serialisable state (hyperparameters and slots), for checkpoints. */
  getState?(): Promise<unknown>;
  /** Restores a state returned by `getState`. */
  setState?(state: unknown): Promise<void>;
  /** Frees the optimizer's tensors. */
  dispose(): void;
}

type Fields = Record<string, unknown>;

interface HyperAccess {
  get(): number;
  set(value: number): void;
}

/** The numeric fields of each stock tfjs optimizer that its `applyGradients` reads at every step. */
function hyperAccessors(optimizer: tf.Optimizer): Map<string, HyperAccess> {
  const fields = optimizer as unknown as Fields;
  const field = (name: string): HyperAccess => ({
    get: () => fields[name] as number,
    set: (value) => {
      fields[name] = value;
    },
  });
  const className = (optimizer.constructor as { className?: string }).className;
  const access = new Map<string, HyperAccess>();
  if (className === 'SGD' || className === 'Momentum') {
    // SGD (and Momentum, its subclass) multiply by a kept scalar `c = -learningRate`; setLearningRate rebuilds it.
    // (`instanceof tf.SGDOptimizer` is no test: tfjs optimizers answer instanceof by duck typing.)
    const sgd = optimizer as tf.SGDOptimizer;
    access.set('learningRate', { get: field('learningRate').get, set: (value) => sgd.setLearningRate(value) });
  } else if (typeof fields.learningRate === 'number') {
    // Adam, Adamax, RMSProp, Adagrad, Adadelta read `this.learningRate` as a number at every step.
    access.set('learningRate', field('learningRate'));
  }
  if (className === 'Momentum') {
    // Momentum keeps `m = scalar(momentum)`; setMomentum only changes the number, so rebuild the scalar too.
    access.set('momentum', {
      get: field('momentum').get,
      set: (value) => {
        fields.momentum = value;
        (fields.m as tf.Tensor | undefined)?.dispose();
        fields.m = tf.keep(tf.scalar(value));
      },
    });
  } else if (className === 'RMSProp') {
    access.set('momentum', field('momentum'));
  }
  if (className === 'Adam' || className === 'Adamax') {
    access.set('beta1', field('beta1'));
    access.set('beta2', field('beta2'));
  }
  return access;
}

interface SavedTensor {
  name: string;
  shape: number[];
  dtype: tf.DataType;
  values: number[];
}

interface TfOptimizerState {
  hypers: Record<string, number>;
  weights: SavedTensor[];
}

/**
 * Adapts a stock tfjs optimizer (`tf.train.sgd`, `momentum`, `adam`, `adamax`, `rmsprop`, `adagrad`, `adadelta`)
 * to {@link OptimizerLike}, exposing `learningRate` — and `momentum` (Momentum, RMSProp), `beta1` and `beta2`
 * (Adam, Adamax) — as settable hyperparameters.
 *
 * Why: tfjs keeps these as constructor arguments and protected fields, and only SGD has a setter, so a scheduler
 * could not change them. The adapter sets the fields that tfjs-core 4.22 reads at every `applyGradients`: for SGD
 * and Momentum it rebuilds the kept scalars (`c = -learningRate`, `m = momentum`) as `setLearningRate` does, so a
 * value set between steps is used by the very next step (SGD: Δw = −learningRate·g).
 *
 * The adapter also keeps each variable at a fixed position in the list it passes to tfjs (whose optimizers match
 * their slots to variables by position), so a variable without a gradient in some step does not shift the others'
 * moments.
 *
 * Ownership: the adapter's `dispose()` disposes the wrapped optimizer. `getState` reads the slots into plain
 * arrays; `setState` replaces them (disposing the old ones).
 *
 * @param optimizer - A tfjs optimizer. Not copied: the adapter drives this object.
 * @returns An {@link OptimizerLike} over `optimizer`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { fromTfOptimizer } from '@convkit/learner';
 * const optimizer = fromTfOptimizer(tf.train.momentum(0.1, 0.9));
 * optimizer.setHyper('learningRate', 0.01);
 * console.log(optimizer.hyperNames); // ['learningRate', 'momentum']
 * ```
 */
export function fromTfOptimizer(optimizer: tf.Optimizer): OptimizerLike {
  if (!(optimizer instanceof tf.Optimizer)) {
    throw new Error(`optimizer must be a tf.Optimizer (received ${typeof optimizer})`);
  }
  const access = hyperAccessors(optimizer);
  const hyperNames = [...access.keys()];
  const positions = new Map<string, number>();
  const lookup = (name: string): HyperAccess => {
    const found = access.get(name);
    if (found === undefined) {
      throw new Error(`unknown hyperparameter "${name}" (available: ${hyperNames.join(', ') || 'none'})`);
    }
    return found;
  };
  const adapter: OptimizerLike = {
    hyperNames,
    getHyper: (name) => lookup(name).get(),
    setHyper: (name, value) => {
      const found = lookup(name);
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new Error(`${name} must be a finite number (received ${String(value)})`);
      }
      found.set(value);
    },
    applyGradients: (grads) => {
      for (const { variable } of grads) {
        if (!positions.has(variable.name)) positions.set(variable.name, positions.size);
      }
      const named: { name: string; tensor: tf.Tensor }[] = [...positions.keys()].map((name) => ({
        name,
        tensor: null as unknown as tf.Tensor,
      }));
      for (const { variable, gradient } of grads) named[positions.get(variable.name)!]!.tensor = gradient;
      optimizer.applyGradients(named);
    },
    getState: async (): Promise<TfOptimizerState> => {
      const hypers = Object.fromEntries(hyperNames.map((name) => [name, lookup(name).get()]));
      const weights: SavedTensor[] = [];
      for (const { name, tensor } of await optimizer.getWeights()) {
        weights.push({ name, shape: [...tensor.shape], dtype: tensor.dtype, values: Array.from(await tensor.data()) });
        if (!(tensor instanceof tf.Variable)) tensor.dispose();
      }
      return { hypers, weights };
    },
    setState: async (state) => {
      const saved = state as Partial<TfOptimizerState> | null;
      if (!saved || typeof saved.hypers !== 'object' || !Array.isArray(saved.weights)) {
        throw new Error('state must be an object { hypers, weights } returned by getState');
      }
      for (const [name, value] of Object.entries(saved.hypers)) adapter.setHyper(name, value);
      for (const { tensor } of await optimizer.getWeights()) tensor.dispose();
      const tensors = saved.weights.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape, w.dtype) }));
      try {
        await optimizer.setWeights(tensors);
      } finally {
        for (const { tensor } of tensors) tensor.dispose();
      }
    },
    dispose: () => {
      optimizer.dispose();
      // MomentumOptimizer.dispose() forgets the `c` scalar of its SGD base class (tfjs-core 4.22).
      const kept = (optimizer as unknown as Fields).c;
      if (kept instanceof tf.Tensor && !kept.isDisposed) kept.dispose();
    },
  };
  return adapter;
}

/** Returns `optimizer` if it is an {@link OptimizerLike}, wraps a `tf.Optimizer`, and throws otherwise. */
export function toOptimizerLike(optimizer: unknown): OptimizerLike {
  const candidate = optimizer as Partial<OptimizerLike> | null | undefined;
  if (candidate && Array.isArray(candidate.hyperNames) && typeof candidate.setHyper === 'function') {
    return candidate as OptimizerLike;
  }
  if (optimizer instanceof tf.Optimizer) return fromTfOptimizer(optimizer);
  throw new Error(
    'optimizer must be an OptimizerLike (hyperNames, getHyper, setHyper, applyGradients, dispose) or a tf.Optimizer ' +
      `(received ${optimizer === null ? 'null' : typeof optimizer})`
  );
}

/**
 * Checks the optimizer's hyperparameters before a fit: each must be a finite number, and the learning rate must not
 * be negative. An optimizer made with a bad rate (`tf.train.sgd(NaN)`) would otherwise train to NaN silently,
 * although `setHyper` refuses such values.
 */
export function checkOptimizerHypers(optimizer: OptimizerLike): void {
  for (const name of optimizer.hyperNames) {
    const value = optimizer.getHyper(name);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(
        `optimizer hyperparameter ${name} must be a finite number (received ${String(value)}); ` +
          `the optimizer was made or left with it (e.g. tf.train.sgd(${String(value)}))`
      );
    }
    if (name === 'learningRate' && value < 0) {
      throw new Error(`optimizer hyperparameter learningRate must be >= 0 (received ${value})`);
    }
  }
}
