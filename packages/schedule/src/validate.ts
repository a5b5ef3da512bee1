/** Argument checks shared by the schedules and plugins; each error names the argument and the value received. */

/** Formats a received value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  return String(value);
}

/** Throws unless `value` is a finite number. */
export function assertFinite(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`${name} must be a finite number (received ${describe(value)})`);
  }
}

/** Throws unless `value` is a finite number ≥ 0 (rates, momenta, minima). */
export function assertNonNegative(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a finite number >= 0 (received ${describe(value)})`);
  }
}

/** Throws unless `value` is a finite number > 0. */
export function assertPositive(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a finite number > 0 (received ${describe(value)})`);
  }
}

/** Throws unless `value` is an integer > 0. */
export function assertPositiveInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer (received ${describe(value)})`);
  }
}

/** Throws unless `value` is an integer ≥ 0. */
export function assertNonNegativeInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be an integer >= 0 (received ${describe(value)})`);
  }
}

/** Throws unless `value` is one of `allowed`. */
export function assertOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (received ${describe(value)})`);
  }
}

/** Throws unless `value` is a function. */
export function assertFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new Error(`${name} must be a function (received ${value === null ? 'null' : typeof value})`);
  }
}
