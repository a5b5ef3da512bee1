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

/** How many parameter groups the optimizer has (1 for an optimizer without groups). */
export function groupCountOf(optimizer: OptimizerLike): number {
  return groupsOf(optimizer)?.groupCount ?? 1;
}

/**
 * Reads and writes one hyperparameter in every parameter group, as torch's schedulers do with `param_groups`: a
 * value is absolute (no scaling from another group), one number sets every group, an array one value per group.
 */
export interface HyperWriter {
  /** How many groups the optimizer has (1 without groups). */
  readonly groupCount: number;
  /** Sets every group to `value`, or group g to `value[g]` (the array has one value per group). */
  write(value: number | readonly number[]): void;
  /** Each group's value now, in group order. */
  read(): number[];
  /** Multiplies every group by `factor`, not below `minimum`, skipping changes smaller than `eps` (plateau). */
  scale(factor: number, minimum: number, eps: number): boolean;
}

/** Makes a {@link HyperWriter} for `name`; throws when the optimizer has no such hyperparameter. */
export function hyperWriter(optimizer: OptimizerLike, name: string): HyperWriter {
  if (!optimizer.hyperNames.includes(name)) {
    throw new Error(
      `the optimizer has no hyperparameter "${name}" (available: ${optimizer.hyperNames.join(', ') || 'none'})`
    );
  }
  const grouped = groupsOf(optimizer);
  const groupCount = grouped?.groupCount ?? 1;
  const read = (): number[] =>
    grouped ? grouped.getHypers().map((hypers) => hypers[name] ?? optimizer.getHyper(name)) : [optimizer.getHyper(name)];
  const write = (value: number | readonly number[]): void => {
    if (typeof value === 'number') {
      optimizer.setHyper(name, value);
      return;
    }
    if (value.length !== groupCount) {
      throw new Error(`${name} needs one value per parameter group (${groupCount}) (received ${value.length} values)`);
    }
    if (grouped) grouped.setHyper(name, value);
    else optimizer.setHyper(name, value[0]!);
  };
  return {
    groupCount,
    read,
    write,
    scale: (factor, minimum, eps) => {
      const current = read();
      const next = current.map((old) => {
        const lowered = Math.max(old * factor, minimum);
        return old - lowered > eps ? lowered : old;
      });
      if (next.every((value, i) => value === current[i])) return false;
      write(next);
      return true;
    },
  };
}

/**
 * One value per parameter group from a number (the same for every group) or an array (one per group, checked
 * against `groupCount`), for options that torch takes as a float or a list (`max_lr`, `base_lr`, …).
 */
export function perGroup(label: string, value: number | readonly number[], groupCount: number): number[] {
  if (typeof value === 'number') return Array.from({ length: groupCount }, () => value);
  if (value.length !== groupCount) {
    throw new Error(
      `${label} has ${value.length} values but the optimizer has ${groupCount} parameter group${groupCount === 1 ? '' : 's'} ` +
        '(give one number for every group, or one value per group)'
    );
  }
  return [...value];
}
