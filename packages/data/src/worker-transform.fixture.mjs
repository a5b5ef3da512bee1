// A batch transform module for the DataLoader worker tests (plain JavaScript: worker threads load it without vitest).
// Per image, from the batch's generator: a horizontal flip with chance 1/2, a brightness factor, and a bilinear shift,
// so any difference in generator, order or arithmetic between threads shows in the values.
import * as tf from '@tensorflow/tfjs';
import { kernelServedBy } from '@convkit/core';

/**
 * Builds the test transform. `options.failAt`: its call number `failAt` (from 0, in this thread) throws;
 * `options.exitAt`: that call ends the thread (exit code 3), as a crash would.
 */
export function flipShiftBrightness(options = {}) {
  let calls = 0;
  return (x, rng) => {
    const call = calls++;
    if (call === options.failAt) throw new Error(`boom in call ${call}`);
    if (call === options.exitAt) process.exit(3);
    const [batch, height, width] = x.shape;
    const flags = [];
    const factors = [];
    const shifts = [];
    for (let i = 0; i < batch; i++) {
      flags.push(rng.next() < 0.5);
      factors.push(0.5 + rng.next());
      shifts.push([rng.uniform(-0.3, 0.3) * width, rng.uniform(-0.3, 0.3) * height]);
    }
    const mask = tf.tensor4d(flags.flatMap((flag) => new Array(height * width * x.shape[3]).fill(flag ? 1 : 0)), x.shape, 'bool');
    const flipped = tf.where(mask, tf.image.flipLeftRight(x), x);
    const scaled = flipped.mul(tf.tensor4d(factors, [batch, 1, 1, 1]));
    const matrices = tf.tensor2d(shifts.map(([dx, dy]) => [1, 0, dx, 0, 1, dy, 0, 0]));
    return tf.image.transform(scaled, matrices, 'bilinear', 'constant', 0);
  };
}

/**
 * A transform whose every value says who serves `Transform` in the thread that runs it: 1 for @convkit/native's
 * image kernels ('native-image'), 0 for any other.
 */
export function transformServedBy() {
  return (x) => tf.fill(x.shape, kernelServedBy('wasm', 'Transform') === 'native-image' ? 1 : 0);
}

/** Not a factory: for the test of a bad export. */
export const notAFunction = 42;
