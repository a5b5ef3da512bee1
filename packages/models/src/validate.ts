/** Option checks shared by the builders. Each throws an Error naming the option and the value received. */

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer (received ${show(value)})`);
  }
  return value;
}

export function nonNegativeNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a finite number >= 0 (received ${show(value)})`);
  }
  return value;
}

export function positiveNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a finite number > 0 (received ${show(value)})`);
  }
  return value;
}

export function integerList(name: string, value: unknown, allowEmpty: boolean): number[] {
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) {
    throw new Error(`${name} must be a${allowEmpty ? 'n' : ' non-empty'} array of positive integers (received ${show(value)})`);
  }
  value.forEach((item, index) => positiveInteger(`${name}[${index}]`, item));
  return [...(value as number[])];
}

/** An image shape `[height, width, channels]` of positive integers. */
export function imageShape(name: string, value: unknown): [number, number, number] {
  if (!Array.isArray(value) || value.length !== 3) {
    throw new Error(`${name} must be [height, width, channels] (received ${show(value)})`);
  }
  value.forEach((item, index) => positiveInteger(`${name}[${index}]`, item));
  return [value[0] as number, value[1] as number, value[2] as number];
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (received ${show(value)})`);
  }
  return value as T;
}

/** Throws for option names the builder does not know (catches `lr`-style typos). */
export function knownKeys(what: string, options: object, allowed: readonly string[]): void {
  if (options === null || typeof options !== 'object') {
    throw new Error(`${what} options must be an object (received ${show(options)})`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new Error(`${what} got an unknown option '${key}' (known: ${allowed.join(', ')})`);
    }
  }
}

export { show };
