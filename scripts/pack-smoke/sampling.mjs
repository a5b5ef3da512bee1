// @convkit/sampling installed alone: balanced batches from a 43/37/13/7 class split through @convkit/data's loader.
import { initBackend } from '@convkit/core';
import { createImageDataset, DataLoader } from '@convkit/data';
import { BalancedBatchSampler, classWeights, countClasses } from '@convkit/sampling';

await initBackend({ backend: 'cpu', log: false });
const labels = Int32Array.from([...Array(43).fill(0), ...Array(37).fill(1), ...Array(13).fill(2), ...Array(7).fill(3)]);
const dataset = createImageDataset({
  images: new Uint8Array(labels.length * 2 * 2),
  labels,
  shape: [2, 2, 1],
  numClasses: 4,
  classNames: ['a', 'b', 'c', 'd'],
  source: 'pack-check',
});
const loader = new DataLoader(dataset, { batchSize: 8, sampler: new BalancedBatchSampler({ labels, batchSize: 8 }), labels: 'index', seed: 3 });
const counts = [0, 0, 0, 0];
for await (const batch of loader) {
  for (const label of batch.y.dataSync()) counts[label] += 1;
  batch.x.dispose();
  batch.y.dispose();
}
if (new Set(counts).size !== 1) throw new Error(`balanced batches gave class counts ${counts}`);
const weights = classWeights(countClasses(labels, 4)).map((w) => w.toFixed(2));
console.log(`@convkit/sampling: balanced class counts ${counts.join('/')}; balanced class weights ${weights.join(', ')}`);
