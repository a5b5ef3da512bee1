// Benchmark: decode a 500×500 JPEG → random resized crop 224 → flip → rotate ±15° → colour jitter → float
// tensor, in images/s, convkit (sharp + fused JS warp) against torchvision on PIL, same images, same run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@convkit/core';
import { colorJitter, compose, horizontalFlip, imagePipeline, imagesToTensor, randomResizedCrop, rotate } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const COUNT = Number(process.env.AUGMENT_BENCH_IMAGES ?? 48);
const PASSES = Number(process.env.AUGMENT_BENCH_PASSES ?? 3);
const BATCH = 16;

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

await tf.setBackend('cpu');
const transform = compose([
  randomResizedCrop({ width: 224, height: 224 }),
  horizontalFlip(),
  rotate({ degrees: 15 }),
  colorJitter({ brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.05 }),
]);

async function measure(options) {
  const pipeline = imagePipeline({ transform, ...options });
  const rng = new Rng(0);
  const epoch = async () => {
    for (let i = 0; i < files.length; i += BATCH) {
      const { images } = await pipeline.run(files.slice(i, i + BATCH), rng);
      imagesToTensor(images).dispose();
    }
  };
  await epoch(); // warm-up (and fills the cache when on)
  const start = performance.now();
  for (let p = 0; p < PASSES; p++) await epoch();
  return (files.length * PASSES) / ((performance.now() - start) / 1000);
}

const python = process.env.PYTHON ?? '/usr/bin/python3';
let torchvision;
try {
  torchvision = JSON.parse(execFileSync(python, [join(dirname(fileURLToPath(import.meta.url)), 'torchvision_bench.py'), ...files, String(PASSES)], { encoding: 'utf8' }).trim().split('\n').pop());
} catch (error) {
  console.error(`torchvision benchmark failed: ${error.message}`);
}
const rows = [];
for (const [label, options] of [
  ['sharp, 1 in flight, no shrink-on-load', { concurrency: 1, shrinkOnLoad: false }],
  ['sharp, 4 in flight, shrink-on-load', { concurrency: 4 }],
  ['decoded-image cache (decode once)', { cache: true }],
]) {
  const imagesPerSecond = await measure(options);
  rows.push({ system: 'convkit', variant: label, imagesPerSecond, ratioToTorchvision: torchvision ? imagesPerSecond / torchvision.imagesPerSecond : null });
}
if (torchvision) rows.push({ system: 'torchvision', variant: `${torchvision.torchvision} on PIL, 1 process, 1 thread`, imagesPerSecond: torchvision.imagesPerSecond, ratioToTorchvision: 1 });
for (const row of rows) console.log(`${row.system.padEnd(12)} ${row.variant.padEnd(42)} ${row.imagesPerSecond.toFixed(1).padStart(7)} img/s  ratio ${row.ratioToTorchvision?.toFixed(2) ?? 'n/a'}`);
const result = { date: new Date().toISOString(), node: process.version, cores: cpus().length, sharpConcurrency: sharp.concurrency(), uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4', images: COUNT, passes: PASSES, size: '500x500 JPEG q90 -> 224', rows };
mkdirSync(join(root, 'results/bench'), { recursive: true });
writeFileSync(join(root, 'results/bench/augment.json'), JSON.stringify(result, null, 2) + '\n');
