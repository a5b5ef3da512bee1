// convkit quick start: train a small CNN on Fashion-MNIST and write its metrics and learning curves.
//
//   node examples/quickstart.mjs            # full size: 5 epochs on 60,000 images, >= 90% test accuracy
//   CONVKIT_SIZE=smoke node examples/quickstart.mjs   # seconds: 2,000 images, 1 epoch, no accuracy target
//
// Writes results/quickstart/metrics.json and results/quickstart/learning-curves.png (a smoke run: build/quickstart-smoke/).
// Exits with 1 if the full-size run misses the 90% target.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng, initBackend } from '@convkit/core';
import { DataLoader, loadFashionMnist, subset } from '@convkit/data';
import { Learner, progressBar } from '@convkit/learner';
import { adam } from '@convkit/optim';
import { learningCurves } from '@convkit/plot';
import { QUICKSTART_RECIPE as QUICKSTART, quickstartModel } from '@convkit/models';

const size = process.env.CONVKIT_SIZE === 'smoke' ? 'smoke' : 'full';
const recipe = {
  full: { trainImages: 60_000, testImages: 10_000, epochs: 5, target: 0.9 },
  smoke: { trainImages: 2_000, testImages: 1_000, epochs: 1, target: 0 },
}[size];
const seed = 42;
// A smoke run writes under build/ so that it never replaces the committed full-size results.
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', ...(size === 'smoke' ? ['build', 'quickstart-smoke'] : ['results', 'quickstart']));

const backend = await initBackend(); // prints which backend runs and why

// Data: the Debian package's IDX files, a cache, or a download (with checksums) for users who are online.
const rng = createRng(seed);
const takeFirst = (ds, n) => (n >= ds.length ? ds : subset(ds, rng.permutation(ds.length).subarray(0, n)));
const trainSet = takeFirst(await loadFashionMnist({ split: 'train' }), recipe.trainImages);
const testSet = takeFirst(await loadFashionMnist({ split: 'test' }), recipe.testImages);
console.log(`data: ${trainSet.length} training and ${testSet.length} test images from ${trainSet.source}`);
const train = new DataLoader(trainSet, { batchSize: QUICKSTART.batchSize, seed, prefetch: 2 });
const test = new DataLoader(testSet, { batchSize: 500, shuffle: false });

// Model: two 3x3 convolutions with max pooling, a dense head; He (variance-scaling) initialisation
// (`quickstartModel` from @convkit/models, shared with the benchmarks that compare with the quick start).
const model = quickstartModel(rng);

// A plugin is a plain object of hooks. This one anneals the learning rate from its peak to zero along a half
// cosine over the whole fit, and declares that it writes the rate so that no other plugin silently does too.
const { peakLearningRate } = QUICKSTART;
const cosineAnnealing = {
  name: 'cosineAnnealing',
  order: 10,
  writes: ['hyper.learningRate'],
  beforeBatch(ctx) {
    const progress = ctx.fitStep / (ctx.epochs * (ctx.batchesPerEpoch ?? train.length));
    ctx.hypers.learningRate = 0.5 * peakLearningRate * (1 + Math.cos(Math.PI * progress));
  },
};

const learner = new Learner({
  model,
  loss: 'softmaxCrossEntropy',
  // PyTorch's Adam rule; on wasm one fused kernel updates every weight (tf.train.adam works too, slower).
  optimizer: adam({ learningRate: peakLearningRate }),
  train,
  valid: test,
  plugins: [cosineAnnealing, progressBar()],
  seed,
});
const started = performance.now();
const history = await learner.fit(recipe.epochs);
const wallSeconds = (performance.now() - started) / 1000;

const final = await learner.validate(test);
const trainSeconds = history.epochs.reduce((sum, e) => sum + e.seconds, 0);
const metrics = {
  size,
  testAccuracy: final.accuracy,
  testLoss: final.loss,
  target: recipe.target,
  backend: backend.name,
  tfBackend: backend.tfBackend,
  threads: backend.threads,
  kernels: backend.native?.used ? backend.native.detail : null,
  epochs: recipe.epochs,
  trainImages: trainSet.length,
  testImages: testSet.length,
  samplesPerSecond: (trainSet.length * recipe.epochs) / trainSeconds,
  wallSeconds,
  dataSource: trainSet.source,
  history: history.epochs,
};

await mkdir(outDir, { recursive: true });
const metricsPath = join(outDir, 'metrics.json');
await writeFile(`${metricsPath}.tmp`, `${JSON.stringify(metrics, null, 2)}\n`);
await rename(`${metricsPath}.tmp`, metricsPath);
await learningCurves(history, { title: `Fashion-MNIST quick start (${backend.name})` }).save(join(outDir, 'learning-curves.png'));
model.dispose();

console.log(
  `test accuracy ${(100 * final.accuracy).toFixed(2)}% on ${testSet.length} images; ` +
    `${metrics.samplesPerSecond.toFixed(0)} samples/s on ${backend.name}${backend.native?.used ? ` + ${backend.native.detail}` : ''}; wall time ${wallSeconds.toFixed(0)} s`,
);
console.log(`wrote ${metricsPath} and ${join(outDir, 'learning-curves.png')}`);
if (final.accuracy < recipe.target) {
  console.error(`quick start: test accuracy ${(100 * final.accuracy).toFixed(2)}% is below the ${100 * recipe.target}% target`);
  process.exit(1);
}
