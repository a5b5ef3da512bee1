import { getHyperByKey, hyperKeys, isHyperKey, setHyperByKey } from './group-hypers.js';
import type { OptimizerLike } from './optimizer.js';

// The loop's types live in loop-types.ts (which imports nothing above it); re-exported here for older imports.
export type { LastMetrics } from './history.js';
export type { LoopContext, LoopLearner } from './loop-types.js';

/** A live `Record<string, number>` over an optimizer's hyperparameters (keys as in {@link readHypers}). */
export function hyperView(optimizer: OptimizerLike): Record<string, number> {
  const known = (name: string | symbol): name is string => typeof name === 'string' && isHyperKey(optimizer, name);
  const fail = (name: string | symbol): never => {
    throw new Error(
      `"${String(name)}" is not a hyperparameter of the optimizer (available: ${hyperKeys(optimizer).join(', ')})`
    );
  };
  return new Proxy({} as Record<string, number>, {
    get: (_target, name) => (known(name) ? getHyperByKey(optimizer, name) : undefined),
    set: (_target, name, value: number) => {
      if (!known(name)) return fail(name);
      setHyperByKey(optimizer, name, value);
      return true;
    },
    has: (_target, name) => known(name),
    ownKeys: () => hyperKeys(optimizer),
    getOwnPropertyDescriptor: (_target, name) =>
      known(name)
        ? { value: getHyperByKey(optimizer, name), writable: true, enumerable: true, configurable: true }
        : undefined,
    deleteProperty: (_target, name) => fail(name),
    defineProperty: (_target, name) => fail(name),
  });
}

/**
 * A plain snapshot of the optimizer's hyperparameters: each name holds group 0's value; with parameter groups,
 * `name/1`, `name/2`, … hold the other groups' (see `hyperKeys`).
 */
export function readHypers(optimizer: OptimizerLike): Record<string, number> {
  return Object.fromEntries(hyperKeys(optimizer).map((key) => [key, getHyperByKey(optimizer, key)!]));
}
