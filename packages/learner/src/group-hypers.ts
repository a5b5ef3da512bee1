import type { OptimizerLike } from './optimizer.js';

/**
 * What the learner needs from an optimizer with parameter groups (`@convkit/optim`'s `Optimizer` has it): the
 * number of groups, each group's values, and `setHyper(name, perGroup)` taking one value per group.
 */
interface GroupedHypers {
  readonly groupCount: number;
  getHypers(): readonly Readonly<Record<string, number>>[];
  setHyper(name: string, value: number | readonly number[]): void;
}

/** The optimizer's groups when it has more than one, else undefined (one group: plain names suffice). */
function groupsOf(optimizer: OptimizerLike): GroupedHypers | undefined {
  const grouped = optimizer as Partial<GroupedHypers>;
  return typeof grouped.getHypers === 'function' && typeof grouped.groupCount === 'number' && grouped.groupCount > 1
    ? (optimizer as unknown as GroupedHypers)
    : undefined;
}

const GROUP_KEY = /^(.+)\/(0|[1-9]\d*)$/;

/** `learningRate` → `{ name }`; `learningRate/1` → `{ name, group: 1 }`; undefined for a key the optimizer lacks. */
function parseKey(optimizer: OptimizerLike, key: string): { name: string; group?: number } | undefined {
  if (optimizer.hyperNames.includes(key)) return { name: key };
  const match = GROUP_KEY.exec(key);
  if (match === null || !optimizer.hyperNames.includes(match[1]!)) return undefined;
  const group = Number(match[2]);
  return group < (groupsOf(optimizer)?.groupCount ?? 1) ? { name: match[1]!, group } : undefined;
}

/**
 * The hyperparameter keys of an optimizer, as history records them: each name (group 0's value, as before groups
 * existed), followed, with parameter groups, by `name/1`, `name/2`, … for the other groups (like Lightning's
 * `lr-Adam/pg1`): `['learningRate', 'learningRate/1', 'momentum', 'momentum/1']`.
 */
export function hyperKeys(optimizer: OptimizerLike): string[] {
  const count = groupsOf(optimizer)?.groupCount ?? 1;
  return optimizer.hyperNames.flatMap((name) => [name, ...Array.from({ length: count - 1 }, (_, g) => `${name}/${g + 1}`)]);
}

/** Whether `key` is a hyperparameter key of the optimizer (a name, or `name/g` for an existing group g, 0 included). */
export function isHyperKey(optimizer: OptimizerLike, key: string): boolean {
  return parseKey(optimizer, key) !== undefined;
}

/** The value of a key: a plain name reads group 0, `name/g` reads group g. Undefined for an unknown key. */
export function getHyperByKey(optimizer: OptimizerLike, key: string): number | undefined {
  const parsed = parseKey(optimizer, key);
  if (parsed === undefined) return undefined;
  const grouped = groupsOf(optimizer);
  return parsed.group === undefined || grouped === undefined
    ? optimizer.getHyper(parsed.name)
    : grouped.getHypers()[parsed.group]![parsed.name];
}

/**
 * Writes a key: a plain name sets every group (fastai's `set_hyper`, torch's loop over `param_groups`); `name/g`
 * sets group g only. Throws for an unknown key, listing the keys there are.
 */
export function setHyperByKey(optimizer: OptimizerLike, key: string, value: number): void {
  const parsed = parseKey(optimizer, key);
  if (parsed === undefined) {
    throw new Error(`"${key}" is not a hyperparameter of the optimizer (available: ${hyperKeys(optimizer).join(', ')})`);
  }
  const grouped = groupsOf(optimizer);
  if (parsed.group === undefined || grouped === undefined) {
    optimizer.setHyper(parsed.name, value);
    return;
  }
  const values = grouped.getHypers().map((hypers) => hypers[parsed.name]!);
  values[parsed.group] = value;
  grouped.setHyper(parsed.name, values);
}
