import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { createImageDataset } from '@convkit/data';
import { predictProbabilities, type PseudoLabelModel } from '@convkit/pseudolabel';

await tf.setBackend('cpu');

// Five 1×1×2 images; bytes chosen so x = byte/255 is exact enough for 6 decimals.
const BYTES = [0, 255, 51, 102, 255, 0, 153, 153, 204, 51];
const dataset = createImageDataset({ images: Uint8Array.from(BYTES), labels: [0, 0, 0, 0, 0], shape: [1, 1, 2], numClasses: 2 });
const asLogits = (x: tf.Tensor4D): tf.Tensor => x.reshape([x.shape[0], 2]).mul(4);
const doubled = (x: tf.Tensor4D): tf.Tensor => x.reshape([x.shape[0], 2]).mul(-2);

function softmaxRow(a: number, b: number): [number, number] {
  const m = Math.max(a, b);
  const [ea, eb] = [Math.exp(a - m), Math.exp(b - m)];
  return [ea / (ea + eb), eb / (ea + eb)];
}

describe('predictProbabilities', () => {
  it('applies softmax to logits, row by row, across batches', async () => {
    const result = await expectNoLeak(() => predictProbabilities(asLogits, dataset, { batchSize: 2 }));
    expect(result.length).toBe(5);
    expect(result.numClasses).toBe(2);
    for (let i = 0; i < 5; i++) {
      const expected = softmaxRow((4 * BYTES[2 * i]!) / 255, (4 * BYTES[2 * i + 1]!) / 255);
      expect(result.values[2 * i]).toBeCloseTo(expected[0], 6);
      expect(result.values[2 * i + 1]).toBeCloseTo(expected[1], 6);
    }
  });

  it('averages the members of an ensemble in probability space', async () => {
    const [single1, single2, mean] = await expectNoLeak(async () => [
      await predictProbabilities(asLogits, dataset),
      await predictProbabilities(doubled, dataset),
      await predictProbabilities([asLogits, doubled], dataset),
    ]);
    mean!.values.forEach((value, j) => expect(value).toBeCloseTo((single1!.values[j]! + single2!.values[j]!) / 2, 6));
  });

  it('takes a float tensor as is, probabilities as is, and a custom predict', async () => {
    const x = tf.tensor4d([0.2, 0.8, 0.6, 0.4], [2, 1, 1, 2]);
    const seen: PseudoLabelModel[] = [];
    const predict = (model: PseudoLabelModel, batch: tf.Tensor4D): tf.Tensor => {
      seen.push(model);
      return tf.reverse(batch.reshape([batch.shape[0], 2]), 1);
    };
    const result = await expectNoLeak(() => predictProbabilities(asLogits, x, { output: 'probabilities', predict }));
    expect([...result.values].map((v) => Number(v.toFixed(6)))).toEqual([0.8, 0.2, 0.4, 0.6]);
    expect(seen).toEqual([asLogits]);
    x.dispose();
  });

  it('uses a LayersModel through predict', async () => {
    const model = tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [1, 1, 2] }), tf.layers.dense({ units: 2, useBias: false, kernelInitializer: 'identity' })],
    });
    const [fromModel, fromFunction] = await expectNoLeak(async () => [
      await predictProbabilities(model, dataset),
      await predictProbabilities((x) => x.reshape([x.shape[0], 2]), dataset),
    ]);
    fromModel!.values.forEach((value, j) => expect(value).toBeCloseTo(fromFunction!.values[j]!, 6));
    model.dispose();
  });

  it('rejects bad models, options and images without leaking', async () => {
    await expectNoLeak(async () => {
      await expect(predictProbabilities([], dataset)).rejects.toThrow('models must hold at least one model (received an empty array)');
      await expect(predictProbabilities({} as PseudoLabelModel, dataset)).rejects.toThrow(
        'model must be a tf.LayersModel or a function (x) => tf.Tensor (received an Object)'
      );
      await expect(predictProbabilities(asLogits, dataset, { batchSize: 0 })).rejects.toThrow('batchSize must be a positive integer (received 0)');
      await expect(predictProbabilities(asLogits, dataset, { output: 'softmax' as 'logits' })).rejects.toThrow(
        `output must be 'logits' or 'probabilities' (received "softmax")`
      );
      await expect(predictProbabilities(asLogits, [1, 2] as unknown as tf.Tensor4D)).rejects.toThrow(
        'images must be a Dataset from @convkit/data, in memory or streaming, or a rank-4 tensor [N, H, W, C] (received an array of 2)'
      );
      const flat = (x: tf.Tensor4D): tf.Tensor => x.reshape([-1]);
      await expect(predictProbabilities(flat, dataset)).rejects.toThrow("each model's output must be [batch, numClasses] = [5, K] (received [10])");
    });
  });
});
