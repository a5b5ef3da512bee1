// Benchmark: decode a 500×500 JPEG → random resized crop 224 → flip → rotate ±15° → colour jitter → float
// tensor, in images/s, decoding every epoch; convkit (sharp + fused JS warp, or @convkit/native's libjpeg-turbo
// decoder that decodes the region read and warps it on libuv's threads) against torchvision on PIL, same
// images, same run. Rounds alternate the systems so that load from other processes falls on all of them; each
// row is the median over the rounds. Writes results/bench/augment.json.
//
//   AUGMENT_BENCH_IMAGES (96), AUGMENT_BENCH_PASSES (2), AUGMENT_BENCH_ROUNDS (5), PYTHON (/usr/bin/python3),
//   AUGMENT_BENCH_VIPS_THREADS (sharp.concurrency; sharp's default), AUGMENT_BENCH_TORCH=0 skips torchvision,
//   AUGMENT_BENCH_OUT (the JSON's path; results/bench/augment.json). UV_THREADPOOL_SIZE is read by Node itself.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@convkit/core';
import { colorJitter, compose, horizontalFlip, imagePipeline, imagesToTensor, randomResizedCrop, rotate } from '../dist/index.js';
import { profileStages } from './stages.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const COUNT = Number(process.env.AUGMENT_BENCH_IMAGES ?? 96);
const PASSES = Number(process.env.AUGMENT_BENCH_PASSES ?? 2);
const ROUNDS = Number(process.env.AUGMENT_BENCH_ROUNDS ?? 5);
const BATCH = 16;
const python = process.env.PYTHON ?? '/usr/bin/python3';

const dir = mkdtempSync(join(tmpdir(), 'augment-bench-'));
const files = [];
for (let i = 0; i < COUNT; i++) {
  const raw = Buffer.alloc(500 * 500 * 3);
  for (let y = 0; y < 500; y++) for (let x = 0; x < 500; x++) {
    const o = (y * 500 + x) * 3;
    raw[o] = (x + i * 13) & 255; raw[o + 1] = (y * 2 + i * 7) & 255; raw[o + 2] = ((x ^ y) + i) & 255;
  }
  const file = join(dir, `image-${i}.jpg`);
  await sharp(raw, { raw: { width: 500, height: 500, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
  files.push(file);
}

// No libvips operation cache, so that every epoch decodes (it did not change the timings measured here).
sharp.cache(false);
if (process.env.AUGMENT_BENCH_VIPS_THREADS) sharp.concurrency(Number(process.env.AUGMENT_BENCH_VIPS_THREADS));
await tf.setBackend('cpu');
const transform = compose([
  randomResizedCrop({ width: 224, height: 224 }),
  horizontalFlip(),
  rotate({ degrees: 15 }),
  colorJitter({ brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.05 }),
]);

/** One epoch: batches of 16 in order; `prefetch` starts the next batch before the current one is awaited. */
async function epoch(pipeline, rng, mode) {
  if (mode === 'prefetch') {
    let pending = pipeline.runTensor(files.slice(0, BATCH), rng);
    for (let i = BATCH; i <= files.length; i += BATCH) {
      const next = i < files.length ? pipeline.runTensor(files.slice(i, i + BATCH), rng) : undefined;
      (await pending).x.dispose();
      pending = next;
    }
    return;
  }
  for (let i = 0; i < files.length; i += BATCH) {
    if (mode === 'tensor') (await pipeline.runTensor(files.slice(i, i + BATCH), rng)).x.dispose();
    else imagesToTensor((await pipeline.run(files.slice(i, i + BATCH), rng)).images).dispose();
  }
}

async function measureConvkit({ options, mode }) {
  const pipeline = imagePipeline({ transform, ...options });
  const rng = new Rng(0);
  await epoch(pipeline, rng, mode); // warm-up (reads the headers; fills the cache when on)
  const before = performance.eventLoopUtilization();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let p = 0; p < PASSES; p++) await epoch(pipeline, rng, mode);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return {
    imagesPerSecond: (files.length * PASSES) / seconds,
    cpuMsPerImage: (cpu.user + cpu.system) / 1000 / (files.length * PASSES),
    mainThreadBusy: performance.eventLoopUtilization(before).utilization,
  };
}

function measureTorchvision(workers) {
  const out = execFileSync(python, [join(here, 'torchvision_bench.py'), String(workers), String(PASSES), ...files], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

const sharpDecoder = { decoder: 'sharp' };
const convkitVariants = [
  { id: 'whole-1', variant: 'sharp: run + imagesToTensor, 1 in flight, whole-image decode', options: { ...sharpDecoder, concurrency: 1, regionDecode: false }, mode: 'run' },
  { id: 'whole-4', variant: 'sharp: run + imagesToTensor, 4 in flight, whole-image decode', options: { ...sharpDecoder, concurrency: 4, regionDecode: false }, mode: 'run' },
  { id: 'region-4', variant: 'sharp: run + imagesToTensor, 4 in flight, region decode', options: { ...sharpDecoder, concurrency: 4 }, mode: 'run' },
  { id: 'tensor-4', variant: 'sharp: runTensor, 4 in flight, region decode', options: { ...sharpDecoder, concurrency: 4 }, mode: 'tensor' },
  { id: 'prefetch-8', variant: 'sharp: runTensor, 8 in flight, region decode, next batch prefetched', options: { ...sharpDecoder, concurrency: 8 }, mode: 'prefetch' },
  { id: 'native-exact-4', variant: 'native: runTensor, 4 in flight, region decode + warp, no shrink (same bytes as sharp)', options: { decoder: 'native', shrinkOnLoad: false, concurrency: 4 }, mode: 'tensor' },
  { id: 'native-4', variant: 'native: runTensor, 4 in flight, region decode + warp, shrink-on-load', options: { decoder: 'native', concurrency: 4 }, mode: 'tensor' },
  { id: 'native-prefetch-4', variant: 'native: runTensor, 4 in flight, shrink-on-load (the pipeline defaults), next batch prefetched', options: { concurrency: 4 }, mode: 'prefetch' },
  { id: 'native-prefetch-8', variant: 'native: runTensor, 8 in flight, shrink-on-load, next batch prefetched', options: { decoder: 'native', concurrency: 8 }, mode: 'prefetch' },
  { id: 'cache', variant: 'decoded-image cache (decodes once; not the target), 4 in flight', options: { cache: true, concurrency: 4 }, mode: 'tensor' },
];
const torchVariants = [
  { id: 'torchvision-1', workers: 0, variant: 'PIL, 1 process, 1 thread, image by image' },
  { id: 'torchvision-dataloader-2', workers: 2, variant: 'PIL, torch DataLoader num_workers=2 (1 thread each), batch 16' },
];

const samples = new Map();
const add = (id, value) => samples.set(id, [...(samples.get(id) ?? []), value]);
const loads = [];
let torchVersions;
for (let round = 0; round < ROUNDS; round++) {
  loads.push(loadavg()[0]);
  for (const t of process.env.AUGMENT_BENCH_TORCH === '0' ? [] : torchVariants) {
    try {
      const result = measureTorchvision(t.workers);
      torchVersions = { torchvision: result.torchvision, torch: result.torch };
      add(t.id, { imagesPerSecond: result.imagesPerSecond, cpuMsPerImage: result.cpuMsPerImage });
    } catch (error) {
      console.error(`torchvision benchmark (${t.id}) failed: ${error.message}`);
    }
  }
  for (const v of convkitVariants) add(v.id, await measureConvkit(v));
}
loads.push(loadavg()[0]);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const summary = (id) => {
  const list = samples.get(id) ?? [];
  if (list.length === 0) return undefined;
  const rates = list.map((s) => s.imagesPerSecond);
  const busy = list.map((s) => s.mainThreadBusy).filter((b) => b !== undefined);
  return {
    imagesPerSecond: median(rates),
    perRound: rates,
    cpuMsPerImage: median(list.map((s) => s.cpuMsPerImage)),
    ...(busy.length > 0 ? { mainThreadBusy: median(busy) } : {}),
  };
};
const torchRows = torchVariants.map((t) => ({ system: 'torchvision', id: t.id, variant: t.variant, ...summary(t.id) })).filter((r) => r.imagesPerSecond !== undefined);
// The peer: the fastest torchvision configuration measured here (its best reachable on this machine).
const peer = torchRows.reduce((best, row) => (best === undefined || row.imagesPerSecond > best.imagesPerSecond ? row : best), undefined);
const single = torchRows.find((r) => r.id === 'torchvision-1');
const loader = torchRows.find((r) => r.id === 'torchvision-dataloader-2');
const ratio = (value, row) => (row === undefined ? null : value / row.imagesPerSecond);
const rows = [
  ...convkitVariants.map((v) => ({ system: 'convkit', id: v.id, variant: v.variant, ...summary(v.id) })),
  ...torchRows,
].map((row) => ({
  ...row,
  ratioToPeer: ratio(row.imagesPerSecond, peer),
  ratioToTorchvision1Thread: ratio(row.imagesPerSecond, single),
  ratioToTorchvisionDataLoader2: ratio(row.imagesPerSecond, loader),
  // Work per image, whatever the other load on the machine: the peer's CPU time per image over this row's.
  cpuEfficiencyToPeer: peer === undefined ? null : peer.cpuMsPerImage / row.cpuMsPerImage,
}));

const fmt = (value) => (value === null || value === undefined ? '  n/a' : value.toFixed(2).padStart(5));
console.log(`${'system'.padEnd(12)} ${'variant'.padEnd(66)} ${'img/s'.padStart(7)}  vs 1-thread  vs DataLoader(2)  CPU ms/img`);
for (const row of rows) {
  console.log(
    `${row.system.padEnd(12)} ${row.variant.padEnd(66)} ${row.imagesPerSecond.toFixed(1).padStart(7)}  ${fmt(row.ratioToTorchvision1Thread)}×       ${fmt(row.ratioToTorchvisionDataLoader2)}×          ${row.cpuMsPerImage.toFixed(2)}`
  );
}
console.log(`peer: ${peer?.id ?? 'none'}; load average (1 min) per round: ${loads.map((l) => l.toFixed(2)).join(', ')}`);

const stages = await profileStages(files.slice(0, 16), transform);
const cpuModel = cpus()[0]?.model ?? 'unknown';
const result = {
  date: new Date().toISOString(),
  command: 'nice -n 10 npm run bench -w @convkit/augment',
  node: process.version,
  cores: cpus().length,
  cpuModel,
  loadAverage1MinPerRound: loads,
  loadAverageAtEnd: loadavg(),
  sharp: sharp.versions.sharp,
  libvips: sharp.versions.vips,
  sharpConcurrency: sharp.concurrency(),
  sharpCache: 'off',
  uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
  ...torchVersions,
  images: COUNT,
  passes: PASSES,
  rounds: ROUNDS,
  batch: BATCH,
  size: '500x500 JPEG q90 -> 224',
  decodesEveryEpoch: 'every row except "cache"',
  peer: peer?.id ?? null,
  peerWhy: 'the fastest torchvision configuration measured in this run (its best reachable on this machine)',
  rows,
  stagesMsPerImage: stages,
};
const outFile = process.env.AUGMENT_BENCH_OUT ?? join(root, 'results/bench/augment.json');
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
rmSync(dir, { recursive: true, force: true });
