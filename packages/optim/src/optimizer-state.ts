import { checkHyperName, checkHyperValue } from './hypers.js';
import type { OptimizerAlgorithm } from './algorithm.js';

/** The saved state of one variable: its slots as plain arrays, row-major. */
export interface SavedVariableState {
  /** Position of the variable: the order in which the optimizer first received its gradient (0-based). */
  position: number;
  /** The variable's name when saved (for messages; restoring matches by position, not by name). */
  name: string;
  /** Index of the variable's parameter group. */
  group: number;
  /** The variable's shape. */
  shape: number[];
  /** How many updates the variable has had (Adam's bias correction and Adagrad's decay use it). */
  step: number;
  /** Slot name → values (float32 values as plain numbers, exact through JSON). */
  slots: Record<string, number[]>;
}

/**
 * An optimizer's complete state, JSON-serialisable: what {@link Optimizer.getState} returns and
 * {@link Optimizer.setState} restores.
 */
export interface OptimizerState {
  format: 'convkit-optim-state';
  version: 1;
  /** The algorithm's name, e.g. `'adam'`. */
  algorithm: string;
  /** The structural options (`nesterov`, `amsgrad`, …). */
  config: Record<string, number | boolean>;
  /** Number of `applyGradients` calls so far. */
  iterations: number;
  /** Hyperparameters of each parameter group. */
  groups: Record<string, number>[];
  /** Per-variable slots, by position. */
  variables: SavedVariableState[];
}

function fail(message: string): never {
  throw new Error(message.startsWith('.') ? `state${message}` : `state ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkCount(label: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    fail(`${label} must be a non-negative integer (received ${JSON.stringify(value)})`);
  }
  return value;
}

function checkVariable(entry: unknown, index: number, groupCount: number): SavedVariableState {
  const label = `.variables[${index}]`;
  if (!isObject(entry)) fail(`${label} must be an object (received ${JSON.stringify(entry)})`);
  const position = checkCount(`${label}.position`, entry.position);
  const group = checkCount(`${label}.group`, entry.group);
  if (group >= groupCount) fail(`${label}.group must be < ${groupCount} (received ${group})`);
  const step = checkCount(`${label}.step`, entry.step);
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((size) => Number.isInteger(size) && size >= 0)) {
    fail(`${label}.shape must be an array of sizes (received ${JSON.stringify(shape)})`);
  }
  const size = (shape as number[]).reduce((product, dim) => product * dim, 1);
  if (!isObject(entry.slots)) fail(`${label}.slots must be an object (received ${JSON.stringify(entry.slots)})`);
  const slots: Record<string, number[]> = {};
  for (const [name, values] of Object.entries(entry.slots)) {
    if (!Array.isArray(values) || values.length !== size || !values.every((v) => typeof v === 'number')) {
      const received = Array.isArray(values) ? `${values.length} values` : JSON.stringify(values);
      fail(`${label}.slots.${name} must hold ${size} numbers for shape [${String(shape)}] (received ${received})`);
    }
    slots[name] = values as number[];
  }
  const name = typeof entry.name === 'string' ? entry.name : `#${position}`;
  return { position, name, group, shape: [...(shape as number[])], step, slots };
}

/**
 * Validates a state for an optimizer of `algorithm` with `groupCount` groups: format, algorithm name, config,
 * group count, hyperparameter names and values, and each variable entry. Throws an error naming the first
 * problem; returns the state typed.
 */
export function parseOptimizerState(state: unknown, algorithm: OptimizerAlgorithm, groupCount: number): OptimizerState {
  if (!isObject(state) || state.format !== 'convkit-optim-state') {
    throw new Error(
      'state must be an object returned by Optimizer.getState() with format "convkit-optim-state" ' +
        `(received ${isObject(state) ? `format ${JSON.stringify(state.format)}` : JSON.stringify(state)})`
    );
  }
  if (state.version !== 1) fail(`.version must be 1 (received ${JSON.stringify(state.version)})`);
  if (state.algorithm !== algorithm.name) {
    fail(`is for optimizer "${String(state.algorithm)}", not "${algorithm.name}"`);
  }
  const config = isObject(state.config) ? state.config : {};
  for (const [key, value] of Object.entries(algorithm.config)) {
    if (config[key] !== value) {
      fail(`.config.${key} is ${JSON.stringify(config[key])}, but this optimizer has ${key} = ${JSON.stringify(value)}`);
    }
  }
  const iterations = checkCount('.iterations', state.iterations);
  if (!Array.isArray(state.groups) || state.groups.length !== groupCount) {
    const received = Array.isArray(state.groups) ? `${state.groups.length} groups` : JSON.stringify(state.groups);
    fail(`.groups must have one entry per parameter group (${groupCount}) (received ${received})`);
  }
  const names = Object.keys(algorithm.defaults);
  const groups = state.groups.map((hypers: unknown, index) => {
    if (!isObject(hypers)) fail(`.groups[${index}] must be an object (received ${JSON.stringify(hypers)})`);
    for (const name of Object.keys(hypers)) checkHyperName(`state.groups[${index}] key`, name, names);
    const checked: Record<string, number> = {};
    for (const name of names) {
      checked[name] = checkHyperValue(`state.groups[${index}].${name}`, hypers[name], algorithm.limits?.[name]);
    }
    return checked;
  });
  if (!Array.isArray(state.variables)) fail(`.variables must be an array (received ${JSON.stringify(state.variables)})`);
  const variables = state.variables.map((entry, index) => checkVariable(entry, index, groupCount));
  const seen = new Set<number>();
  for (const entry of variables) {
    if (seen.has(entry.position)) fail(`.variables has position ${entry.position} twice`);
    seen.add(entry.position);
  }
  return {
    format: 'convkit-optim-state',
    version: 1,
    algorithm: algorithm.name,
    config: { ...algorithm.config },
    iterations,
    groups,
    variables,
  };
}
