import { describe, expect, it } from "vitest";
import { initBackend, tf } from "@convkit/core";
import { createImageDataset, DataLoader } from "@convkit/data";
import { smallConvNet } from "@convkit/models";
import { discriminativeAdam, findAndFit } from "./transfer";

/** 32 random 12×12 grey images of 2 classes. */
function tinyData() {
  const images = new Uint8Array(32 * 12 * 12);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 251;
  const labels = Int32Array.from({ length: 32 }, (_, i) => i % 2);
  return createImageDataset({ images: images, labels: labels, shape: [12, 12, 1], numClasses: 2 });
}

describe("findAndFit", () => {
  it("fits at the head's rate: the finder's group-0 suggestion times the groups' ratio", async () => {
    await initBackend({ backend: "cpu", log: false });
    const before = tf.memory().numTensors;
    const data = tinyData();
    const model = smallConvNet({ inputShape: [12, 12, 1], numClasses: 2, filters: [4, 4], dense: [8], seed: 1 });
    const probe = discriminativeAdam(model, 1);
    const rates = probe.getHypers().map((h) => h.learningRate!);
    probe.dispose();
    expect(rates).toEqual([expect.closeTo(0.01, 12), expect.closeTo(0.1, 12), 1]);
    const result = await findAndFit({
      model: model,
      makeOptimizer: (rate) => discriminativeAdam(model, rate),
      train: () => new DataLoader(data, { batchSize: 8, seed: 1 }),
      test: () => new DataLoader(data, { batchSize: 16, shuffle: false }),
      rule: "valley",
      epochs: 1,
      finderSteps: 8,
      seed: 1,
    });
    // The sweep's rates are group 0's (×0.01 of the head's), so the head runs 100× above the raw suggestion.
    expect(result.learningRate).toBeCloseTo(result.found.suggestion.valley * 100, 10);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
