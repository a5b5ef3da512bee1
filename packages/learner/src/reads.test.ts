import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tinyLearner } from './testing.js';

const sourceRoot = dirname(fileURLToPath(import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Counts device reads by wrapping the tensor read methods. */
function countReads(): { counts: Record<string, number>; restore(): void } {
  const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const names = ['data', 'array', 'dataSync', 'arraySync', 'bufferSync', 'buffer'];
  const originals = Object.fromEntries(names.map((name) => [name, proto[name]!]));
  const counts: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  for (const name of names) {
    proto[name] = function (this: tf.Tensor, ...args: unknown[]) {
      counts[name]!++;
      return originals[name]!.apply(this, args);
    };
  }
  return {
    counts,
    restore: () => {
      for (const name of names) proto[name] = originals[name]!;
    },
  };
}

let restore: (() => void) | undefined;
afterEach(() => restore?.());

describe('device reads of a fit', () => {
  it('reads nothing per step: one read before the first step, then one for all losses and one per metric per epoch', async () => {
    const readsFor = async (batches: number): Promise<Record<string, number>> => {
      const tiny = tinyLearner({ batches, validBatches: 0 });
      const reads = countReads();
      restore = reads.restore;
      await tiny.learner.fit(2);
      reads.restore();
      tiny.dispose();
      return reads.counts;
    };
    const four = await readsFor(4);
    const twelve = await readsFor(12);
    // the label check of the fit's first batch (before its step), then per epoch: the losses and label checks in
    // one data(), and accuracy's running sum
    expect(four).toEqual({ data: 1 + 2 * 2, array: 0, dataSync: 0, arraySync: 0, bufferSync: 0, buffer: 0 });
    expect(twelve).toEqual(four);
  });
});

describe('learner sources', () => {
  it('make no synchronous tensor reads (they fail on WebGPU in Node)', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [join(dir, entry.name)] : []
      );
    const offenders = files(sourceRoot).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, where: `${file.slice(sourceRoot.length + 1)}:${i + 1}` }))
        // TSDoc examples (lines starting with `*`) are user code, not the loop's
        .filter(({ line }) => /\.(dataSync|arraySync|bufferSync)\(/.test(line) && !/^\s*\*/.test(line))
        .map(({ where }) => where)
    );
    expect(offenders).toEqual([]);
  });
});
