// @convkit/pseudolabel installed alone: label a pool with a fixed two-model ensemble, filter, and mix at 1:2.
import { initBackend, tf } from '@convkit/core';
import { createImageDataset } from '@convkit/data';
import { mixLabeled, pseudoDataset, pseudoLabel } from '@convkit/pseudolabel';

await initBackend({ backend: 'cpu', log: false });
// 1×2 images; each "model" reads the two pixels as class scores (the second one doubled): class = the brighter pixel.
const bytes = [250, 5, 5, 250, 130, 120, 240, 10, 0, 255, 128, 128];
const unlabeled = createImageDataset({ images: Uint8Array.from(bytes), labels: [0, 1, 0, 0, 1, 0], shape: [1, 2, 1], numClasses: 2 });
const labeled = createImageDataset({ images: Uint8Array.from([255, 0, 0, 255]), labels: [0, 1], shape: [1, 2, 1], numClasses: 2 });
const models = [(x) => x.reshape([-1, 2]).mul(10), (x) => x.reshape([-1, 2]).mul(20)];
const before = tf.memory().numTensors;
const pseudo = await pseudoLabel(models, unlabeled, { threshold: 0.9, trueLabels: unlabeled.labels });
if (tf.memory().numTensors !== before) throw new Error('pseudoLabel leaked tensors');
if (pseudo.indices.join() !== '0,1,3,4' || pseudo.summary.accuracy !== 1) {
  throw new Error(`unexpected pseudo-labels ${pseudo.indices.join()} (accuracy ${pseudo.summary.accuracy})`);
}
const mixed = mixLabeled(labeled, pseudoDataset(unlabeled, pseudo), { ratio: [1, 2], seed: 1 });
if (mixed.dataset.length !== 6 || mixed.pseudoCount !== 4) throw new Error(`unexpected mix of ${mixed.dataset.length} rows`);
console.log(`@convkit/pseudolabel: kept ${pseudo.summary.kept}/${pseudo.summary.total} (all right), mixed ${mixed.labeledCount} labeled + ${mixed.pseudoCount} pseudolabeled`);
