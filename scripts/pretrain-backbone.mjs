// Pretrains the small CNN backbone that the transfer-learning notebooks (E2.1, E4.2) load, the way a user would make
// one when no hub is reachable: a large source task, weights saved with @convkit/models' disk format, and a
// provenance record that says exactly what the weights are.
//
//   nice -n 15 node scripts/pretrain-backbone.mjs                 # full: every train image of the 6 source classes
//   node scripts/pretrain-backbone.mjs --epochs 1 --per-class 200 --out build/pretrained-smoke   # a quick check
//
// Source task: the 6 Fashion-MNIST classes that are in neither target pair of E2.1/E4.2 (pullover, dress, coat,
// sandal, sneaker, ankle boot), 28×28×1 as the notebooks use them; the target pairs (T-shirt/top vs shirt,
// trouser vs bag) are never seen. Accuracy is measured on the Fashion-MNIST test images of the 6 classes.
// Writes <out>/model.json, <out>/weights.bin and <out>/provenance.json (sha256 of both model files inside).
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng, initBackend, tf } from '@convkit/core';
import { DataLoader, createImageDataset, loadFashionMnist } from '@convkit/data';
import { Learner, accuracy } from '@convkit/learner';
import { adam } from '@convkit/optim';
import { saveLayersModelToDisk, smallConvNet } from '@convkit/models';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(ROOT, 'packages', 'models', 'pretrained', 'fashion6-smallcnn') },
    epochs: { type: 'string', default: '10' },
    'per-class': { type: 'string', default: '6000' },
    seed: { type: 'string', default: '2026' },
    'learning-rate': { type: 'string', default: '1e-3' },
    'batch-size': { type: 'string', default: '64' },
  },
});
const positive = (name, text) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number (received ${JSON.stringify(text)})`);
  return value;
};
const epochs = positive('epochs', args.epochs);
const perClass = positive('per-class', args['per-class']);
const seed = positive('seed', args.seed);
const learningRate = positive('learning-rate', args['learning-rate']);
const batchSize = positive('batch-size', args['batch-size']);

/** The notebooks' architecture: keep it in step with notebooks/lib/pretrained.ts. */
const ARCHITECTURE = { inputShape: [28, 28, 1], filters: [32, 64], dense: [64] };
const SOURCE_CLASSES = [2, 3, 4, 5, 7, 9]; // pullover, dress, coat, sandal, sneaker, ankle boot

/** The images of `classes` (at most `limit` of each, in a seeded order), relabelled 0, 1, … in the order given. */
function selectClasses(dataset, classes, limit, pickSeed) {
  const order = createRng(pickSeed).permutation(dataset.length);
  const taken = classes.map(() => 0);
  const picked = [];
  for (const i of order) {
    const c = classes.indexOf(dataset.labels[i]);
    if (c >= 0 && taken[c] < limit) {
      taken[c]++;
      picked.push(i);
    }
  }
  const pixels = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  const images = new Uint8Array(picked.length * pixels);
  picked.forEach((i, k) => images.set(dataset.images.subarray(i * pixels, (i + 1) * pixels), k * pixels));
  return createImageDataset({
    images,
    labels: picked.map((i) => classes.indexOf(dataset.labels[i])),
    shape: dataset.shape,
    classNames: classes.map((c) => dataset.classNames[c]),
  });
}

const sha256 = async (path) => createHash('sha256').update(await readFile(path)).digest('hex');

const started = Date.now();
const backend = await initBackend();
const fashionTrain = await loadFashionMnist({ split: 'train' });
const fashionTest = await loadFashionMnist({ split: 'test' });
const train = selectClasses(fashionTrain, SOURCE_CLASSES, perClass, seed);
const test = selectClasses(fashionTest, SOURCE_CLASSES, Number.POSITIVE_INFINITY, seed + 1);
console.log(`pretraining on ${train.length} images of ${train.classNames.join(', ')}; testing on ${test.length}`);

const model = smallConvNet({ ...ARCHITECTURE, numClasses: SOURCE_CLASSES.length, seed });
const optimizer = adam({ learningRate });
const learner = new Learner({
  model,
  loss: 'softmaxCrossEntropy',
  optimizer,
  train: new DataLoader(train, { batchSize, seed }),
  valid: new DataLoader(test, { batchSize: 500, shuffle: false }),
  metrics: [accuracy()],
  seed,
});
const perEpoch = [];
for (let epoch = 0; epoch < epochs; epoch++) {
  const history = await learner.fit(1);
  const last = history.epochs.at(-1);
  perEpoch.push({ epoch, trainAccuracy: last.train.accuracy, testAccuracy: last.valid.accuracy, testLoss: last.valid.loss });
  console.log(`epoch ${epoch + 1}/${epochs}: train accuracy ${last.train.accuracy.toFixed(4)}, test accuracy ${last.valid.accuracy.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
optimizer.dispose();

const out = resolve(args.out);
await mkdir(out, { recursive: true });
await saveLayersModelToDisk(model, out);
model.dispose();
const packageJson = JSON.parse(await readFile(join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'package.json'), 'utf8'));
const provenance = {
  name: 'fashion6-smallcnn',
  description: 'smallConvNet backbone pretrained on the 6 Fashion-MNIST classes in neither target pair of E2.1/E4.2',
  made_by: `node ${relative(ROOT, fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim(),
  date: new Date().toISOString(),
  architecture: { builder: 'smallConvNet (@convkit/models)', ...ARCHITECTURE, numClasses: SOURCE_CLASSES.length, layerNames: 'conv_1, conv_2, head_dense_1, head_logits' },
  data: {
    dataset: 'Fashion-MNIST (IDX files of the Debian package dataset-fashion-mnist)',
    classes: SOURCE_CLASSES.map((c) => `${c} ${fashionTrain.classNames[c]}`),
    excluded_classes: '0 T-shirt/top, 1 trouser, 6 shirt, 8 bag (the notebooks\' target pairs)',
    train_images: train.length,
    test_images: test.length,
    preprocessing: 'pixels / 255 (the DataLoader default), no augmentation',
  },
  training: { optimizer: 'Adam (@convkit/optim)', learningRate, batchSize, epochs, seed, backend: backend.name, tfjs: packageJson.version },
  accuracy: { test: perEpoch.at(-1).testAccuracy, train: perEpoch.at(-1).trainAccuracy, perEpoch },
  wall_seconds: Math.round((Date.now() - started) / 1000),
  sha256: { 'model.json': await sha256(join(out, 'model.json')), 'weights.bin': await sha256(join(out, 'weights.bin')) },
};
await writeFile(join(out, 'provenance.json'), `${JSON.stringify(provenance, null, 2)}\n`);
console.log(`wrote ${relative(ROOT, out)}/{model.json,weights.bin,provenance.json}: test accuracy ${provenance.accuracy.test.toFixed(4)}, ${provenance.wall_seconds} s`);
console.log(`tensors left: ${tf.memory().numTensors}`);
