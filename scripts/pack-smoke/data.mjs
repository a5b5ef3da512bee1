// @convkit/data installed alone: write and read an IDX file, then batch a dataset with the loader.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@convkit/core';
import { DataLoader, encodeIdx, loadIdxImagesAndLabels } from '@convkit/data';

await initBackend({ backend: 'cpu', log: false });
const dir = mkdtempSync(join(tmpdir(), 'idx-'));
const images = Uint8Array.from({ length: 10 * 4 * 4 }, (_, i) => i % 256);
writeFileSync(join(dir, 'images.idx'), encodeIdx({ dims: [10, 4, 4], data: images }));
writeFileSync(join(dir, 'labels.idx'), encodeIdx({ dims: [10], data: Uint8Array.from([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]) }));
const dataset = await loadIdxImagesAndLabels(join(dir, 'images.idx'), join(dir, 'labels.idx'));
let seen = 0;
for await (const batch of new DataLoader(dataset, { batchSize: 4, seed: 1 })) {
  seen += batch.x.shape[0];
  batch.x.dispose();
  batch.y.dispose();
}
if (seen !== 10) throw new Error(`the loader delivered ${seen} images, expected 10`);
console.log(`@convkit/data: ${dataset.length} images of ${dataset.shape.join('×')} read back and batched`);
