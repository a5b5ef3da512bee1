/** Argument checks shared by the samplers, weights and losses. Each error names the argument and the value. */

/** Short text for a value in an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) {
    return String(value);
  }
  if (ArrayBuffer.isView(value) || Array.isArray(value)) {
    const items = Array.from(value as ArrayLike<number>).slice(0, 8);
    const more = (value as ArrayLike<number>).length > 8 ? ', …' : '';
    return `[${items.join(', ')}${more}]`;
  }
  if (typeof value === 'function') return 'a function';
  return typeof value;
}

export function checkInteger(name: string, value: unknown, minimum: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    const what = minimum === 1 ? 'a positive integer' : minimum === 0 ? 'a non-negative integer' : `an integer >= ${minimum}`;
    throw new Error(`${name} must be ${what} (received ${describe(value)})`);
  }
}

export function checkUnit(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new Error(`${name} must be a number in [0, 1] (received ${describe(value)})`);
  }
}

export function checkNonNegative(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a finite number >= 0 (received ${describe(value)})`);
  }
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/**
 * Checks non-negative finite weights, not all zero, and returns them as a Float64Array.
 */
export function checkWeights(name: string, weights: unknown, expectedLength?: number): Float64Array {
  if (!isArrayLike(weights)) throw new Error(`${name} must be an array of numbers (received ${describe(weights)})`);
  if (expectedLength !== undefined && weights.length !== expectedLength) {
    throw new Error(`${name} must have ${expectedLength} entries (received ${weights.length})`);
  }
  if (weights.length === 0) throw new Error(`${name} must not be empty (received [])`);
  const result = new Float64Array(weights.length);
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    const weight = weights[i];
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new Error(`${name}[${i}] must be a finite number >= 0 (received ${describe(weight)})`);
    }
    result[i] = weight;
    total += weight;
  }
  if (total === 0) throw new Error(`${name} must not be all zero (received ${describe(weights)})`);
  return result;
}

/**
 * Checks class-index labels and returns them as an Int32Array with the class count (`numClasses`, or the largest
 * label + 1).
 */
export function checkLabels(labels: unknown, numClasses?: number): { labels: Int32Array; numClasses: number } {
  if (!isArrayLike(labels)) throw new Error(`labels must be an array of class indices (received ${describe(labels)})`);
  if (labels.length === 0) throw new Error('labels must not be empty (received [])');
  if (numClasses !== undefined) checkInteger('numClasses', numClasses, 1);
  const result = new Int32Array(labels.length);
  let largest = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0) {
      throw new Error(`labels[${i}] must be a non-negative class index (received ${describe(label)})`);
    }
    if (numClasses !== undefined && label >= numClasses) {
      throw new Error(`labels[${i}] must be a class index below numClasses = ${numClasses} (received ${label})`);
    }
    result[i] = label;
    if (label > largest) largest = label;
  }
  return { labels: result, numClasses: numClasses ?? largest + 1 };
}

/** Throws if a class has no sample, naming the class and why it is needed. */
export function checkEveryClassPresent(counts: readonly number[], why: string): void {
  const missing = counts.findIndex((count) => count === 0);
  if (missing >= 0) {
    throw new Error(
      `labels has no sample of class ${missing} (class counts ${describe(counts)}); ${why} needs every class ` +
        '(pass numClasses to match the classes present, or add samples of that class)'
    );
  }
}

/** Checks a probability distribution over `length` classes: non-negative entries summing to 1 (±1e-6). */
export function checkDistribution(name: string, values: unknown, length: number): number[] {
  if (!isArrayLike(values)) throw new Error(`${name} must be an array of ${length} probabilities (received ${describe(values)})`);
  if (values.length !== length) {
    throw new Error(`${name} must have one entry per class, ${length} (received ${values.length} entries: ${describe(values)})`);
  }
  const result: number[] = [];
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new Error(`${name}[${i}] must be a finite number >= 0 (received ${describe(value)})`);
    }
    result.push(value);
  }
  const total = result.reduce((sum, value) => sum + value, 0);
  if (Math.abs(total - 1) > 1e-6) {
    throw new Error(`${name} must sum to 1 (received ${describe(values)}, which sums to ${total})`);
  }
  return result;
}
