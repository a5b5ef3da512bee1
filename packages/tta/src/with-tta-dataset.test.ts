// TTA over a whole dataset, in memory or streamed from files: withTTA takes tensor batches, so any Dataset of
// @convkit/data is predicted batch by batch through a DataLoader, with the same result for both kinds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import {
  createImageDataset,
  DataLoader,
  loadImageFolder,
  streamImageFolder,
  toTensors,
  writeImageFolder,
  type Dataset,
  type ImageDataset,
  type StreamingImageDataset,
} from '@convkit/data';
import { d4, withTTA } from '@convkit/tta';

await tf.setBackend('cpu');

let root: string;
let inMemory: ImageDataset;
let streaming: StreamingImageDataset;
let weights: tf.Tensor2D;
/** A linear model on the flattened 6×6×3 image: not invariant to any d4 view, so TTA changes its scores. */
const model = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => tf.matMul(x.reshape([x.shape[0], -1]), weights));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-tta-'));
  const rng = createRng(4);
  const images = Uint8Array.from({ length: 10 * 6 * 6 * 3 }, () => rng.int(0, 256));
  const labels = Array.from({ length: 10 }, (_, i) => i % 2);
  await writeImageFolder(createImageDataset({ images, labels, shape: [6, 6, 3], classNames: ['a', 'b'] }), root);
  const options = { size: [6, 6] as const, log: false as const };
  inMemory = await loadImageFolder(root, options);
  streaming = await streamImageFolder(root, options);
  weights = tf.randomNormal([6 * 6 * 3, 3], 0, 1, 'float32', 7);
});

afterAll(async () => {
  weights.dispose();
  await streaming.close();
  await rm(root, { recursive: true, force: true });
});

/** TTA scores of every image of `dataset`, in order, read `batchSize` rows at a time; the largest read is recorded. */
async function predictDataset(dataset: Dataset, batchSize: number, reads: number[]): Promise<Float32Array> {
  const tta = withTTA(model, d4(), { merge: 'mean' });
  const spy: Dataset = { ...dataset, readRows: (rows) => (reads.push(rows.length), dataset.readRows(rows)) };
  const out: number[] = [];
  for await (const { x, y } of new DataLoader(spy, { batchSize, shuffle: false, labels: 'index' })) {
    const scores = tta.predict(x);
    out.push(...(await scores.data()));
    tf.dispose([x, y, scores]);
  }
  return Float32Array.from(out);
}

describe('withTTA over a Dataset', () => {
  it('gives bit-identical scores for an in-memory and a streaming dataset of the same folder, one batch at a time', async () => {
    const reads: number[] = [];
    const fromStream = await expectNoLeak(() => predictDataset(streaming, 4, reads));
    const fromMemory = await predictDataset(inMemory, 4, []);
    expect(reads).toEqual([4, 4, 2]); // never more rows than one batch
    expect(new Uint8Array(fromStream.buffer)).toEqual(new Uint8Array(fromMemory.buffer));
    // Against the whole set at once, and against the plain model (TTA must change the scores of this model).
    const { x, y } = toTensors(inMemory);
    const whole = withTTA(model, d4(), { merge: 'mean' }).predict(x);
    const plain = model(x);
    const [reference, plainScores] = [await whole.data(), await plain.data()];
    tf.dispose([x, y, whole, plain]);
    expect(fromStream.length).toBe(30);
    fromStream.forEach((value, i) => expect(value).toBeCloseTo(reference[i]!, 4));
    expect(Math.max(...fromStream.map((value, i) => Math.abs(value - plainScores[i]!)))).toBeGreaterThan(0.1);
  });
});
