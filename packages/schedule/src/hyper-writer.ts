import type { OptimizerLike } from '@convkit/learner';

/**
 * What a schedule needs from an optimizer with parameter groups (as `@convkit/optim`'s `Optimizer` provides): the
 * number of groups, each group's hyperparameters, and `setHyper(name, perGroup)` taking one value per group. An
 * optimizer without groups (or with a single one) is driven through the plain `setHyper(name, value)`.
 */
export interface GroupedOptimizer {
  /** How many parameter groups the optimizer has. */
  readonly groupCount: number;
  /** Each group's hyperparameter values, in group order. */
  getHypers(): readonly Readonly<Record<string, number>>[];
  /** Sets a hyperparameter per group (one value per group, in order). */
  setHyper(name: string, value: number | readonly number[]): void;
}

/** Returns the optimizer as a {@link GroupedOptimizer} when it has more than one parameter group. */
export function groupsOf(optimizer: OptimizerLike): GroupedOptimizer | undefined {
  const grouped = optimizer as Partial<GroupedOptimizer>;
  return typeof grouped.getHypers === 'function' && typeof grouped.groupCount === 'number' && grouped.groupCount > 1
    ? (optimizer as unknown as GroupedOptimizer)
    : undefined;
}

/**
 * Writes one scheduled hyperparameter. With parameter groups every group follows the schedule in proportion to
 * its value when the writer was made (so discriminative rates survive a schedule): group g gets
 * `value · initial_g / initial_reference`, where the reference is `optimizer.getHyper(name)`.
 */
export interface HyperWriter {
  /** Sets the reference value (and every group in proportion). */
  write(value: number): void;
  /** The reference value now. */
  read(): number;
  /** Multiplies every group by `factor`, not below `minimum`, skipping changes smaller than `eps` (plateau). */
  scale(factor: number, minimum: number, eps: number): boolean;
}

/** Makes a {@link HyperWriter} for `name`, reading the group ratios now. */
export function hyperWriter(optimizer: OptimizerLike, name: string): HyperWriter {
  if (!optimizer.hyperNames.includes(name)) {
    throw new Error(
      `the optimizer has no hyperparameter "${name}" (available: ${optimizer.hyperNames.join(', ') || 'none'})`
    );
  }
  const grouped = groupsOf(optimizer);
  const reference = optimizer.getHyper(name);
  const ratios = grouped?.getHypers().map((hypers) => {
    const own = hypers[name];
    return typeof own === 'number' && reference !== 0 ? own / reference : 1;
  });
  return {
    read: () => optimizer.getHyper(name),
    write: (value) => {
      if (grouped && ratios) grouped.setHyper(name, ratios.map((r) => r * value));
      else optimizer.setHyper(name, value);
    },
    scale: (factor, minimum, eps) => {
      const current = grouped ? grouped.getHypers().map((hypers) => hypers[name] ?? reference) : [optimizer.getHyper(name)];
      const next = current.map((old) => {
        const lowered = Math.max(old * factor, minimum);
        return old - lowered > eps ? lowered : old;
      });
      if (next.every((value, i) => value === current[i])) return false;
      if (grouped) grouped.setHyper(name, next);
      else optimizer.setHyper(name, next[0]!);
      return true;
    },
  };
}
