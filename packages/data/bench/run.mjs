// Benchmark: does the loader keep up with training? Measures, in one run and on the backend `initBackend()` picks:
//   (a) the quick start's training consumption (its CNN, batch 64, Adam, a Learner fed by a DataLoader), images/s;
//   (b) the DataLoader alone over Fashion-MNIST with the quick start's settings (batch 64, shuffled, prefetch 2);
//   (c) image-folder pipelines on a generated folder of PNG and JPEG files:
//       (c1) decode from disk with sharp on every epoch → random resized crop to 28×28 → flip → rotate → colour
//            jitter (@convkit/augment, 4 images in flight) → float32 batch tensors;
//       (c2) decode and resize once with loadImageFolder → DataLoader with tensor augmentation (flip + affine).
// Prints a table and writes results/bench/data.json (rows: workload, system, imagesPerSecond median and spread,
// ratioToTraining). The goal: every loader row at least 5× the training row.
//
//   npm run bench -w @convkit/data               # ~1–2 minutes
//   DATA_BENCH_REPEATS=3 npm run bench -w @convkit/data
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createRng, initBackend, Rng, tf } from '@convkit/core';
import { Learner } from '@convkit/learner';
import { QUICKSTART_RECIPE as QUICKSTART, quickstartModel } from '@convkit/models';
import {
  batchAffine, batchFlip, batchTransform, colorJitter, compose, horizontalFlip, imagePipeline, imagesToTensor,
  randomResizedCrop, rotate,
} from '@convkit/augment';
import { DataLoader, loadFashionMnist, loadImageFolder, markerImages, subset, writeImageFolder } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const REPEATS = Number(process.env.DATA_BENCH_REPEATS ?? 5);
const TRAIN_STEPS = Number(process.env.DATA_BENCH_TRAIN_STEPS ?? 20); // steps per timed training epoch
const LOADER_BATCHES = Number(process.env.DATA_BENCH_LOADER_BATCHES ?? 150); // batches per timed loader pass
const FOLDER_IMAGES = Number(process.env.DATA_BENCH_FOLDER_IMAGES ?? 384); // files in the generated folder
const BATCH = QUICKSTART.batchSize;
const SEED = 42;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
/** Median, min, max and spread = (max − min) / median of per-repeat rates. */
const summarise = (rates) => {
  const m = median(rates);
  return { imagesPerSecond: m, min: Math.min(...rates), max: Math.max(...rates), spread: (Math.max(...rates) - Math.min(...rates)) / m, runs: rates.length };
};

const backend = await initBackend({ log: false });
console.log(`backend: ${backend.summary}`);
const fashion = await loadFashionMnist({ split: 'train' });

// (a) Training consumption: the quick start's model, optimizer, loss, batch size and loader; one warm-up epoch,
// then REPEATS timed epochs of TRAIN_STEPS steps. Rate = images / epoch seconds, as the quick start reports it.
async function measureTraining() {
  const rng = createRng(SEED);
  const model = quickstartModel(rng);
  const images = subset(fashion, rng.permutation(fashion.length).subarray(0, TRAIN_STEPS * BATCH));
  const train = new DataLoader(images, { batchSize: BATCH, seed: SEED, prefetch: 2 });
  const optimizer = tf.train.adam(QUICKSTART.peakLearningRate);
  const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train, seed: SEED });
  const history = await learner.fit(REPEATS + 1);
  model.dispose();
  optimizer.dispose();
  return history.epochs.slice(1).map((epoch) => images.length / epoch.seconds);
}

// Runs `pass` (which returns how many images it delivered) once to warm up, then REPEATS times timed.
async function timed(pass) {
  await pass();
  const rates = [];
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    const count = await pass();
    rates.push(count / ((performance.now() - start) / 1000));
  }
  return rates;
}

// Consumes up to `limit` batches of one epoch of `loader`, disposing them; returns the images delivered.
async function drain(loader, limit) {
  let count = 0;
  let batches = 0;
  for await (const { x, y } of loader) {
    count += x.shape[0];
    tf.dispose([x, y]);
    if (++batches >= limit) break;
  }
  return count;
}

// (b) The DataLoader alone over Fashion-MNIST, the quick start's settings.
async function measureLoader() {
  const loader = new DataLoader(fashion, { batchSize: BATCH, seed: SEED, prefetch: 2 });
  return timed(() => drain(loader, LOADER_BATCHES));
}

// (c) A generated image folder: 96×96 RGB marker images (cluttered backgrounds), written as PNG by
// writeImageFolder, every other file re-encoded as JPEG (quality 90).
async function makeFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'convkit-data-bench-'));
  const dataset = markerImages({ count: FOLDER_IMAGES, size: 96, markerSize: [16, 48], seed: SEED });
  const written = await writeImageFolder(dataset, dir);
  const files = [];
  for (let i = 0; i < written.length; i++) {
    const file = written[i];
    if (i % 2 === 0) {
      files.push(file);
      continue;
    }
    const jpeg = file.replace(/\.png$/, '.jpg');
    await sharp(file).jpeg({ quality: 90 }).toFile(jpeg);
    rmSync(file);
    files.push(jpeg);
  }
  return { dir, files };
}

// Decodes (every epoch, or once with `cache`) and augments on raw pixels, then stacks batches of 64 into tensors.
async function measureFolderPipeline(files, cache) {
  const transform = compose([
    randomResizedCrop({ width: 28, height: 28, scale: [0.6, 1] }),
    horizontalFlip(),
    rotate({ degrees: 10 }),
    colorJitter({ brightness: 0.2, contrast: 0.2 }),
  ]);
  const pipeline = imagePipeline({ transform, concurrency: 4, cache });
  const rng = new Rng(SEED);
  return timed(async () => {
    const order = rng.permutation(files.length);
    let count = 0;
    for (let i = 0; i < files.length; i += BATCH) {
      const batch = Array.from(order.subarray(i, i + BATCH), (k) => files[k]);
      const { images } = await pipeline.run(batch, rng);
      const x = imagesToTensor(images);
      count += x.shape[0];
      x.dispose();
    }
    return count;
  });
}

async function measureFolderInMemory(dir) {
  const start = performance.now();
  const dataset = await loadImageFolder(dir, { size: [28, 28], channels: 3 });
  const loadSeconds = (performance.now() - start) / 1000;
  const transform = batchTransform(compose([batchFlip(), batchAffine({ shift: 0.1, zoom: 0.1, degrees: 10 })]));
  const loader = new DataLoader(dataset, { batchSize: BATCH, seed: SEED, prefetch: 2, transform });
  return { rates: await timed(() => drain(loader, Infinity)), loadImagesPerSecond: dataset.length / loadSeconds };
}

const before = tf.memory().numTensors;
const started = performance.now();
console.log('(a) training the quick-start CNN ...');
const training = summarise(await measureTraining());
console.log('(b) DataLoader over Fashion-MNIST ...');
const loader = summarise(await measureLoader());
console.log('(c) image folder pipelines ...');
const folder = await makeFolder();
let streaming;
let cached;
let inMemory;
try {
  streaming = summarise(await measureFolderPipeline(folder.files, false));
  cached = summarise(await measureFolderPipeline(folder.files, true));
  const measured = await measureFolderInMemory(folder.dir);
  inMemory = { ...summarise(measured.rates), loadImagesPerSecond: measured.loadImagesPerSecond };
} finally {
  rmSync(folder.dir, { recursive: true, force: true });
}
const leaked = tf.memory().numTensors - before;

const system = `convkit on ${backend.tfBackend} (${backend.threads} thread${backend.threads === 1 ? '' : 's'})`;
const rows = [
  ['training', 'quick-start CNN on Fashion-MNIST 28x28x1, batch 64, Adam (Learner fed by a DataLoader)', training],
  ['loader', 'DataLoader over Fashion-MNIST, batch 64, shuffled, prefetch 2 (float32 x, one-hot y)', loader],
  ['folder-stream', `sharp decodes ${FOLDER_IMAGES} PNG/JPEG 96x96 files every epoch -> random resized crop 28 -> flip -> rotate ±10 -> colour jitter -> float32 batch of 64 (4 in flight)`, streaming],
  ['folder-cached', 'the same pipeline with decoded images cached (decode once, augment every epoch)', cached],
  ['folder-in-memory', 'loadImageFolder once (resize to 28x28) -> DataLoader batch 64 with tensor flip + affine (batchTransform)', inMemory],
].map(([workload, description, rates]) => ({ workload, description, system, ...rates, ratioToTraining: rates.imagesPerSecond / training.imagesPerSecond }));

const fmt = (n, width) => n.toFixed(0).padStart(width);
console.log(`\n${'workload'.padEnd(17)} ${'img/s'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)} spread  ×training`);
for (const row of rows) {
  console.log(`${row.workload.padEnd(17)} ${fmt(row.imagesPerSecond, 7)} ${fmt(row.min, 7)} ${fmt(row.max, 7)} ${row.spread.toFixed(2).padStart(6)} ${row.ratioToTraining.toFixed(1).padStart(9)}`);
}
console.log('');
for (const row of rows) console.log(`${row.workload}: ${row.description}`);
const goal = 5;
for (const row of rows.slice(1)) row.meetsGoal = row.ratioToTraining >= goal;
const quickStart = rows[1];
const below = rows.slice(1).filter((row) => !row.meetsGoal).map((row) => row.workload);
console.log(
  `\nthe quick start's loader delivers ${quickStart.ratioToTraining.toFixed(1)}× the training rate (goal ≥ ${goal}×): ${quickStart.meetsGoal ? 'met' : 'NOT met'}` +
    (below.length > 0 ? `; below ${goal}×: ${below.join(', ')}` : '; every loader row meets it'),
);
if (leaked !== 0) console.error(`warning: ${leaked} tensors leaked during the benchmark`);

const result = {
  date: new Date().toISOString(),
  node: process.version,
  cores: cpus().length,
  loadAverage: loadavg()[0],
  backend: backend.name,
  tfBackend: backend.tfBackend,
  threads: backend.threads,
  sharpConcurrency: sharp.concurrency(),
  batch: BATCH,
  repeats: REPEATS,
  spreadDefinition: '(max - min) / median of the per-repeat rates',
  goal: `a loader row >= ${goal}x the training row (meetsGoal per row)`,
  goalMet: quickStart.meetsGoal,
  seconds: (performance.now() - started) / 1000,
  leakedTensors: leaked,
  rows,
};
mkdirSync(join(root, 'results/bench'), { recursive: true });
writeFileSync(join(root, 'results/bench/data.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${join(root, 'results/bench/data.json')}`);
