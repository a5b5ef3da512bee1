import { unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';
import type { RandomGenerator } from 'pure-rand';

/**
 * The JSON-serialisable state of an {@link Rng}: the algorithm name and the four 32-bit words of
 * the xoroshiro128+ generator. `JSON.parse(JSON.stringify(state))` restores the same stream.
 */
export interface RngState {
  readonly algorithm: 'xoroshiro128plus';
  readonly words: readonly number[];
}

const TWO_POW_26 = 67_108_864;
const TWO_POW_53 = 9_007_199_254_740_992;
const TWO_POW_32 = 4_294_967_296;

/** murmur3's 32-bit finaliser: a bijective avalanche on 32-bit words. */
function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Four well-mixed, not-all-zero words from two 32-bit halves. */
function wordsFromHalves(low: number, high: number): number[] {
  const words = [
    mix32(low ^ 0x9e37_79b9),
    mix32(high ^ 0x7f4a_7c15),
    mix32((low + 0x6a09_e667) ^ mix32(high)),
    mix32((high + 0xbb67_ae85) ^ mix32(low)),
  ];
  if (!words.some((word) => word !== 0)) words[0] = 1;
  return words;
}

function checkFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new Error(`${name} must be a finite number (received ${value})`);
}

/**
 * A seeded pseudo-random stream (xoroshiro128+ from `pure-rand`) for everything random in convkit:
 * shuffles, augmentation parameters, initial weights, dropout seeds.
 *
 * Why: `Math.random` cannot be replayed, and `tf.random*` with a global seed couples unrelated
 * consumers. An `Rng` is an explicit value: pass it (or a {@link Rng.fork | fork}) to whatever
 * needs randomness, save it with {@link Rng.getState}, and restore it to resume a run exactly.
 *
 * Seeds are safe integers (negative allowed); distinct seeds give distinct streams.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.next();            // uniform in [0, 1)
 * rng.int(0, 10);        // integer in [0, 10)
 * const saved = JSON.stringify(rng.getState());
 * const a = rng.normal();
 * rng.setState(JSON.parse(saved));
 * rng.normal() === a;    // true
 * ```
 */
export class Rng {
  private generator: RandomGenerator;

  /**
   * @param seed A safe integer (`Number.isSafeInteger`); negative values are allowed.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new Error(`seed must be a safe integer (received ${seed})`);
    }
    const low = seed % TWO_POW_32;
    const high = Math.floor(seed / TWO_POW_32);
    this.generator = xoroshiro128plus.fromState(wordsFromHalves(low | 0, high | 0));
  }

  /** A raw 32-bit signed integer from the generator (advances the stream by one). */
  private nextWord(): number {
    return this.generator.unsafeNext();
  }

  /** A uniform float in [0, 1) with 53 random bits (consumes two 32-bit draws). */
  next(): number {
    const high = this.nextWord() >>> 5; // 27 bits
    const low = this.nextWord() >>> 6; // 26 bits
    return (high * TWO_POW_26 + low) / TWO_POW_53;
  }

  /** A uniform float in [low, high). Throws unless both are finite and `low < high`. */
  uniform(low: number, high: number): number {
    checkFinite('low', low);
    checkFinite('high', high);
    if (!(low < high)) throw new Error(`high must be greater than low (received low ${low}, high ${high})`);
    const value = low + (high - low) * this.next();
    return value < high ? value : low;
  }

  /** A uniform integer in [low, high), without modulo bias. Both bounds must be safe integers, `low < high`. */
  int(low: number, high: number): number {
    if (!Number.isSafeInteger(low)) throw new Error(`low must be a safe integer (received ${low})`);
    if (!Number.isSafeInteger(high)) throw new Error(`high must be a safe integer (received ${high})`);
    if (!(low < high)) throw new Error(`high must be greater than low (received low ${low}, high ${high})`);
    return unsafeUniformIntDistribution(low, high - 1, this.generator);
  }

  /**
   * A normal draw by the Box–Muller transform (two uniforms per draw, no cached spare, so
   * {@link Rng.getState} captures everything). Defaults: `mean` 0, `std` 1.
   */
  normal(mean = 0, std = 1): number {
    checkFinite('mean', mean);
    checkFinite('std', std);
    if (std < 0) throw new Error(`std must be >= 0 (received ${std})`);
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Shuffles `items` (an array or a typed array) in place (Fisher–Yates) and returns the same object. */
  shuffle<T extends { length: number; [index: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const held = items[i];
      items[i] = items[j];
      items[j] = held;
    }
    return items;
  }

  /** A random permutation of 0…n−1. `n` must be a non-negative integer. */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fff_ffff) {
      throw new Error(`n must be a non-negative integer (received ${n})`);
    }
    const result = new Int32Array(n);
    for (let i = 0; i < n; i++) result[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const held = result[i] as number;
      result[i] = result[j] as number;
      result[j] = held;
    }
    return result;
  }

  /**
   * A child stream, seeded from four draws of this one (so this stream advances). Deterministic:
   * the same parent state always gives the same child, and successive forks differ.
   */
  fork(): Rng {
    const child = new Rng(0);
    const words = [this.nextWord(), this.nextWord(), this.nextWord(), this.nextWord()].map(mix32);
    if (!words.some((word) => word !== 0)) words[0] = 1;
    child.generator = xoroshiro128plus.fromState(words);
    return child;
  }

  /** A non-negative 31-bit integer, for the `seed` argument of `tf.random*` ops. */
  tfSeed(): number {
    return this.nextWord() >>> 1;
  }

  /** A JSON-serialisable snapshot of the stream; see {@link Rng.setState}. */
  getState(): RngState {
    return { algorithm: 'xoroshiro128plus', words: [...this.generator.getState()] };
  }

  /** Restores a state from {@link Rng.getState}; the stream continues exactly from that point. */
  setState(state: RngState): void {
    const words = (state as { words?: unknown } | null)?.words;
    if (
      state?.algorithm !== 'xoroshiro128plus' ||
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((word) => Number.isInteger(word) && word >= -0x8000_0000 && word <= 0xffff_ffff)
    ) {
      throw new Error(
        `state must be an RngState { algorithm: 'xoroshiro128plus', words: four 32-bit integers } (received ${JSON.stringify(state)})`,
      );
    }
    this.generator = xoroshiro128plus.fromState(words.map((word: number) => word | 0));
  }
}

/**
 * Creates a seeded {@link Rng}; same as `new Rng(seed)`.
 *
 * @example
 * ```ts
 * const rng = createRng(1234);
 * const order = rng.permutation(10);
 * ```
 */
export function createRng(seed: number): Rng {
  return new Rng(seed);
}
