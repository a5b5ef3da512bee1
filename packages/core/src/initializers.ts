import * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng.js';

/**
 * Makes initial weight tensors from a convkit {@link Rng}, so runs are reproducible without tfjs's
 * global seeding. `create` returns a new tensor; the caller disposes it.
 */
export interface Initializer {
  readonly name: string;
  create(shape: readonly number[], rng: Rng, dtype?: 'float32'): tf.Tensor;
}

/** Which fan {@link varianceScaling} divides by. */
export type FanMode = 'fanIn' | 'fanOut' | 'fanAvg';

/** The distribution {@link varianceScaling} draws from. */
export type InitializerDistribution = 'truncatedNormal' | 'normal' | 'uniform';

/** Options of {@link varianceScaling}. */
export interface VarianceScalingOptions {
  /** Variance numerator: variance = scale / fan. Defaults to 1. */
  scale?: number;
  /** Fan to divide by. Defaults to `'fanIn'`. */
  mode?: FanMode;
  /** Defaults to `'truncatedNormal'`. */
  distribution?: InitializerDistribution;
}

/** Keras's std correction for a standard normal truncated at ±2: the std of N(0,1) on [−2, 2]. */
const TRUNCATED_STD = 0.879_625_661_034_239_78;

function checkShape(shape: readonly number[]): number {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`shape must be an array of non-negative integers (received ${JSON.stringify(shape)})`);
  }
  return shape.reduce((a, b) => a * b, 1);
}

function checkDtype(dtype: string | undefined): void {
  if (dtype !== undefined && dtype !== 'float32') throw new Error(`dtype must be 'float32' (received '${dtype}')`);
}

/**
 * Fans as Keras computes them: scalar → (1, 1); vector [n] → (n, n); dense [in, out] → (in, out);
 * conv [..., in, out] → (receptive·in, receptive·out), receptive = product of the leading dims.
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  checkShape(shape);
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0] as number, fanOut: shape[0] as number };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: (shape.at(-2) as number) * receptive, fanOut: (shape.at(-1) as number) * receptive };
}

function fill(shape: readonly number[], draw: () => number): tf.Tensor {
  const values = new Float32Array(checkShape(shape));
  for (let i = 0; i < values.length; i++) values[i] = draw();
  return tf.tensor(values, [...shape], 'float32');
}

function truncatedNormal(rng: Rng, std: number): number {
  for (;;) {
    const z = rng.normal();
    if (Math.abs(z) <= 2) return z * std;
  }
}

/**
 * Variance scaling (He, Glorot, LeCun are special cases): weights with variance `scale / fan`.
 *
 * Why: keeping activation variance constant through layers is what makes deep conv nets train;
 * the right fan and scale depend on the activation (scale 2 for ReLU).
 *
 * - `'truncatedNormal'`: N(0, std²) redrawn beyond 2·std, std = sqrt(scale / fan) / 0.87962566103423978 (as Keras).
 * - `'normal'`: N(0, scale / fan).
 * - `'uniform'`: U(−limit, limit), limit = sqrt(3 · scale / fan).
 *
 * Options: `scale` (> 0, defaults to 1), `mode` (defaults to `'fanIn'`), `distribution`
 * (defaults to `'truncatedNormal'`). `create` returns a new tensor; the caller disposes it.
 *
 * @example
 * ```ts
 * const kernel = varianceScaling({ scale: 2, mode: 'fanIn' }).create([3, 3, 32, 64], createRng(0));
 * kernel.dispose();
 * ```
 */
export function varianceScaling(options: VarianceScalingOptions = {}): Initializer {
  const { scale = 1, mode = 'fanIn', distribution = 'truncatedNormal' } = options;
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`scale must be a positive number (received ${scale})`);
  if (!['fanIn', 'fanOut', 'fanAvg'].includes(mode)) {
    throw new Error(`mode must be 'fanIn', 'fanOut' or 'fanAvg' (received ${JSON.stringify(mode)})`);
  }
  if (!['truncatedNormal', 'normal', 'uniform'].includes(distribution)) {
    throw new Error(`distribution must be 'truncatedNormal', 'normal' or 'uniform' (received ${JSON.stringify(distribution)})`);
  }
  return {
    name: `varianceScaling(scale=${scale}, mode=${mode}, distribution=${distribution})`,
    create(shape, rng, dtype) {
      checkDtype(dtype);
      const { fanIn, fanOut } = computeFans(shape);
      const fan = mode === 'fanIn' ? fanIn : mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
      const variance = scale / Math.max(1, fan);
      if (distribution === 'uniform') {
        const limit = Math.sqrt(3 * variance);
        return fill(shape, () => rng.uniform(-limit, limit));
      }
      if (distribution === 'normal') return fill(shape, () => rng.normal(0, Math.sqrt(variance)));
      const std = Math.sqrt(variance) / TRUNCATED_STD;
      return fill(shape, () => truncatedNormal(rng, std));
    },
  };
}

/** Glorot (Xavier) uniform: `varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'uniform' })`. The tf.layers default. */
export function glorotUniform(): Initializer {
  return { ...varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'uniform' }), name: 'glorotUniform' };
}

/** Glorot normal: `varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'truncatedNormal' })`, as Keras. */
export function glorotNormal(): Initializer {
  return { ...varianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'truncatedNormal' }), name: 'glorotNormal' };
}

/** He normal, for ReLU nets: `varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'truncatedNormal' })`. */
export function heNormal(): Initializer {
  return { ...varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'truncatedNormal' }), name: 'heNormal' };
}

/** He uniform: `varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'uniform' })`. */
export function heUniform(): Initializer {
  return { ...varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'uniform' }), name: 'heUniform' };
}

/** LeCun normal, for SELU nets: `varianceScaling({ scale: 1, mode: 'fanIn', distribution: 'truncatedNormal' })`. */
export function lecunNormal(): Initializer {
  return { ...varianceScaling({ scale: 1, mode: 'fanIn', distribution: 'truncatedNormal' }), name: 'lecunNormal' };
}

/** Options of {@link constantScaleNormal}. */
export interface ConstantScaleNormalOptions {
  /** Standard deviation, the same for every layer whatever its fan. Required, ≥ 0. */
  stddev: number;
  /** Mean. Defaults to 0. */
  mean?: number;
}

/**
 * A plain normal N(mean, stddev²) whose scale ignores the layer's fans: the "large" constant-scale
 * init (e.g. `stddev: 1`) and the "×0.01" init (`stddev: 0.01`) that experiments compare with
 * {@link varianceScaling}. `create` returns a new tensor; the caller disposes it.
 *
 * @example
 * ```ts
 * const small = constantScaleNormal({ stddev: 0.01 }).create([784, 100], createRng(1));
 * small.dispose();
 * ```
 */
export function constantScaleNormal(options: ConstantScaleNormalOptions): Initializer {
  const { stddev, mean = 0 } = options ?? ({} as ConstantScaleNormalOptions);
  if (!Number.isFinite(stddev) || stddev < 0) throw new Error(`stddev must be a non-negative number (received ${stddev})`);
  if (!Number.isFinite(mean)) throw new Error(`mean must be a finite number (received ${mean})`);
  return {
    name: `constantScaleNormal(stddev=${stddev}, mean=${mean})`,
    create(shape, rng, dtype) {
      checkDtype(dtype);
      return fill(shape, () => rng.normal(mean, stddev));
    },
  };
}

function constant(name: string, value: number): Initializer {
  return {
    name,
    create(shape, _rng, dtype) {
      checkDtype(dtype);
      checkShape(shape);
      return tf.fill([...shape], value, 'float32');
    },
  };
}

/** All zeros (biases). Draws nothing from the rng. `create` returns a new tensor; the caller disposes it. */
export function zeros(): Initializer {
  return constant('zeros', 0);
}

/** All ones (e.g. batch-norm scales). Draws nothing from the rng. `create` returns a new tensor; the caller disposes it. */
export function ones(): Initializer {
  return constant('ones', 1);
}
