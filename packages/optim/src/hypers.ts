import type { HyperLimit } from './algorithm.js';

/** Formats the allowed range of a hyperparameter for an error message, e.g. `a number in [0, 1)`. */
function describeLimit(limit: HyperLimit): string {
  const min = limit.min ?? 0;
  const max = limit.max ?? Infinity;
  if (max === Infinity) return `a finite number >= ${min}`;
  return `a number in [${min}, ${max}${limit.maxExclusive === true ? ')' : ']'}`;
}

/**
 * Throws unless `value` is a finite number within `limit`; the message names `label` (the argument, e.g.
 * `paramGroups[1].hypers.learningRate`), the value received and what was expected.
 */
export function checkHyperValue(label: string, value: unknown, limit: HyperLimit = {}): number {
  const min = limit.min ?? 0;
  const max = limit.max ?? Infinity;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= min &&
    (limit.maxExclusive === true ? value < max : value <= max);
  if (!ok) {
    const received = typeof value === 'number' || value === undefined ? String(value) : JSON.stringify(value);
    throw new Error(`${label} must be ${describeLimit(limit)} (received ${received})`);
  }
  return value;
}

/** Throws unless `name` is one of `names`, listing them. */
export function checkHyperName(label: string, name: unknown, names: readonly string[]): string {
  if (typeof name !== 'string' || !names.includes(name)) {
    throw new Error(`${label} must be a hyperparameter name, one of ${names.join(', ')} (received ${JSON.stringify(name)})`);
  }
  return name;
}

/**
 * Throws if `options` has a key outside `allowed`, so that a misspelt or abbreviated option (`lr`, `wd`) fails
 * loudly instead of being ignored.
 */
export function checkOptionNames(factory: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new Error(`${factory}: unknown option "${key}" (expected one of: ${allowed.join(', ')})`);
    }
  }
}

/** Throws unless `value` is a boolean or undefined; returns it or `fallback`. */
export function checkFlag(label: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new Error(`${label} must be a boolean (received ${JSON.stringify(value)})`);
  return value;
}

/** Drops keys whose value is `undefined`, so that they take the defaults. */
export function definedOnly(values: Readonly<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined) out[key] = value as number;
  return out;
}
