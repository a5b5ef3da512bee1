import * as tf from '@tensorflow/tfjs';
import type { OptimizerAlgorithm } from './algorithm.js';
import { checkHyperName, checkHyperValue } from './hypers.js';

/**
 * A parameter group: a set of variables with their own hyperparameters, e.g. a lower learning rate for a
 * pretrained backbone than for a new head.
 *
 * `variables` omitted makes the group the catch-all: every variable that no other group lists goes there (at most
 * one group may omit it). `hypers` overrides the optimizer-wide values for this group; names not given inherit them.
 */
export interface ParamGroup {
  /** The group's variables; omit for the catch-all group. Must not be empty. */
  variables?: readonly tf.Variable[];
  /** Hyperparameters of this group; the others come from the optimizer's options. Defaults to none. */
  hypers?: Readonly<Record<string, number>>;
}

/** Options of the {@link Optimizer} constructor. */
export interface OptimizerOptions {
  /** Optimizer-wide hyperparameters; names not given take the algorithm's defaults. Defaults to none. */
  hypers?: Readonly<Record<string, number>>;
  /** Parameter groups with their own hyperparameters. Defaults to one group holding every variable. */
  paramGroups?: readonly ParamGroup[];
}

/** Which group `getHyper`/`setHyper` address. */
export interface GroupSelector {
  /** Index of the parameter group. Defaults to group 0 for `getHyper` and to every group for `setHyper`. */
  group?: number;
}

/** A parameter group after validation. */
export interface ResolvedGroup {
  /** `null` for the catch-all group. */
  variables: ReadonlySet<tf.Variable> | null;
  hypers: Record<string, number>;
}

/** Groups, a variable → group index map, and the index of the catch-all group (or null). */
export interface ResolvedGroups {
  groups: ResolvedGroup[];
  membership: Map<tf.Variable, number>;
  catchAll: number | null;
}

/** Validates one full set of hyperparameters; `label` prefixes error messages. */
export function checkHypers(
  algorithm: OptimizerAlgorithm,
  label: string,
  hypers: Readonly<Record<string, number>>
): Record<string, number> {
  const names = Object.keys(algorithm.defaults);
  const checked: Record<string, number> = {};
  for (const name of Object.keys(hypers)) checkHyperName(`${label} key`, name, names);
  for (const name of names) {
    checked[name] = checkHyperValue(`${label}.${name}`, hypers[name], algorithm.limits?.[name]);
  }
  const problem = algorithm.checkGroup?.(checked);
  if (problem !== undefined) throw new Error(`${label}: ${problem}`);
  return checked;
}

/**
 * Validates the flat hyperparameter options of a factory (`sgd({ learningRate })`), naming each as the caller wrote
 * it: `sgd: learningRate must be a finite number >= 0 (received NaN)`. Refuses NaN, ±Infinity, values out of range
 * (a negative rate) and a non-number before anything is built.
 */
export function checkFactoryHypers(algorithm: OptimizerAlgorithm, hypers: Readonly<Record<string, number>>): void {
  const merged: Readonly<Record<string, number>> = { ...algorithm.defaults, ...hypers };
  for (const name of Object.keys(algorithm.defaults)) {
    checkHyperValue(`${algorithm.name}: ${name}`, merged[name], algorithm.limits?.[name]);
  }
}

/**
 * Validates `paramGroups` against the optimizer-wide `base` hyperparameters: no empty group, no variable in two
 * groups (or twice in one), at most one catch-all group, known hyperparameter names and valid values. Without
 * `paramGroups`, one catch-all group with `base`.
 */
export function resolveGroups(
  algorithm: OptimizerAlgorithm,
  base: Readonly<Record<string, number>>,
  paramGroups: readonly ParamGroup[] | undefined
): ResolvedGroups {
  if (paramGroups === undefined) {
    return { groups: [{ variables: null, hypers: { ...base } }], membership: new Map(), catchAll: 0 };
  }
  if (!Array.isArray(paramGroups) || paramGroups.length === 0) {
    const received = Array.isArray(paramGroups) ? '[]' : typeof paramGroups;
    throw new Error(`paramGroups must be a non-empty array of { variables?, hypers? } (received ${received})`);
  }
  const groups: ResolvedGroup[] = [];
  const membership = new Map<tf.Variable, number>();
  let catchAll: number | null = null;
  paramGroups.forEach((group, index) => {
    const label = `paramGroups[${index}]`;
    if (group === null || typeof group !== 'object') {
      throw new Error(`${label} must be an object { variables?, hypers? } (received ${String(group)})`);
    }
    const hypers = checkHypers(algorithm, `${label}.hypers`, { ...base, ...(group.hypers ?? {}) });
    if (group.variables === undefined) {
      if (catchAll !== null) {
        throw new Error(
          `${label}.variables is missing, but paramGroups[${catchAll}] is already the catch-all group ` +
            '(at most one group may omit variables)'
        );
      }
      catchAll = index;
      groups.push({ variables: null, hypers });
      return;
    }
    if (!Array.isArray(group.variables) || group.variables.length === 0) {
      const received = Array.isArray(group.variables) ? '[]' : typeof group.variables;
      throw new Error(`${label}.variables must be a non-empty array of tf.Variable (received ${received})`);
    }
    const variables = new Set<tf.Variable>();
    (group.variables as readonly unknown[]).forEach((variable, position) => {
      if (!(variable instanceof tf.Variable)) {
        throw new Error(`${label}.variables[${position}] must be a tf.Variable (received ${typeof variable})`);
      }
      const other = membership.get(variable);
      if (other !== undefined) {
        const where = other === index ? `twice in ${label}` : `in both paramGroups[${other}] and ${label}`;
        throw new Error(`variable "${variable.name}" is ${where} (a variable belongs to exactly one group)`);
      }
      membership.set(variable, index);
      variables.add(variable);
    });
    groups.push({ variables, hypers });
  });
  return { groups, membership, catchAll };
}
