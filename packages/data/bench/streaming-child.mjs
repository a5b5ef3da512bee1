// One measurement of bench/streaming.mjs, in its own process: see that file.
import { initBackend, tf } from '@convkit/core';
import { DataLoader, loadImageFolder, streamImageFolder } from '../dist/index.js';
import { augmentation } from './e01-augmentation.mjs';

const MB = 2 ** 20;
const rss = () => process.memoryUsage().rss / MB;
const peak = () => (process.resourceUsage().maxRSS * 1024) / MB;

/** E0.1's network, as `smallConvNet` builds it there: 5 × (conv 3×3 same → LeakyReLU 0.1 → max-pool 2), dense 64, dense 2. */
function e01Model(size) {
  const layers = [];
  [8, 16, 32, 32, 64].forEach((filters, i) => {
    layers.push(tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', ...(i === 0 ? { inputShape: [size, size, 3] } : {}) }));
    layers.push(tf.layers.leakyReLU({ alpha: 0.1 }));
    layers.push(tf.layers.maxPooling2d({ poolSize: 2 }));
  });
  layers.push(tf.layers.flatten(), tf.layers.dense({ units: 64 }), tf.layers.leakyReLU({ alpha: 0.1 }), tf.layers.dense({ units: 2 }));
  return tf.sequential({ layers });
}

/** The loader's transform: in the training thread (`workers: 0`, the configuration before issue 15) or in workers. */
function transformOptions(workers) {
  if (workers === 0) return { transform: augmentation() };
  return { transformModule: { url: new URL('./e01-augmentation.mjs', import.meta.url), export: 'augmentation' }, workers };
}

async function open(kind, args) {
  const options = { size: [args.size, args.size], channels: 3, classNames: ['no-marker', 'marker'], log: false };
  if (kind === 'in-memory') return loadImageFolder(args.dir, options);
  if (kind === 'streaming') return streamImageFolder(args.dir, options);
  return streamImageFolder(args.dir, { ...options, cache: args.cache });
}

/** One Adam step on (x, y); resolves when the loss is on the CPU. */
function trainer(model) {
  const optimizer = tf.train.adam(1e-3);
  return async (x, y) => {
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(x)), true);
    await loss.data();
    loss.dispose();
  };
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

export async function runChild(mode, args) {
  const backend = await initBackend({ log: false });
  const model = e01Model(args.size);
  const step = trainer(model);
  if (mode === 'memory') {
    const start = performance.now();
    if (args.kind === 'model-only') {
      const x = tf.randomUniform([args.batch, args.size, args.size, 3]);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: args.batch }, (_, i) => i % 2), 'int32'), 2);
      await step(x, y);
      const firstStepSeconds = (performance.now() - start) / 1000;
      for (let i = 0; i < args.steps; i++) await step(x, y);
      return { backend: backend.summary, firstStepSeconds, openSeconds: 0, rssAfterStepsMB: rss(), peakRssMB: peak() };
    }
    const dataset = await open(args.kind, args);
    const openSeconds = (performance.now() - start) / 1000;
    const loader = new DataLoader(dataset, { batchSize: args.batch, seed: args.seed, prefetch: 2, ...transformOptions(args.workers) });
    let firstStepSeconds;
    let steps = 0;
    for await (const { x, y } of loader) {
      await step(x, y);
      tf.dispose([x, y]);
      if (steps === 0) firstStepSeconds = (performance.now() - start) / 1000;
      if (++steps > args.steps) break;
    }
    const result = { backend: backend.summary, workers: args.workers, openSeconds, firstStepSeconds, rssAfterStepsMB: rss(), peakRssMB: peak() };
    await loader.close();
    await dataset.close?.();
    return result;
  }
  // throughput: whole epochs over args.count images; the cached kind builds its cache in epoch 1, reads it in epoch 2;
  // epoch 2 of the others is the steady state (workers started, kernels warm).
  const dataset = await open(args.kind, args);
  const loader = new DataLoader(dataset, { batchSize: args.batch, seed: args.seed, prefetch: 2, ...transformOptions(args.workers) });
  const rows = [];
  const epochs = args.kind === 'cached' ? ['epoch 1 (writes the cache)', 'epoch 2 (reads the cache)'] : ['epoch 1', 'epoch 2'];
  for (const epochLabel of epochs) {
    let waiting = 0;
    let firstWait = 0;
    let images = 0;
    let training = 0;
    let batches = 0;
    let slowWaits = 0;
    const waits = [];
    const begin = performance.now();
    const iterator = loader[Symbol.asyncIterator]();
    for (;;) {
      const asked = performance.now();
      const next = await iterator.next();
      const waited = performance.now() - asked;
      if (images === 0) firstWait = waited;
      else if (!next.done) {
        waits.push(waited);
        if (waited > 1) slowWaits += 1;
      }
      waiting += waited;
      if (next.done) break;
      const { x, y } = next.value;
      images += x.shape[0];
      batches += 1;
      const started = performance.now();
      await step(x, y);
      training += performance.now() - started;
      tf.dispose([x, y]);
    }
    const seconds = (performance.now() - begin) / 1000;
    rows.push({
      kind: args.kind,
      workers: args.workers,
      epochLabel,
      backend: backend.summary,
      images,
      seconds,
      samplesPerSecond: images / seconds,
      dataWaitShare: waiting / 1000 / seconds,
      firstBatchWaitSeconds: firstWait / 1000,
      dataWaitShareAfterFirstBatch: (waiting - firstWait) / (1000 * seconds - firstWait),
      batchesWaitingOver1ms: slowWaits,
      waitMsMedian: quantile(waits, 0.5),
      waitMsP90: quantile(waits, 0.9),
      batches,
      stepMs: training / batches,
      peakRssMB: peak(),
    });
  }
  await loader.close();
  await dataset.close?.();
  return rows;
}
