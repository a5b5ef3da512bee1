// Benchmark (issue 22): streaming, cached and in-memory image-folder datasets on generated 500×500 JPEGs.
//   (1) resident memory and time to the first training step for 1k, 5k and 20k images, each kind in its own
//       process (so one run's memory does not count in another's), decoded to SIZE×SIZE;
//   (2) samples/s of the E0.1 marker pipeline (decode 500×500 → resize to 64×64 → flips + affine → E0.1's 5 conv + 2
//       dense CNN, Adam, batch 16) over 1k images, and the share of each step spent waiting on data.
// Writes results/bench/streaming.json. Run it under nice on a shared machine:
//   nice -n 10 npm run bench:streaming -w @convkit/data
//   STREAM_BENCH_COUNTS=1000,5000 STREAM_BENCH_SIZE=128 nice -n 10 npm run bench:streaming -w @convkit/data
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
// STREAM_BENCH_COUNTS=0 skips the memory part.
const COUNTS = (process.env.STREAM_BENCH_COUNTS ?? '1000,5000,20000').split(',').map(Number).filter((n) => n > 0);
// Configurations `workers:threads` (threads: the trainer's, CONVKIT_THREADS; 'all' = every core, initBackend's default).
// 0:all is the configuration before issue 15 (everything in the training thread); 1:all adds one worker; 1:<cores − 1>
// also gives the worker a core of its own.
const CONFIGS = (process.env.STREAM_BENCH_CONFIGS ?? `0:all,1:all,1:${Math.max(1, cpus().length - 1)}`).split(',').map((entry) => {
  const [workers, threads] = entry.split(':');
  return { workers: Number(workers), threads: threads === 'all' ? undefined : Number(threads) };
});
const MEMORY_WORKERS = 1;
// Rounds of the throughput part; each round runs every kind with every worker count, so the configurations compared
// alternate in time on a shared machine.
const REPEATS = Number(process.env.STREAM_BENCH_REPEATS ?? 2);
const SIZE = Number(process.env.STREAM_BENCH_SIZE ?? 128);
const THROUGHPUT_IMAGES = Number(process.env.STREAM_BENCH_THROUGHPUT_IMAGES ?? 1000);
const STEPS_AFTER_FIRST = Number(process.env.STREAM_BENCH_STEPS ?? 20);
const MEMORY_LIMIT_FRACTION = 0.6; // the in-memory kind is skipped when its images would take more of the RAM
const SEED = 7;
const BATCH = 16;
const work = join(tmpdir(), 'convkit-stream-bench');

const child = process.argv[2];
if (child === 'memory' || child === 'throughput') {
  const { runChild } = await import('./streaming-child.mjs');
  const result = await runChild(child, JSON.parse(process.argv[3]));
  process.stdout.write(`\nRESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** Writes `count` 500×500 JPEG marker images (2:1 marker:no-marker, 64 distinct pictures reused) as class folders. */
async function generate(count) {
  const dir = join(work, `jpeg500-n${count}`);
  if (existsSync(join(dir, 'done'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  const { markerImages } = await import('../dist/index.js');
  const sharp = (await import('sharp')).default;
  const pool = markerImages({ count: 64, size: 500, markerSize: [30, 300], ratio: 0.5, seed: SEED });
  const pixels = 500 * 500 * 3;
  const encoded = [];
  for (let i = 0; i < pool.length; i++) {
    const raw = pool.images.subarray(i * pixels, (i + 1) * pixels);
    encoded.push({ label: pool.classNames[pool.labels[i]], bytes: await sharp(raw, { raw: { width: 500, height: 500, channels: 3 } }).jpeg({ quality: 90 }).toBuffer() });
  }
  for (const name of pool.classNames) mkdirSync(join(dir, name), { recursive: true });
  const { writeFile } = await import('node:fs/promises');
  for (let i = 0; i < count; i++) {
    const { label, bytes } = encoded[i % encoded.length];
    await writeFile(join(dir, label, `${String(i).padStart(6, '0')}.jpg`), bytes);
  }
  writeFileSync(join(dir, 'done'), '');
  execFileSync('sync'); // flush the new files, so their write-back does not slow the first measurements
  return dir;
}

function runInChild(mode, args, threads) {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), mode, JSON.stringify(args)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    // wasm unless told otherwise: the CPU backend a user of this machine kind gets, and comparable between runs.
    env: { CONVKIT_BACKEND: 'wasm', ...process.env, ...(threads === undefined ? {} : { CONVKIT_THREADS: String(threads) }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  return JSON.parse(line.slice('RESULT '.length));
}

const started = performance.now();
const loadBefore = loadavg();
mkdirSync(work, { recursive: true });
const memory = [];
for (const count of COUNTS) {
  const dir = await generate(count);
  for (const kind of ['model-only', 'streaming', 'cached', 'in-memory']) {
    if (kind === 'model-only' && count !== COUNTS[0]) continue;
    const decodedBytes = count * SIZE * SIZE * 3;
    if (kind === 'in-memory' && decodedBytes > MEMORY_LIMIT_FRACTION * totalmem()) {
      memory.push({ kind, count, skipped: `its ${(decodedBytes / 2 ** 30).toFixed(1)} GiB of decoded images exceed ${MEMORY_LIMIT_FRACTION * 100}% of the ${(totalmem() / 2 ** 30).toFixed(0)} GiB of RAM` });
      continue;
    }
    const cache = join(work, `cache-n${count}-${SIZE}.ckcache`);
    rmSync(cache, { force: true });
    console.log(`memory: ${kind}, ${count} images at ${SIZE}×${SIZE} ...`);
    const row = runInChild('memory', { kind, dir, count, size: SIZE, cache, batch: BATCH, steps: STEPS_AFTER_FIRST, seed: SEED, workers: MEMORY_WORKERS });
    console.log(`  first step ${row.firstStepSeconds.toFixed(2)} s, resident ${row.rssAfterStepsMB.toFixed(0)} MB (peak ${row.peakRssMB.toFixed(0)} MB)`);
    memory.push({ kind, count, ...row });
    rmSync(cache, { force: true });
  }
}

const throughputDir = await generate(Math.max(THROUGHPUT_IMAGES, COUNTS[0] ?? 0));
const throughput = [];
for (let repeat = 1; repeat <= REPEATS; repeat++) for (const kind of ['in-memory', 'streaming', 'cached']) {
  for (const { workers, threads } of CONFIGS) {
    const cache = join(work, `cache-throughput.ckcache`);
    rmSync(cache, { force: true });
    const trainer = threads === undefined ? 'all cores' : `${threads} thread${threads === 1 ? '' : 's'}`;
    console.log(`E0.1 pipeline (round ${repeat}): ${kind}, ${workers} worker${workers === 1 ? '' : 's'}, trainer on ${trainer} ...`);
    const rows = runInChild('throughput', { kind, dir: throughputDir, count: THROUGHPUT_IMAGES, size: 64, cache, batch: BATCH, seed: SEED, workers }, threads);
    for (const row of rows) {
      console.log(
        `  ${row.kind} ${row.epochLabel}, workers ${workers}, ${trainer}: ${row.samplesPerSecond.toFixed(0)} samples/s, waiting on data ` +
          `${(100 * row.dataWaitShare).toFixed(1)}% of the epoch (${(100 * row.dataWaitShareAfterFirstBatch).toFixed(1)}% after the first batch, which waited ${row.firstBatchWaitSeconds.toFixed(2)} s; ` +
          `${row.batchesWaitingOver1ms}/${row.batches} batches waited > 1 ms; step ${row.stepMs.toFixed(1)} ms)`,
      );
      throughput.push({ round: repeat, loadAverage: loadavg(), trainerThreads: threads ?? 'all', ...row });
    }
    rmSync(cache, { force: true });
  }
}

const result = {
  date: new Date().toISOString(),
  node: process.version,
  cores: cpus().length,
  totalMemoryGiB: totalmem() / 2 ** 30,
  freeMemoryGiBAtStart: freemem() / 2 ** 30,
  loadAverageAtStart: loadBefore,
  loadAverageAtEnd: loadavg(),
  niceness: 'run under nice -n 10 on a machine shared with other jobs (see loadAverage)',
  seconds: (performance.now() - started) / 1000,
  images: 'generated 500×500 JPEG marker images (quality 90, 64 distinct pictures repeated), two class folders',
  memory: {
    decodedSize: [SIZE, SIZE, 3],
    batch: BATCH,
    stepsAfterFirst: STEPS_AFTER_FIRST,
    model: `E0.1's smallConvNet (5 conv 8-64 filters + dense 64, ${SIZE}×${SIZE}×3 input), Adam, batch ${BATCH}, DataLoader prefetch 2 with flips + affine, ${MEMORY_WORKERS} worker thread${MEMORY_WORKERS === 1 ? '' : 's'}`,
    definitions: {
      firstStepSeconds: 'from opening the folder (listing it; decoding it all for in-memory) to the end of the first training step',
      rssAfterStepsMB: `resident set size after the first step and ${STEPS_AFTER_FIRST} more`,
      peakRssMB: 'the process maximum resident set size (getrusage maxrss)',
      'model-only': 'the same process, model and training steps on a synthetic batch, no dataset: the floor',
    },
    rows: memory,
  },
  throughput: {
    pipeline: 'E0.1: decode 500×500 JPEG -> resize to 64×64 -> flips + affine (batchTransform) -> 5 conv + 2 dense CNN, Adam 1e-3, batch 16',
    images: THROUGHPUT_IMAGES,
    rounds: REPEATS,
    definitions: {
      workers: "the DataLoader's worker threads: 0 runs decode orchestration, normalisation and flips + affine in the training thread (the configuration before issue 15); 1 runs normalisation and flips + affine (transformModule) in a worker on its own one-thread wasm backend, with @convkit/native's Transform kernel when the addon loads; decoding stays on libuv's threads (libjpeg-turbo, or sharp's) either way",
      trainerThreads: "CONVKIT_THREADS of the training process (oneDNN's threads): 'all' is initBackend's default, every core",
      samplesPerSecond: 'images trained per second over the epoch',
      round: 'which round of STREAM_BENCH_REPEATS the row comes from (the rounds interleave the configurations)',
      loadAverage: 'the 1, 5 and 15 minute load averages when the row was measured',
      dataWaitShare: 'time spent awaiting the next batch / whole time of the epoch loop',
      firstBatchWaitSeconds: "the wait for the epoch's first batch (with workers, epoch 1 includes starting them)",
      dataWaitShareAfterFirstBatch: 'dataWaitShare without the first batch: the steady state',
      batchesWaitingOver1ms: 'how many batches after the first were awaited for more than 1 ms',
      stepMs: 'mean time of one training step (forward, backward, Adam, loss read back)',
    },
    rows: throughput,
  },
};
mkdirSync(join(root, 'results/bench'), { recursive: true });
writeFileSync(join(root, 'results/bench/streaming.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${join(root, 'results/bench/streaming.json')} in ${result.seconds.toFixed(0)} s`);
