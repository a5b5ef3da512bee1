// Benchmark: peak resident memory of pseudoLabel over an image folder loaded into memory (loadImageFolder) against the
// same folder streamed per batch (streamImageFolder), for growing image counts. Each run is its own process, so one
// run's memory does not count in another's. Generates 128×128 PNGs in a temporary folder; writes
// results/bench/pseudolabel-streaming.json. Run it under nice on a shared machine (build first: npx tsc -b .):
//   nice -n 10 node packages/pseudolabel/bench/streaming-memory.mjs            # 1000,4000 images
//   PSEUDO_BENCH_COUNTS=1000,4000,16000 nice -n 10 node packages/pseudolabel/bench/streaming-memory.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const SIZE = 128;
const BATCH = 64;
const work = join(tmpdir(), 'convkit-pseudolabel-bench');

async function writeFolder(dir, count) {
  const sharp = (await import('sharp')).default;
  for (const c of ['a', 'b']) await mkdir(join(dir, c), { recursive: true });
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(SIZE * SIZE * 3);
    for (let j = 0; j < pixels.length; j++) pixels[j] = ((j + i * 7919) * 2654435761) >>> 24;
    const file = join(dir, i % 2 ? 'b' : 'a', `${String(i).padStart(6, '0')}.png`);
    await sharp(pixels, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png({ compressionLevel: 1 }).toFile(file);
  }
}

/** One measurement, in this process: pseudo-labels every image of `dir` with a tiny model, sampling the RSS. */
async function child(kind, dir) {
  const tf = await import('@tensorflow/tfjs');
  const { loadImageFolder, streamImageFolder } = await import('@convkit/data');
  const { pseudoLabel } = await import('@convkit/pseudolabel');
  await tf.setBackend('cpu');
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const started = performance.now();
  const options = { size: [SIZE, SIZE], log: false };
  const data = kind === 'inMemory' ? await loadImageFolder(dir, options) : await streamImageFolder(dir, options);
  const model = (x) => tf.tidy(() => x.mean([1, 2]).slice([0, 0], [-1, 2]).mul(20));
  const pseudo = await pseudoLabel(model, data, { threshold: 0.5, batchSize: BATCH });
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const MB = 2 ** 20;
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ kind, images: data.length, kept: pseudo.summary.kept, startMB: Math.round(before / MB), peakMB: Math.round(peak / MB), seconds: Number(seconds.toFixed(1)) }));
}

if (process.argv[2] === 'child') {
  await child(process.argv[3], process.argv[4]);
} else {
  const counts = (process.env.PSEUDO_BENCH_COUNTS ?? '1000,4000').split(',').map(Number);
  const runs = [];
  for (const count of counts) {
    const dir = join(work, String(count));
    if (!existsSync(dir)) await writeFolder(dir, count);
    for (const kind of ['inMemory', 'streaming']) {
      const line = execFileSync(process.execPath, [here, 'child', kind, dir], { encoding: 'utf8' }).trim().split('\n').at(-1);
      runs.push(JSON.parse(line));
      console.log(line);
    }
  }
  const out = join(dirname(here), '../../../results/bench/pseudolabel-streaming.json');
  mkdirSync(dirname(out), { recursive: true });
  const machine = { cpus: cpus().length, loadavg: loadavg().map((v) => Number(v.toFixed(1))), node: process.version };
  writeFileSync(out, `${JSON.stringify({ bench: 'pseudoLabel over an image folder: in memory vs streaming', size: SIZE, batchSize: BATCH, machine, runs }, null, 2)}\n`);
  rmSync(work, { recursive: true, force: true });
  console.log(`wrote ${out}`);
}
