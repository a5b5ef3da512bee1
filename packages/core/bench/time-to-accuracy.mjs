// Time-to-accuracy: the quick start's recipe (examples/quickstart.mjs) trained until it reaches a Fashion-MNIST test
// accuracy (91% by default), with convkit on the backend initBackend() picks and with PyTorch (bench/tta_torch.py,
// same model, initialisation, data, optimizer, schedule, batch, epochs and threads). Opt-in, because it trains for
// minutes: `npm run bench:tta -w @convkit/core [-- --threads 2 --epochs 5 --target 0.91 --concurrent]`.
// Writes results/bench/time-to-accuracy.json at the repository root (rewritten after every evaluation, so a run cut
// short still leaves its trajectory). The clock counts training steps only: test accuracy is measured every quarter
// epoch with the clock stopped, on both systems alike.
//
// The recipe: conv16 3x3 same relu, maxpool 2, conv32 3x3 same relu, maxpool 2, dense64 relu, dense10 (He
// truncated-normal weights); Adam, peak rate 2e-3 annealed to 0 along a half cosine over the whole fit, set before each
// batch; batch 64; pixels / 255; a fresh seeded shuffle each epoch; 60,000 training and 10,000 test images from the
// Debian package's IDX files (/usr/share/datasets/fashion-mnist, or CONVKIT_FASHION_MNIST).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const threads = Number(option('threads', availableParallelism()));
const epochs = Number(option('epochs', 5));
const target = Number(option('target', 0.91));
const evalsPerEpoch = Number(option('evals-per-epoch', 4));
const trainImages = Number(option('train-images', 60_000));
const data = process.env.CONVKIT_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
const common = ['--threads', String(threads), '--epochs', String(epochs), '--target', String(target), '--evals-per-epoch', String(evalsPerEpoch), '--train-images', String(trainImages)];

/** An IDX file (gzipped) as its bytes after the header. */
function idx(path) {
  const bytes = gunzipSync(readFileSync(path));
  const dims = bytes[3];
  return bytes.subarray(4 + 4 * dims);
}

async function convkitChild() {
  const { createRng, initBackend, tf } = await import('../dist/index.js');
  const report = await initBackend({ threads, log: false });
  const seed = Number(option('seed', 42));
  const rng = createRng(seed);
  const trainX = idx(join(data, 'train-images-idx3-ubyte.gz')).subarray(0, trainImages * 784);
  const trainY = idx(join(data, 'train-labels-idx1-ubyte.gz')).subarray(0, trainImages);
  const testX = idx(join(data, 't10k-images-idx3-ubyte.gz'));
  const testY = idx(join(data, 't10k-labels-idx1-ubyte.gz'));
  // @convkit/models depends on core, so it is not a devDependency of core (turbo refuses the cycle); the workspace
  // links it, and `npm run build` builds it before a bench runs.
  const { QUICKSTART_RECIPE: QUICKSTART, quickstartModel } = await import('@convkit/models');
  const model = quickstartModel(rng);
  const peak = QUICKSTART.peakLearningRate;
  const optimizer = tf.train.adam(peak);
  const batch = QUICKSTART.batchSize;
  const count = trainY.length;
  const stepsPerEpoch = Math.ceil(count / batch);
  const totalSteps = stepsPerEpoch * epochs;
  const evalEvery = Math.max(1, Math.floor(stepsPerEpoch / evalsPerEpoch));
  const pixels = (source, indices) => {
    const out = new Float32Array(indices.length * 784);
    indices.forEach((image, i) => {
      for (let p = 0; p < 784; p++) out[i * 784 + p] = source[image * 784 + p] / 255;
    });
    return out;
  };
  const evaluate = () => {
    let correct = 0;
    for (let start = 0; start < testY.length; start += 500) {
      const indices = Array.from({ length: Math.min(500, testY.length - start) }, (_, i) => start + i);
      const predicted = tf.tidy(() => model.apply(tf.tensor4d(pixels(testX, indices), [indices.length, 28, 28, 1])).argMax(1).dataSync());
      predicted.forEach((label, i) => { if (label === testY[start + i]) correct++; });
    }
    return correct / testY.length;
  };
  let trained = 0;
  let step = 0;
  let reached = null;
  const trajectory = [];
  for (let epoch = 0; epoch < epochs && reached === null; epoch++) {
    const order = rng.permutation(count);
    for (let start = 0; start < count; start += batch) {
      const began = performance.now();
      optimizer.learningRate = 0.5 * peak * (1 + Math.cos((Math.PI * step) / totalSteps));
      const indices = Array.from(order.subarray(start, start + batch));
      const x = tf.tensor4d(pixels(trainX, indices), [indices.length, 28, 28, 1]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(indices.map((i) => trainY[i]), 'int32'), 10).toFloat());
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x)), true);
      loss.dataSync();
      tf.dispose([x, y, loss]);
      trained += (performance.now() - began) / 1000;
      step++;
      if (step % evalEvery === 0 || step === totalSteps) {
        const point = { step, epoch: step / stepsPerEpoch, seconds: trained, accuracy: evaluate() };
        trajectory.push(point);
        console.log(JSON.stringify({ progress: point }));
        if (point.accuracy >= target) {
          reached = point;
          break;
        }
      }
    }
  }
  const low = report.precision === 'bf16' ? ', bf16 convolutions' : '';
  console.log(JSON.stringify({ done: true, backend: report.native?.used ? `${report.name} + ${report.native.detail}${low}` : report.name, threads: report.threads, reached, trajectory }));
  optimizer.dispose();
  model.dispose();
}

if (args.includes('--child')) {
  await convkitChild();
  process.exit(0);
}

const root = join(here, '..', '..', '..');
const file = join(root, 'results', 'bench', 'time-to-accuracy.json');
mkdirSync(dirname(file), { recursive: true });
const started = new Date().toISOString();
const load = [loadavg()];
const systems = {
  convkit: { command: process.execPath, argv: [fileURLToPath(import.meta.url), '--child', ...common], env: { CONVKIT_THREADS: String(threads) } },
  pytorch: { command: process.env.CONVKIT_BENCH_PYTHON ?? '/usr/bin/python3', argv: [join(here, 'tta_torch.py'), '--data', data, ...common], env: {} },
};
const state = { convkit: { trajectory: [] }, pytorch: { trajectory: [] } };

function write() {
  const rows = Object.entries(state).map(([system, s]) => ({
    workload: 'quickstart-fashion-mnist',
    system,
    backend: system === 'convkit' ? s.backend ?? null : s.torch === undefined ? null : `torch ${s.torch} cpu (${s.blas})`,
    threads: s.threads ?? threads,
    target,
    secondsToTarget: s.reached?.seconds ?? null,
    epochsToTarget: s.reached?.epoch ?? null,
    finalAccuracy: s.trajectory.at(-1)?.accuracy ?? null,
    finished: s.done === true,
    trajectory: s.trajectory,
  }));
  const ours = rows[0].secondsToTarget;
  const theirs = rows[1].secondsToTarget;
  if (ours !== null && theirs !== null) rows[0].ratioToPytorch = theirs / ours;
  const recipe = { epochs, batch: 64, optimizer: 'adam', peakLearningRate: 2e-3, schedule: 'cosine to 0 per batch', trainImages, testImages: 10_000, evalsPerEpoch };
  writeFileSync(file, `${JSON.stringify({ date: started, node: process.version, cores: availableParallelism(), concurrent: args.includes('--concurrent'), loadAverage: load, recipe, rows }, null, 2)}\n`);
}

function run(system) {
  const { command, argv, env } = systems[system];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    let errors = '';
    child.stdout.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const message = JSON.parse(line);
        if (message.progress) {
          state[system].trajectory.push(message.progress);
          const p = message.progress;
          console.log(`${system}: epoch ${p.epoch.toFixed(2)}, ${p.seconds.toFixed(0)} s training, test accuracy ${(100 * p.accuracy).toFixed(2)}%`);
        } else if (message.done) Object.assign(state[system], message);
        load.push(loadavg());
        write();
      }
    });
    child.stderr.on('data', (chunk) => { errors += chunk; });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${system} failed (exit ${code}):\n${errors.slice(-2000)}`))));
  });
}

if (args.includes('--concurrent')) await Promise.all([run('convkit'), run('pytorch')]);
else {
  await run('convkit');
  await run('pytorch');
}
write();
for (const [system, s] of Object.entries(state)) {
  const to = s.reached ? `${s.reached.seconds.toFixed(0)} s (epoch ${s.reached.epoch.toFixed(2)})` : `not reached (final ${(100 * (s.trajectory.at(-1)?.accuracy ?? 0)).toFixed(2)}%)`;
  console.log(`${system}: ${(100 * target).toFixed(0)}% test accuracy after ${to}`);
}
console.log(`wrote ${file}`);
