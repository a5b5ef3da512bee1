import type { Dataset } from '@convkit/data';

// Argument checks shared by the package: each error names the argument, the value received and what was expected.

/** A short readable description of any value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const name: string = (value as object).constructor?.name ?? 'Object';
  const article = /^[AEIOU]/i.test(name) ? 'an' : 'a';
  return ArrayBuffer.isView(value) ? `${article} ${name} of ${(value as Int32Array).length}` : `${article} ${name}`;
}

/** Throws unless `value` is an integer ≥ 1. */
export function checkPositiveInteger(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer (received ${describeValue(value)})`);
  }
}

/** Throws unless `value` is an integer ≥ 0. */
export function checkNonNegativeInteger(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer (received ${describeValue(value)})`);
  }
}

/** Throws unless `value` is a number in [0, 1]. */
export function checkThreshold(value: unknown, name = 'threshold'): asserts value is number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new Error(`${name} must be a number in [0, 1] (received ${describeValue(value)})`);
  }
}

/** Throws unless `value` is a finite integer seed. */
export function checkSeed(value: unknown, name = 'seed'): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new Error(`${name} must be an integer (received ${describeValue(value)})`);
  }
}

/**
 * Throws unless `value` looks like a `Dataset` from `@convkit/data`: an in-memory `ImageDataset` or a file-backed one
 * such as a `StreamingImageDataset` (labels, shape and `readRows`).
 */
export function checkDataset(value: unknown, name: string): asserts value is Dataset {
  const candidate = value as Dataset | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.readRows !== 'function' ||
    !(candidate.labels instanceof Int32Array) ||
    !Array.isArray(candidate.shape)
  ) {
    throw new Error(
      `${name} must be a Dataset from @convkit/data, in memory or streaming (received ${describeValue(value)})`
    );
  }
}
