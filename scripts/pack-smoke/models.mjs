// @convkit/models installed alone: build a small ConvNet, save it to disk, load it back as a backbone, new head.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@convkit/core';
import { freeze, loadLayersModelFromDisk, replaceHead, saveLayersModelToDisk, smallConvNet } from '@convkit/models';

await initBackend({ backend: 'cpu', log: false });
const model = smallConvNet({ inputShape: [8, 8, 1], numClasses: 10, filters: [4, 8], dense: [16], seed: 1 });
const dir = join(mkdtempSync(join(tmpdir(), 'models-')), 'small');
await saveLayersModelToDisk(model, dir);
const loaded = await loadLayersModelFromDisk(dir);
const x = tf.ones([2, 8, 8, 1]);
const same = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x), loaded.predict(x)))).dataSync()[0]);
if (same > 1e-6) throw new Error(`the loaded model predicts differently (max difference ${same})`);
freeze(loaded, 'backbone');
const transfer = replaceHead(loaded, { numClasses: 2 });
const out = transfer.predict(x);
if (out.shape.join('x') !== '2x2') throw new Error(`new head output shape ${out.shape}`);
console.log(`@convkit/models: saved, reloaded (identical predictions) and re-headed a ${model.countParams()}-weight ConvNet`);
