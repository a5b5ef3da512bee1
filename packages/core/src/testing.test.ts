import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { availableBackends, expectNoLeak, relativeError, withBackend } from './testing.js';

describe('expectNoLeak', () => {
  it('returns what a sync or async fn returns when no tensors leak', async () => {
    await tf.setBackend('cpu');
    expect(await expectNoLeak(() => tf.tidy(() => tf.ones([3]).sum().dataSync()[0]))).toBe(3);
    expect(
      await expectNoLeak(async () => {
        const t = tf.ones([2, 2]);
        const values = await t.data();
        t.dispose();
        return values.length;
      }),
    ).toBe(4);
  });

  it('throws naming how many tensors leaked, before and after', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const kept: tf.Tensor[] = [];
    await expect(expectNoLeak(() => void kept.push(tf.ones([1]), tf.zeros([1])))).rejects.toThrow(
      `leaked 2 tensors (before ${before}, after ${before + 2})`,
    );
    tf.dispose(kept);
  });
});

describe('withBackend', () => {
  it('runs fn on the named backend and restores the previous one, also when fn throws', async () => {
    await tf.setBackend('cpu');
    expect(await withBackend('wasm', () => tf.getBackend())).toBe('wasm');
    expect(tf.getBackend()).toBe('cpu');
    await expect(withBackend('wasm', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(tf.getBackend()).toBe('cpu');
    await expect(withBackend('no-such-backend', () => 1)).rejects.toThrow(
      "name must be a registered tfjs backend (received 'no-such-backend'; available: wasm, cpu)",
    );
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('availableBackends', () => {
  it('lists the Node backends registered here, fastest first, without browser-only ones', () => {
    const names = availableBackends();
    expect(names.slice(-2)).toEqual(['wasm', 'cpu']);
    expect(names).not.toContain('webgl');
  });
});

describe('relativeError', () => {
  it('divides the largest difference by the largest reference magnitude', () => {
    expect(relativeError([10, -20, 5], [10.5, -20, 4])).toBeCloseTo(1 / 20, 12);
    expect(relativeError([0, 0], [0.25, -0.5])).toBe(0.5);
    expect(() => relativeError([1, 2], [1])).toThrow("actual must have the reference's length 2 (received 1)");
  });
});
